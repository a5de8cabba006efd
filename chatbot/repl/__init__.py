"""The terminal front end: the prompt, its slash commands and the loop around a session.

:func:`~chatbot.repl.startup.build_chat` is its entry point; the session it drives is
built by :mod:`chatbot.engine`, exactly as the web front end builds its own.
"""
