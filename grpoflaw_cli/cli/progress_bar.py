"""The progress bar on stderr while a long log is read: files and bytes read, then the
pass, as the library tells them (:mod:`grpoflaw_cli.progress`).

Shown only on a terminal, and only once the work has taken :data:`SHOW_AFTER` seconds: a
quick run, a script and a pipe see nothing. It is transient (gone when the work is done),
and never on stdout. Polars releases the GIL while it reads, so Rich's refresh thread keeps
the bar alive through a pass that is one native call.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from grpoflaw_cli import progress

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

SHOW_AFTER = 2.0
"""Seconds of work after which the bar appears."""


def shows_progress(is_terminal: bool, elapsed: float, done: bool) -> bool:
    """Should the bar be on screen now? Only on a terminal, once the work has taken
    :data:`SHOW_AFTER` seconds, and not once it is done.

    >>> shows_progress(True, 2.5, False), shows_progress(False, 60.0, False)
    (True, False)
    >>> shows_progress(True, 0.5, False), shows_progress(True, 2.5, True)
    (False, False)
    """
    return is_terminal and not done and elapsed >= SHOW_AFTER


@contextmanager
def progress_shown(enabled: bool = True) -> Iterator[None]:
    """Show the library's progress within this block on stderr, if
    :func:`shows_progress` says so. Nothing at all is set up when stderr is no terminal."""
    if not (enabled and sys.stderr.isatty()):
        yield
        return
    bar = _Bar()
    timer = threading.Timer(SHOW_AFTER, bar.show)
    timer.daemon = True
    timer.start()
    try:
        with progress.reporting(bar.report):
            yield
    finally:
        timer.cancel()
        bar.close()


class _Bar:
    """A Rich progress display, built lazily and started (from the timer) only if still
    wanted; one row per phase the library reports, the earlier ones marked done."""

    def __init__(self, console: Console | None = None) -> None:
        import time

        self._console = console
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._done = False
        self._live = False
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._totals: dict[str, int | None] = {}

    def _display(self) -> Progress:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self._console or Console(stderr=True, markup=False, highlight=False),
                transient=True,
            )
        return self._progress

    def report(self, phase: str, done: int, total: int | None) -> None:
        with self._lock:
            bar = self._display()
            task = self._tasks.get(phase)
            if task is None:
                for earlier, size in self._totals.items():  # a new phase: the others are over
                    bar.update(self._tasks[earlier], total=size or 1, completed=size or 1)
                task = self._tasks[phase] = bar.add_task(phase, total=total)
            self._totals[phase] = total
            bar.update(task, completed=done, total=total)

    def show(self) -> None:
        import time

        with self._lock:
            if shows_progress(True, time.monotonic() - self._started, self._done):
                self._display().start()
                self._live = True

    def close(self) -> None:
        with self._lock:
            self._done = True
            if self._live and self._progress is not None:
                self._progress.stop()
                self._live = False
