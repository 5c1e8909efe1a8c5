"""What the CLI shows around a command's output: the consoles for standard output and
error, notes on stderr (skipped lines and estimators) and the progress spinner.

Rich is imported where used: JSON and CSV output need none of it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from grpoflaw_cli.formatting import count

if TYPE_CHECKING:
    from rich.console import Console


def stderr() -> Console:
    """Messages on stderr; never hard-wrapped, so each stays one greppable line. Markup
    only where a call asks for it, around :func:`plain` user text. Control characters
    in the strings printed (a path's newline or ESC) show as escapes: one line each."""
    from grpoflaw_cli.render.console import SafeConsole

    return SafeConsole(stderr=True, highlight=False, soft_wrap=True, markup=False)


def screen() -> Console:
    """The console for the rendered screens on stdout. Markup off: the renderables style
    with Text, and a log's own text (a prompt holding "[/INST]", a column named "[x]")
    must print as written, not be read as markup (nor as escape sequences: the renderers
    and :class:`~grpoflaw_cli.render.console.SafeConsole` show control characters)."""
    from grpoflaw_cli.render.console import SafeConsole

    return SafeConsole(markup=False)


def plain(text: object) -> str:
    """User text (paths, values, messages quoting them) made safe inside a markup line:
    markup escaped, control characters shown as escapes."""
    from rich.markup import escape

    from grpoflaw_cli.textsafe import printable

    return escape(printable(str(text)))


def shown_data(text: str) -> str:
    """Data text (CSV) for stdout: as it is when piped or redirected; on a terminal, as
    ``ls`` shows file names, the values' control characters written as escapes."""
    from grpoflaw_cli.textsafe import printable_csv

    return printable_csv(text) if sys.stdout.isatty() else text


def report_skipped(log: Any) -> None:
    """Say on stderr how many malformed lines --skip-bad-lines skipped, and where, and
    what else was read in a way the user may not expect (a column named twice)."""
    for warning in log.warnings:
        stderr().print(f"Warning: {warning}", markup=False, highlight=False)
    for path, lines in log.skipped_lines:
        shown = ", ".join(map(str, lines[:10])) + (" …" if len(lines) > 10 else "")
        stderr().print(
            f"[yellow]Skipped {count(len(lines), 'malformed line')}[/yellow] in '{plain(path)}': "
            f"line {shown}",
            markup=True,
            highlight=False,
        )


def note_skipped(skipped: dict[str, str], explicit: bool) -> None:
    """Estimators the user named but the log cannot feed: one line each on stderr."""
    if explicit:
        for name, why in skipped.items():
            stderr().print(
                f"[yellow]Skipped estimator {plain(name)}:[/yellow] {plain(why)}", markup=True
            )


PROGRESS_MIN_BYTES = 20_000_000
"""Logs at least this large get a progress indicator on stderr (when it is a terminal)."""


@contextmanager
def reading(log: Any, enabled: bool = True) -> Iterator[None]:
    """A transient spinner with elapsed time on stderr while a large log is read.

    Only when stderr is a terminal and the log is large; never on stdout. Polars releases
    the GIL while it reads, so Rich's refresh thread keeps the display alive.
    """
    files = log.detection.files
    size = sum(f.stat().st_size for f in files if f.exists())
    if not (enabled and sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES):
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    label = f"reading {len(files):,} file{'s' * (len(files) > 1)} ({size / 1e6:,.0f} MB)"
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True, markup=False),
        transient=True,
    ) as progress:
        progress.add_task(label, total=None)
        yield
