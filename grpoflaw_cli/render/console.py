"""The consoles the CLI prints on: every string they are given is made printable first.

Renderers make the report's strings printable themselves (a table measures its cells);
this catches the rest: messages quoting a path or a value, on stderr or stdout.

>>> import io
>>> out = io.StringIO()
>>> SafeConsole(file=out, markup=False, color_system=None).print("run\\x1b[31m.jsonl")
>>> out.getvalue()
'run\\\\x1b[31m.jsonl\\n'
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from grpoflaw_cli.textsafe import printable


class SafeConsole(Console):
    """A Rich console whose ``print`` shows control characters in strings as escapes."""

    def print(self, *objects: Any, **options: Any) -> None:
        shown = (printable(o) if isinstance(o, str) else o for o in objects)
        super().print(*shown, **options)
