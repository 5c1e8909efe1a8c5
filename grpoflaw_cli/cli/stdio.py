"""The process's own standard streams, made safe for a command-line tool.

:func:`prepare` runs first in the ``grpoflaw`` process (never in a library caller's):

* a closed standard stream (``>&-``) is held open on ``/dev/null``, so no file the run
  opens can take its number and receive its output; writing to a closed standard output
  still fails, with a message;
* writing to a reader that has gone (``| head -1``) ends the process quietly, as the
  signal SIGPIPE ends Unix tools;
* a failed write to standard output (a full disk, a closed stream) is a
  :class:`~grpoflaw_cli.errors.UsageError`: "cannot write to standard output: …";
* a character the terminal's encoding cannot show (``PYTHONIOENCODING=ascii``) prints
  as ``?`` instead of failing.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import sys
from typing import IO

from grpoflaw_cli.errors import UsageError

STDOUT = "to standard output"


class _Stdout(io.TextIOWrapper):
    """Standard output whose failed writes are :class:`UsageError`\\ s."""

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except OSError as exc:
            raise stdout_error(exc) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as exc:
            raise stdout_error(exc) from None


def stdout_error(exc: OSError) -> UsageError:
    """The message for a failed write to standard output. Standard output then points to
    ``/dev/null``, so the interpreter's last flush cannot fail a second time."""
    _silence(1)
    if exc.errno == errno.EBADF:
        reason, hint = "it is closed", "run grpoflaw with its standard output open (not >&-)"
    else:
        reason = exc.strerror or str(exc)
        hint = "redirect the output to a file on a disk with space"
    return UsageError(f"cannot write {STDOUT}: {reason}", hint=hint)


def _silence(fd: int) -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


def _hold_closed(fd: int) -> None:
    """A closed ``fd`` is held on ``/dev/null`` (read-only for stdin and stdout, so
    writing to a closed standard output still fails, with EBADF)."""
    try:
        os.fstat(fd)
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY if fd == 2 else os.O_RDONLY)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)


def prepare() -> None:
    """Make the standard streams safe (see the module's docstring)."""
    for fd in (0, 1, 2):
        _hold_closed(fd)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 (the process's own)
    old = sys.stdout
    if isinstance(old, io.TextIOWrapper):
        old.flush()
        encoding, line_buffering = old.encoding, old.line_buffering
        raw: IO[bytes] = old.detach()
    else:  # closed at start (None), or replaced by the caller: the process's own fd 1
        encoding, line_buffering = "utf-8", False
        raw = open(1, "wb", closefd=False)  # noqa: SIM115
    sys.stdout = _Stdout(
        raw,
        encoding=encoding,
        errors="replace",
        line_buffering=line_buffering,
    )


def flush() -> None:
    """Flush standard output (a :class:`UsageError` if it cannot be written)."""
    stream = sys.stdout
    if stream is not None:
        try:
            stream.flush()
        except OSError as exc:  # a stream not set up by prepare()
            raise stdout_error(exc) from None
