"""Keeping the message catalogues in step with the code: extract, merge, check, compile."""
