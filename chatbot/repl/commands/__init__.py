"""The slash commands of the chat: a registry (:mod:`.registry`) and one module per family."""
