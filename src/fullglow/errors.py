"""Errors that mean "the user gave something wrong", shown by the CLI without a traceback."""


class UserInputError(ValueError):
    """A user mistake (bad path, bad size, mismatched files): the message says what and where.

    Subclasses `ValueError` so that library callers can catch it as the standard error for bad
    values; the command line prints its message and exits with status 2 instead of a traceback.
    """
