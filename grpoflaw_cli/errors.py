"""Typed errors carrying a fix hint, and the exit codes of the CLI.

The library raises these; only :mod:`grpoflaw_cli.cli` turns them into a message
and an exit code.

>>> err = InputError("reward column 'score' is text", hint="pass --reward-col NAME")
>>> err.exit_code
<ExitCode.BAD_INPUT: 2>
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (documented in the README)."""

    OK = 0
    """The run completed; no flag at or above ``--fail-on``."""
    FLAGS = 1
    """The run completed and raised a flag at or above ``--fail-on``."""
    BAD_INPUT = 2
    """Bad input or usage: missing file, unknown column, malformed line, bad flag."""
    INTERNAL = 3
    """A bug in grpoflaw. Re-run with ``--traceback`` and report it."""


class GrpoflawError(Exception):
    """Base class: a message for the user and, where there is one, how to fix it."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nHint: {self.hint}"


class InputError(GrpoflawError):
    """The log cannot be read or does not hold what is needed (file, line, column)."""


class UsageError(GrpoflawError):
    """Flags that contradict each other or name something that does not exist."""


def quoted(value: object, most: int = 80) -> str:
    """A value for a message: its ``repr``, cut to ``most`` characters (a log's value may
    be a whole response, megabytes long).

    >>> quoted("x" * 100, most=12)
    "'xxxxxxxx…'"
    """
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "…" + text[-1]
