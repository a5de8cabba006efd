"""Models for ``--local``: the short names we recommend, the hub cache, and ``chatbot pull``.

Nothing here imports ``huggingface_hub`` except :mod:`chatbot.models.pull`, which
only ``chatbot pull`` loads: listing and choosing pulled models reads the cache's
folders directly, so it costs nothing at start-up.
"""
