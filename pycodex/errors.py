"""Errors that reach the user as one clear line and exit status 2 (never a traceback)."""


class UserError(Exception):
    """Bad input from the user: a file, a flag, an id. The message is the whole story."""

    exit_code = 2
