"""OpenPipe ART's trajectory logs: a JSONL step file with one line per group holding a
``trajectories`` list, or a trajectories Parquet
file with ``group_index`` and ``reward``; each trajectory's ``metrics`` may hold the
reward's parts. Its advantage divides by the population std plus 1e-6. Its hooks: a file
of trajectory lists is checked when scanned (:func:`scan`) and read a row per trajectory
(:func:`reshape`); on the error path, which line, trajectory and field is at fault
(:func:`rollout_where`, :func:`explain`).

>>> recognize([], {"trajectories": "list[struct[2]]"}).explode
'trajectories'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from grpoflaw_cli.errors import InputError, option, quoted
from grpoflaw_cli.ingest.columns import ColumnMap, Detection, Format
from grpoflaw_cli.ingest.files import READ_ERRORS, Source, scan_file, whole_file_schema
from grpoflaw_cli.ingest.lines import decode_json_line
from grpoflaw_cli.ingest.locate import json_kind, locate_read_error, record_line, row_location
from grpoflaw_cli.ingest.trainers.metrics import unpack
from grpoflaw_cli.ingest.trainers.preset import (
    Preset,
    Shape,
    column_if_present,
    has_columns,
    lacking,
)

RECORD = "__record"
TRAJECTORY = "__trajectory"


NEEDED = ("group_index", "reward")
"""The fields of ART's trajectories parquet :func:`recognize` looks for."""


def missing(files: Sequence[Path], columns: Mapping[str, str]) -> str:
    """The ``needs`` hook: what a log that :func:`recognize` refused lacks."""
    return lacking(
        columns,
        NEEDED,
        "ART's trajectories parquet has group_index, reward; its JSONL, one 'trajectories' "
        "list per line and nothing else",
    )


def recognize(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if list(columns) == ["trajectories"]:
        return Preset(
            why="one JSON line per group with a 'trajectories' list (OpenPipe ART)",
            mapping=ColumnMap(group="group_index", reward=("reward",)),
            explode="trajectories",
            unpack="metrics",
            ddof=0,
            eps=1e-6,
        )
    if has_columns(columns, *NEEDED):
        return Preset(
            why="fields group_index, reward (OpenPipe ART trajectories parquet)",
            mapping=ColumnMap(
                step=column_if_present(columns, "step"), group="group_index", reward=("reward",)
            ),
            unpack=column_if_present(columns, "metrics"),
            ddof=0,
            eps=1e-6,
        )
    return None


def explode(frame: pl.LazyFrame, column: str | None) -> pl.LazyFrame:
    """One row per group holding a list of rollouts → one row per rollout, with the
    group's position in the file as ``group_index`` (OpenPipe ART's JSONL). A line whose
    list is empty or null holds no rollout: it adds no row."""
    if column is None:
        return frame
    return frame.with_row_index("group_index").explode(column, keep_nulls=False).unnest(column)


def reshape(frame: pl.LazyFrame, shape: Shape, where: str = "the log") -> pl.LazyFrame:
    """The reshape hook: a row per trajectory (:func:`explode`), its ``metrics`` fields
    as columns (:func:`~grpoflaw_cli.ingest.trainers.metrics.unpack`)."""
    return unpack(explode(frame, shape.explode), shape.unpack, shape.unpack_fields)


def scan(path: Path, data: Source, fmt: Format, preset: Preset) -> pl.LazyFrame:
    """The scan hook: a file's scan when the log is loaded, refusing a file with no
    rollout object in any line (a JSONL file's schema is then taken from every line
    first: the rollouts may all come after the lines the schema was inferred from)."""
    frame, column = scan_file(data, fmt), preset.explode
    if column is None or holds_rollouts(frame, column):
        return frame
    if fmt == "jsonl":
        try:
            whole_file_schema(data)  # kept: the file's later scans use it
        except READ_ERRORS as exc:
            raise locate_read_error(path, fmt, exc) from exc
        frame = scan_file(data, fmt)
    if not holds_rollouts(frame, column):
        raise no_rollouts(str(path), column, frame.collect_schema().get(column))
    return frame


def holds_rollouts(frame: pl.LazyFrame, column: str) -> bool:
    """Does ``column`` hold lists of objects (ART's trajectories)? Schema only."""
    dtype = frame.collect_schema().get(column)
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)


def no_rollouts(where: str, column: str, dtype: pl.DataType | None) -> InputError:
    """The refusal of a file whose ``column`` holds no rollout object on any line."""
    hint = (
        "an OpenPipe ART step file holds one line per group: "
        f'{{"{column}": [{{"reward": ..., ...}}, ...]}}; '
    )
    if dtype is None or dtype == pl.Null or dtype == pl.List(pl.Null):
        return InputError(
            f"'{where}': no trajectory in any line (every '{column}' list is empty or null)",
            hint=hint + "leave this file out of the paths, or check that the run wrote it in full",
        )
    return InputError(
        f"'{where}': '{column}' holds {dtype}, not trajectory objects",
        hint=hint + f"if another tool wrote this file, pass {option('source')} generic and map "
        "the columns",
    )


