"""Tools the model may call, with the user in control: MCP servers and a shell.

Nothing heavy is imported here: the MCP SDK (about a second to import) is only
loaded when ``config.toml`` names MCP servers, and then off the prompt's path.
"""
