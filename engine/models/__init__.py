"""Models: reading GGUF files, the workspace's model library, and running them with llama.cpp."""
