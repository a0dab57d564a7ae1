"""Level 4: fine-tuning — datasets, LoRA training jobs that run on after the window closes, the
live loss chart, and attaching an adapter to the assistant beside the chat.

``page`` is the rung's page, put together from its sections, each in a module of its own:
``data`` (the training data and its token counts), ``training`` (the settings, the memory
check and starting a job) and ``jobs`` (following the jobs and their loss); ``compare`` is the
base-against-adapter dialog.
"""
