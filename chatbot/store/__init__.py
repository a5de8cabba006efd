"""The SQLite store: conversations, their messages and files, search, cache and export.

:class:`~chatbot.store.database.Store` is the contract; the conversation writes to it
through :class:`~chatbot.store.store_journal.StoreJournal`.
"""
