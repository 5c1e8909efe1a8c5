"""How far a long read has got, told by the library and shown (or not) by a front end.

The library calls :func:`advance` as it goes (files whose columns are read, bytes searched,
the pass begun); it shows nothing and knows no terminal. A front end that wants to show
progress sets a reporter for a block with :func:`reporting` (a context variable, as
:func:`~grpoflaw_cli.errors.spelled_as` is); outside one, :func:`advance` does nothing.

>>> seen = []
>>> with reporting(lambda phase, done, total: seen.append((phase, done, total))):
...     advance("reading", 1, 2)
>>> advance("reading", 2, 2)  # no reporter: nothing
>>> seen
[('reading', 1, 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Reporter = Callable[[str, int, "int | None"], None]
"""Called with a phase's name, how much of it is done and its total (``None``: unknown)."""

_REPORTER: ContextVar[Reporter | None] = ContextVar("grpoflaw_progress", default=None)


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Send the progress the library tells within this block to ``reporter``."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def advance(phase: str, done: int, total: int | None = None) -> None:
    """Tell the front end (if one listens) that ``done`` of ``total`` of ``phase`` is done."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(phase, done, total)