def rollout_where(source: Source, fmt: Format, row: int, det: Detection) -> str:
    """The where hook: where the ``row``-th row (1-based) of a file's frame comes from:
    'line N', or for a file of rollout lists 'line N, trajectory K'. Error path only."""
    column = det.explode
    if column is None:
        return row_location(source, fmt, row)
    try:
        hit = (
            scan_file(source, fmt)
            .select(pl.col(column).list.len().fill_null(0).alias("n"))
            .with_row_index(RECORD, offset=1)
            .with_columns(pl.col("n").cum_sum().alias("upto"))
            .filter(pl.col("upto") >= row)
            .head(1)
            .collect(engine="streaming")
        )
    except READ_ERRORS:
        return f"rollout {row}"
    if not hit.height:  # pragma: no cover - the row was read from this file
        return f"rollout {row}"
    record, n, upto = hit.row(0)
    return f"{row_location(source, fmt, record)}, trajectory {row - (upto - n)}"


def explain(path: object, fmt: Format, source: Source, det: Detection) -> InputError | None:
    """The explain hook: why a file of trajectory lists failed to read, if it is in the
    trajectories: a trajectory's number that is text."""
    if det.explode is None:
        return None
    numeric = (*det.reward_cols, *det.component_cols, det.length_col, det.baseline_col)
    return _first_text_number(path, fmt, source, det, [c for c in numeric if c])


def _first_text_number(
    path: object, fmt: Format, source: Source, det: Detection, numeric: list[str]
) -> InputError | None:
    """The first trajectory whose reward (or length, ...) is text that is no number."""
    column = det.explode
    assert column is not None
    try:
        frame = scan_file(source, fmt)
        dtype = frame.collect_schema().get(column)
        if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)):
            return no_rollouts(str(path), column, dtype)
        fields = {f.name: f.dtype for f in dtype.inner.fields}
        text = [c for c in dict.fromkeys(numeric) if fields.get(c) == pl.String]
        if not text:
            return None
        trajectory = pl.col(column).struct
        bad = [
            trajectory.field(c).is_not_null()
            & trajectory.field(c).cast(pl.Float64, strict=False).is_null()
            for c in text
        ]
        hit = (
            frame.with_row_index(RECORD, offset=1)
            .filter(pl.col(column).list.len() > 0)
            .with_columns(pl.int_ranges(1, pl.col(column).list.len() + 1).alias(TRAJECTORY))
            .explode(column, TRAJECTORY)
            .select(RECORD, TRAJECTORY, *(b.alias(c) for b, c in zip(bad, text, strict=True)))
            .filter(pl.any_horizontal(text))
            .head(1)
            .collect(engine="streaming")
        )
    except READ_ERRORS:
        return None
    if not hit.height:
        return None
    record, number = int(hit[RECORD][0]), int(hit[TRAJECTORY][0])
    name = next(c for c in text if hit[c][0])
    line = record_line(source, record) if fmt == "jsonl" else None  # one walk for both
    value = None if line is None else _trajectory_value(line[1], column, number, name)
    what = "the reward" if det.reward_cols == (name,) else f"'{name}'"
    found = "" if value is None else f" is {_json_text(value)},"
    where = row_location(source, fmt, record) if line is None else f"line {line[0]}"
    return InputError(
        f"'{path}', {where}, trajectory {number}: {what}{found} not a number",
        hint="fix or drop that trajectory; its reward must be a JSON number",
    )


def _json_text(value: object) -> str:
    """A JSON value as a message shows it: ``the JSON string 'x'``, ``JSON true``.

    >>> _json_text("x"), _json_text(True), _json_text({"a": 1})
    ("the JSON string 'x'", 'JSON true', 'the JSON object {"a": 1}')
    """
    if isinstance(value, bool):
        return f"JSON {json.dumps(value)}"
    text = quoted(value) if isinstance(value, str) else json.dumps(value)
    return f"the JSON {json_kind(value)} {text if len(text) <= 60 else text[:57] + '...'}"


def _trajectory_value(line: bytes, column: str, number: int, name: str) -> object:
    """The JSON value of field ``name`` of trajectory ``number`` on a JSONL ``line``, or
    None if it cannot be read."""
    try:
        return decode_json_line(line)[column][number - 1][name]  # type: ignore[index]
    except (ValueError, LookupError, TypeError):
        return None
