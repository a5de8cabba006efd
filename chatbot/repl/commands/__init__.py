"""repl/commands"""
