"""Which server a run talks to, as one object: remote, Ollama, or our embedded llama.cpp.

A :class:`~chatbot.servers.server.Server` owns the base URL, the backend, the models
it offers, the context window it really serves, switching model and closing.
"""
