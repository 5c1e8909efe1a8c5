"""What the CLI shows around a command's output: the consoles for standard output and
error, notes on stderr (skipped lines and estimators).

Rich is imported where used: JSON and CSV output need none of it.
"""

from __future__ import annotations

import sys
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
