"""The data formats: reports as JSON text, the per-iteration table as CSV.

What the commands print as JSON and CSV, and what
:meth:`grpoflaw_cli.api.Comparison.to_json` and ``to_csv`` return: one place, so the
CLI and the API give the same bytes.

>>> print(json_text({"rows": 14}), end="")
{
  "rows": 14
}
>>> print(iterations_csv({"iterations": [{"step": 1, "flags": ["a", "b"]}]}), end="")
step,flags
1,a;b
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def json_text(data: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``data`` as indented JSON, one trailing newline (``default`` as in ``json.dumps``:
    how to write a value JSON has no type for)."""
    return json.dumps(data, indent=2, default=default) + "\n"


def report_json(report: dict[str, Any]) -> str:
    """The compare report (:func:`grpoflaw_cli.result.build_report`) as JSON text."""
    return json_text(report)


def iterations_csv(report: dict[str, Any]) -> str:
    """The report's per-iteration table as CSV text, a row's flags joined by ';'."""
    import polars as pl

    rows = [{**r, "flags": ";".join(r["flags"])} for r in report["iterations"]]
    # every row decides a column's type (a scale that is None for the first 100 iterations)
    return pl.DataFrame(rows, infer_schema_length=None).write_csv()
