"""Fine-tuning: turning a GGUF into something trainable, and a trained LoRA back into GGUF."""
