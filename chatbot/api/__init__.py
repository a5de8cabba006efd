"""The OpenAI-compatible wire: requests out, stream events in, errors in words.

Its contract is :class:`~chatbot.api.events.ChatBackend`: the HTTP client
(:mod:`chatbot.api.client`) implements it over SSE, and the scripted backend
(:mod:`chatbot.api.scripted`) from a script, for tests. It knows nothing of who runs
the server: that is :mod:`chatbot.servers`.
"""
