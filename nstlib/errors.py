"""The one exception type nstlib raises for bad input, so callers can show a one-line message."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class NSTError(ValueError):
    """Bad input or a failed run, with a one-line message that says what to do."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors: the message and the way to help, no usage block (exit code 2)."""

    def error(self, message: str) -> None:
        """Print `error: MESSAGE (see PROG --help)` on stderr and exit 2."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def check_choice(what: str, value: T, choices: Sequence[T]) -> T:
    """Return `value` if it is one of `choices`, else raise a one-line NSTError listing them."""
    if value not in choices:
        raise NSTError(f"unknown {what} {value!r}; choose one of {', '.join(map(str, choices))}")
    return value


def check_count(what: str, value: int, minimum: int = 0) -> int:
    """Return `value` if it is a whole number >= `minimum`, else raise a one-line NSTError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise NSTError(f"{what} must be a whole number >= {minimum}, got {value!r}")
    return value
