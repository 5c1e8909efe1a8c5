"""The ``grpoflaw estimators`` table: the catalogue, one row per estimator. Rich only.

>>> from rich.console import Console
>>> console = Console(width=200, color_system=None)
>>> with console.capture() as shown:
...     console.print(render_estimators())
>>> "grpo_loo" in shown.get()
True
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text


def render_estimators() -> Table:
    """The registered estimators, what each does to reward magnitude, and their formulas
    (the first paragraph of each function's docstring)."""
    from grpoflaw_cli.estimators import REGISTRY

    table = Table(header_style="bold")
    table.add_column("name")
    table.add_column("estimator")
    table.add_column("keeps magnitude")
    table.add_column("definition")
    for est in REGISTRY.values():
        summary = (est.fn.__doc__ or "").strip().split("\n\n")[0]
        doc = Text(" ".join(summary.split()).replace("``", ""))
        if est.row_variable is not None:
            doc.append(
                " (a second pass over the rows: computed on request, or on the logs of a "
                "trainer whose default it is)",
                style="dim",
            )
        elif not est.by_default:
            doc.append(" (a framework variant: on request)", style="dim")
        table.add_row(est.name, est.title, est.keeps, doc)
    return table
