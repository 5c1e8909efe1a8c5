"""The ``grpoflaw inspect`` screen. Rich only: inspect stays quick to start.

>>> from rich.console import Console
>>> console = Console(width=40, color_system=None)
>>> with console.capture() as shown:
...     console.print(render_inspect({"facts": {"rows": 14}, "reasons": ["step: 'step'"]}))
>>> print(shown.get().rstrip())
╭─ grpoflaw inspect ───────────────────╮
│ rows  14                             │
╰──────────────────────────────────────╯
How the columns were chosen:
• step: 'step'
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grpoflaw_cli.formatting import num
from grpoflaw_cli.textsafe import printable_tree


def render_inspect(info: dict[str, Any]) -> RenderableType:
    """What ingest detected and why; the log's names shown printable (no escape codes)."""
    info = printable_tree(info)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    for key, value in info["facts"].items():
        shown = num(value) if isinstance(value, int) and not isinstance(value, bool) else value
        table.add_row(key, str(shown))  # counts as everywhere: 10,233
    reasons = Text("\n".join(f"• {r}" for r in info["reasons"]))
    return Group(
        Panel(table, title="grpoflaw inspect", title_align="left", border_style="blue"),
        Text("How the columns were chosen:", style="bold"),
        reasons,
    )
