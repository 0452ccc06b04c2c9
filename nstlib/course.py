"""Course plumbing: the CI-mode switch and showing library code inside a chapter."""

from __future__ import annotations

import inspect
import os
from typing import Any, TypeVar

T = TypeVar("T")

#: CI mode: set NSTLIB_FAST=1 (the tests do) for small images and few steps.
FAST = os.environ.get("NSTLIB_FAST", "0").lower() not in ("", "0", "false", "no")


def pick(full: T, fast: T) -> T:
    """`fast` in CI mode, else `full`: the one place a chapter's budget changes."""
    return fast if FAST else full


def show_source(obj: Any):
    """Show a library object's source as highlighted code (a chapter teaches by reading it)."""
    from IPython.display import Markdown

    return Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```")
