"""The rows a trainer preset reshapes (OpenPipe ART's trajectory lists, NeMo-RL's batch
slices of one): what makes a file unreadable as such, and, on the error path, which line,
trajectory and field is at fault. The happy path only calls :func:`holds_rollouts` and
:func:`list_depth` (on schemas); the rest re-reads a file, streamed, after a read failed.

>>> list_depth(pl.List(pl.List(pl.Int64))), list_depth(pl.Float64)
(2, 0)
"""

from __future__ import annotations

import json

import polars as pl

from grpoflaw_cli.columns import Detection, Format
from grpoflaw_cli.diagnose_read import _decode, _json_kind, _where, record_line
from grpoflaw_cli.errors import InputError, quoted
from grpoflaw_cli.presets import NEMO_RL_SLICED
from grpoflaw_cli.readers import READ_ERRORS, Source, _scan

RECORD = "__record"
TRAJECTORY = "__trajectory"


def list_depth(dtype: object) -> int:
    """How many lists deep ``dtype`` is: ``List(List(Int64))`` → 2."""
    return 1 + list_depth(dtype.inner) if isinstance(dtype, pl.List) else 0


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
        hint=hint + "if another tool wrote this file, pass --source generic and map the columns",
    )


def rollout_where(source: Source, fmt: Format, row: int, column: str | None) -> str:
    """Where the ``row``-th row (1-based) of a file's frame comes from: 'line N', or for a
    file of rollout lists ``column`` 'line N, trajectory K'. Error path only."""
    if column is None:
        return _where(source, fmt, row)
    try:
        hit = (
            _scan(source, fmt)
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
    return f"{_where(source, fmt, record)}, trajectory {row - (upto - n)}"


def explain(path: str | object, fmt: Format, source: Source, det: Detection) -> InputError | None:
    """Why a file the preset reshapes failed to read, if it is in the reshaped rows: a
    trajectory's number that is text (ART), a batch slice not of one (NeMo-RL)."""
    if det.explode is not None:
        numeric = (*det.reward_cols, *det.component_cols, det.length_col, det.baseline_col)
        return _first_text_number(path, fmt, source, det, [c for c in numeric if c])
    if det.reshape == "nemo-rl":
        return _first_bad_slice(path, fmt, source)
    return None


def _first_text_number(
    path: object, fmt: Format, source: Source, det: Detection, numeric: list[str]
) -> InputError | None:
    """The first trajectory whose reward (or length, ...) is text that is no number."""
    column = det.explode
    assert column is not None
    try:
        frame = _scan(source, fmt)
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
    where = _where(source, fmt, record) if line is None else f"line {line[0]}"
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
    return f"the JSON {_json_kind(value)} {text if len(text) <= 60 else text[:57] + '...'}"


def _trajectory_value(line: bytes, column: str, number: int, name: str) -> object:
    """The JSON value of field ``name`` of trajectory ``number`` on a JSONL ``line``, or
    None if it cannot be read."""
    try:
        return _decode(line)[column][number - 1][name]  # type: ignore[index]
    except (ValueError, LookupError, TypeError):
        return None


def _first_bad_slice(path: object, fmt: Format, source: Source) -> InputError | None:
    """The first line with a NeMo-RL field whose batch slice is not of one."""
    try:
        frame = _scan(source, fmt)
        schema = frame.collect_schema()
        sliced = [
            n
            for n, depth in NEMO_RL_SLICED.items()
            if n in schema and list_depth(schema[n]) > depth
        ]
        if not sliced:
            return None
        hit = (
            frame.select(pl.col(n).list.len() for n in sliced)
            .with_row_index(RECORD, offset=1)
            .filter(pl.any_horizontal(pl.col(n) != 1 for n in sliced))
            .head(1)
            .collect(engine="streaming")
        )
    except READ_ERRORS:
        return None
    if not hit.height:
        return None
    name = next(n for n in sliced if hit[n][0] not in (None, 1))
    return InputError(
        f"'{path}', {_where(source, fmt, int(hit[RECORD][0]))}: '{name}' is a batch slice of "
        f"{hit[name][0]}, not of one (NeMo-RL writes one sample per line, each field in a "
        "list of one)",
        hint="a train_data_step{N}.jsonl file has one sample per line; one with several was "
        "written or edited by another tool: write one sample per line",
    )
