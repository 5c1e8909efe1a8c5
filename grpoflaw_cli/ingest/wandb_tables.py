"""W&B table exports: a ``*.table.json`` file, as ``wandb.Table`` writes one (a JSON
object with ``columns``, the names, and ``data``, one list of values per row), read as a
log. TRL's ``completions`` table (``trl/trainer/grpo_trainer.py``: ``step`` as text,
``prompt``, ``completion``, one column per reward function, ``advantage``) is then
recognized by its columns, like its Parquet files. A folder of them (W&B's
``media/table/completions_{step}_{hash}.table.json``) reads as a run.

The table is parsed once (W&B caps a table at 200,000 rows) and stored as a Parquet copy
in the process's temporary folder, which the scans read: everything after this module
sees a Parquet file.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "completions_3_ab12.table.json"
>>> _ = path.write_text('{"_type": "table", "columns": ["step", "prompt", "acc"],'
...                     ' "data": [["3", "p", 1], ["3", "p", 0.5], ["3", "p", NaN]]}')
>>> is_table(path)
True
>>> frame = table_frame(path)
>>> frame["step"].to_list(), frame["acc"].to_list()
([3, 3, 3], [1.0, 0.5, nan])
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import polars as pl

from grpoflaw_cli.errors import InputError
from grpoflaw_cli.formatting import count
from grpoflaw_cli.ingest.lines import scratch_folder

SUFFIX = ".table.json"
"""The name W&B gives a table's file."""

HINT = 'a W&B table export is a JSON object {"columns": [...], "data": [[...], ...]}'


def is_table(path: Path) -> bool:
    """Is ``path`` named as W&B names a table's file (``*.table.json``)?

    >>> is_table(Path("media/table/completions_10_9f2e.table.json")), is_table(Path("a.json"))
    (True, False)
    """
    return path.name.lower().endswith(SUFFIX)


def numbered_name(path: Path) -> str:
    """The part of a file's name that may number its step: a W&B table's without its
    content hash (``completions_5_0f3a9e2b….table.json`` → ``completions_5``), whose
    digits are no step.

    >>> numbered_name(Path("completions_5_a1b2c3d4e5f6a7b8c9d0.table.json"))
    'completions_5'
    >>> numbered_name(Path("steps/12.jsonl.gz"))
    '12'
    """
    stem = path.name.split(".")[0]
    return re.sub(r"_[0-9a-f]{8,}$", "", stem) if is_table(path) else stem


def shown_format(path: Path, fmt: str) -> str:
    """The format to name for a file: a W&B table is read from a Parquet copy, but is
    named as what it is.

    >>> shown_format(Path("completions_10_9f2e.table.json"), "parquet")
    'wandb-table'
    """
    return "wandb-table" if is_table(path) else fmt


def table_frame(path: Path) -> pl.DataFrame:
    """The table in ``path`` as a frame: one column per name, a row per ``data`` entry.
    A ``step`` column written as text (TRL writes ``str(global_step)``) is read as
    integers when every value is one. Anything else is an :class:`InputError` that says
    where the file departs from W&B's layout."""
    table = _parsed(path)
    columns, data = table.get("columns"), table.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InputError(f"'{path}': no list of column names under \"columns\"", hint=HINT)
    if not isinstance(data, list):
        raise InputError(f"'{path}': no list of rows under \"data\"", hint=HINT)
    if "" in columns:
        raise InputError(
            f"'{path}': column {columns.index('') + 1} of \"columns\" has no name", hint=HINT
        )
    if len(set(columns)) != len(columns):
        twice = next(c for c in columns if columns.count(c) > 1)
        raise InputError(f"'{path}': the column '{twice}' is named twice", hint=HINT)
    width = len(columns)
    ragged = next(
        (k for k, row in enumerate(data) if not isinstance(row, list) or len(row) != width), None
    )
    if ragged is not None:
        raise InputError(
            f"'{path}': row {ragged + 1} of \"data\" is not a list of "
            f"{count(width, 'value')} (one per column)",
            hint=HINT,
        )
    try:
        frame = pl.DataFrame(data, schema=columns, orient="row", strict=False)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError) as exc:
        raise InputError(
            f"'{path}': a column mixes values that cannot share one type ({exc})".split("\n")[0],
            hint="every column of a table holds one kind of value",
        ) from None
    return _numeric_steps(frame)


def _parsed(path: Path) -> dict[str, Any]:
    """The file's JSON object (NaN and Infinity allowed, as W&B writes them)."""
    try:
        with path.open("rb") as fh:
            table = json.load(fh)
    except OSError as exc:
        raise InputError(f"'{path}': cannot read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"'{path}': not valid JSON at line {exc.lineno}, column {exc.colno}", hint=HINT
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"'{path}': not valid JSON (not UTF-8 text)", hint=HINT) from None
    if not isinstance(table, dict):
        raise InputError(f"'{path}': not a JSON object", hint=HINT)
    return table


def _numeric_steps(frame: pl.DataFrame) -> pl.DataFrame:
    """``step`` as integers when written as text that is all integers (TRL's table)."""
    if frame.schema.get("step") != pl.String:
        return frame
    steps = frame["step"].str.strip_chars().cast(pl.Int64, strict=False)
    if steps.null_count() != frame["step"].null_count():
        return frame  # not all integers: the step check names the odd value
    return frame.with_columns(steps)


_COPIES: dict[tuple[str, int, int], Path] = {}
"""A table's Parquet copy, by (file, size, mtime): made once per process and version."""


def table_copy(path: Path) -> Path:
    """A Parquet copy of the table in ``path`` (:func:`table_frame`), in the process's
    temporary folder, written whole or not at all."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    known = _COPIES.get(key)
    if known is not None and known.exists():
        return known
    frame = table_frame(path)
    import tempfile

    fd, name = tempfile.mkstemp(suffix=".parquet", dir=scratch_folder())
    os.close(fd)
    try:
        frame.write_parquet(name)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    _COPIES[key] = Path(name)
    return Path(name)
