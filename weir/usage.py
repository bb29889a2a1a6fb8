"""The user's mistakes, as against weir's own: what the command line reports in one line.

`UsageError` (a ValueError, so code that catches ValueError still does) is raised for what
the user asked wrongly: a flag, a value, a path, the state of their home. Exception classes
defined in layers below this one say the same with a `usage_error = True` attribute
(sitetime's UnknownZone). The command line prints these in one line with exit 2; any other
exception is a bug in weir, reported as one (weir.cli).
"""

from __future__ import annotations


class UsageError(ValueError):
    """A mistake in what the user asked: one line, exit 2."""

    usage_error = True


def is_usage_error(exc: BaseException) -> bool:
    """Whether `exc` is the user's (or their machine's: a file they named that is not there)."""
    return bool(getattr(exc, "usage_error", False)) or isinstance(exc, (FileNotFoundError, NotADirectoryError))
