"""What the user asked for: flags, environment, ``.env``, personas and ``config.toml``.

Everything here is read and checked, never learned at run time: what a run finds
out (a server, a real context window) lives on :class:`chatbot.servers.Server`.
"""
