"""chatbot: a fast, reliable terminal chat client for any OpenAI-compatible API."""

__all__ = ["__version__"]

__version__ = "0.1.0"
