"""Setting up a run, for any front end: plan (pure), open the server, build the session.

The terminal (:mod:`chatbot.app`) and the web chat call the same three steps.
"""
