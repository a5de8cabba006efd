"""The command line: arguments in, typed options out, one line per error."""

from chatbot.cli.main import main

__all__ = ["main"]
