"""The one exception type nstlib raises for bad input, so callers can show a one-line message."""


class NSTError(ValueError):
    """Bad input or a failed run, with a one-line message that says what to do."""
