"""The live conversation: persona, history fitted to the budget, turns, retries, usage.

:class:`~chatbot.conversation.session.ChatSession` is the contract the front ends
(the terminal and the web) drive; it talks to the network only through a
:class:`~chatbot.api.events.ChatBackend`, and to storage only through a
:class:`~chatbot.conversation.journal.Journal`.
"""
