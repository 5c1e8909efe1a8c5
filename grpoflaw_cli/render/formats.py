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
    """The compare report (:func:`grpoflaw_cli.result.build_report`) as JSON text: the
    bytes :func:`json_text` writes, encoded a batch at a time (:func:`_many`), its tables
    (a list that carries its ``frame``) a column at a time."""
    return _many([report], 0)[0] + "\n"


_ENCODE = json.JSONEncoder().encode  # no indent: the C encoder
_SCALARS = frozenset({int, float, bool, type(None)})
_TEXTS = frozenset({str})
_FLOAT = frozenset({float})
_POLARS_FLOATS = 256
"""From how many floats a batch is written by Polars (:func:`_floats_text`)."""


def _many(values: list[Any], level: int) -> list[str]:
    """Each of ``values`` as ``json.dumps(value, indent=2)`` writes it at nesting
    ``level``, encoded by kind rather than one by one: numbers in one call of the C
    encoder, dicts of the same keys a key at a time, lists flattened into one batch."""
    kinds = {type(v) for v in values}
    if kinds == _FLOAT and len(values) >= _POLARS_FLOATS:  # floats alone: by Polars
        import polars as pl

        return list(_floats_text(pl.Series(values, dtype=pl.Float64)))
    if kinds <= _SCALARS:  # numbers, bools, nulls: one call of the C encoder
        return _ENCODE(values)[1:-1].split(", ") if values else []
    if kinds <= _SCALARS | _TEXTS:  # strings among them: the C encoder, each
        return list(map(_ENCODE, values))
    if all(isinstance(v, (list, tuple)) for v in values):
        return _lists(values, level)
    if all(isinstance(v, dict) for v in values):
        return _dicts(values, level)
    if len(values) == 1:  # anything else: the C encoder says what it cannot write
        return [_ENCODE(values[0])]
    return [_many([v], level)[0] for v in values]  # a mix of kinds: each alone


def _table(value: Any) -> Any:
    """The frame a list was made from, when it still holds exactly its rows, or None."""
    frame = getattr(value, "frame", None)
    return frame if frame is not None and frame.width and frame.height == len(value) else None


def _lists(values: list[Any], level: int) -> list[str]:
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    sep, out = "," + inner, []
    tables = [_table(v) for v in values]
    flat = _many(
        [x for v, t in zip(values, tables, strict=True) if t is None for x in v], level + 1
    )
    at = 0
    for v, table in zip(values, tables, strict=True):
        if not v:
            out.append("[]")
        elif table is not None:
            out.append("[" + inner + sep.join(_frame_rows(table, level + 1)) + outer + "]")
        else:
            out.append("[" + inner + sep.join(flat[at : at + len(v)]) + outer + "]")
            at += len(v)
    return out


def _dicts(values: list[dict[Any, Any]], level: int) -> list[str]:
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    sep = "," + inner
    out = [""] * len(values)
    shapes: dict[tuple[Any, ...], list[int]] = {}
    for i, v in enumerate(values):
        shapes.setdefault(tuple(v), []).append(i)
    for keys, which in shapes.items():
        if not keys:
            for i in which:
                out[i] = "{}"
            continue
        columns = [
            map((_key(k) + ": ").__add__, _many([values[i][k] for i in which], level + 1))
            for k in keys
        ]
        for i, parts in zip(which, zip(*columns, strict=True), strict=True):
            out[i] = "{" + inner + sep.join(parts) + outer + "}"
    return out


def _key(key: Any) -> str:
    """A dict key as ``json`` writes it (a number, a bool or None as its text, quoted)."""
    return _ENCODE(key) if type(key) is str else json.dumps({key: 0})[1:-4]


def _frame_rows(frame: Any, level: int) -> list[str]:
    """Each row of ``frame`` as the JSON object ``json`` writes at nesting ``level``,
    built a column at a time: every column encoded once, the rows concatenated by Polars."""
    import polars as pl

    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    parts: list[Any] = []
    for i, (name, column) in enumerate(frame.to_dict().items()):
        parts.append(pl.lit(("{" if i == 0 else ",") + inner + _key(name) + ": "))
        parts.append(pl.lit(_column_text(column, level + 1)))
    parts.append(pl.lit(outer + "}"))
    return pl.select(pl.concat_str(parts)).to_series().to_list()


def _column_text(column: Any, level: int) -> Any:
    """A column's values as JSON text (a String Series), as ``json`` writes each."""
    import polars as pl

    dtype = column.dtype
    if dtype.is_integer() or dtype == pl.Boolean:  # Polars writes them as JSON does
        return column.cast(pl.String).fill_null("null")
    if dtype.is_float():
        return _floats_text(column.cast(pl.Float64))
    return pl.Series(_many(column.to_list(), level), dtype=pl.String)


def _floats_text(column: Any) -> Any:
    """A Float64 Series as ``json`` writes each value (``repr``; ``null`` for a null), as a
    String Series. Polars writes the same shortest round-trip digits, in the same form, for
    0 and 1e-4 ≤ |x| < 1e16 (where ``repr`` uses no exponent; checked on millions of
    values, and by a test), six times faster; the rest (``1e-05``, ``1e+16``, NaN,
    infinities), which Polars writes otherwise, go through ``json``'s encoder."""
    import polars as pl

    size = column.abs()
    other = column.is_not_null() & ~(((size >= 1e-4) & (size < 1e16)) | (column == 0))
    text = column.cast(pl.String)
    if other.any():
        where = other.arg_true()
        text = text.scatter(where, _ENCODE(column.gather(where).to_list())[1:-1].split(", "))
    return text.fill_null("null")


def iterations_csv(report: dict[str, Any]) -> str:
    """The report's per-iteration table as CSV text, a row's flags joined by ';'."""
    import polars as pl

    table = _table(report["iterations"])
    if table is not None:  # the frame the rows came from: no row made again
        return str(table.with_columns(pl.col("flags").list.join(";")).write_csv())
    rows = [{**r, "flags": ";".join(r["flags"])} for r in report["iterations"]]
    # every row decides a column's type (a scale that is None for the first 100 iterations)
    return pl.DataFrame(rows, infer_schema_length=None).write_csv()
