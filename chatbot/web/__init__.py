"""The web chat (``chatbot serve``): the same engine as the terminal, behind a page."""
