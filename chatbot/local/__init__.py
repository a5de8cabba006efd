"""The embedded llama.cpp server and the local GGUF models it runs (``--local``, ``chatbot pull``).

Nothing here imports ``huggingface_hub`` except :mod:`chatbot.local.pull`, which
only ``chatbot pull`` loads: listing and choosing pulled models reads the cache's
folders directly, so it costs nothing at start-up.
"""
