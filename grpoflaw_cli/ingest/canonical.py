"""Each file's scan as the log uses it, and the canonical frame built on them.

Everything after ingest speaks the canonical schema (:mod:`grpoflaw_cli.ingest.columns`):
``step``, ``group``, ``reward`` and the optional ``length``, ``task`` and ``baseline``
first, then the input's columns in their order. An input column named like a canonical
one is carried as ``src_<name>``; one whose name starts with ``__``, as grpoflaw's
working columns do, is ``_^<name>`` in the frame
(:func:`~grpoflaw_cli.ingest.columns.carried_name`).

>>> from grpoflaw_cli.ingest import ColumnMap, detect
>>> frame = pl.LazyFrame({"it": [1, 1], "reward": [0.5, 1.0]})
>>> det = detect(["it", "reward"], ColumnMap(step="it"))
>>> canonicalize(_tag(frame, 0, ()), det).collect().columns
['step', 'group', 'reward', 'it', '__file']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl
import polars.selectors as cs

from grpoflaw_cli.ingest import trainers
from grpoflaw_cli.ingest.columns import OUTPUT_PREFIX, Detection, Format, carried_name
from grpoflaw_cli.ingest.files import PATH_COL, Source, absolute, batchable, scan_file, scan_files

FILE_COL = "__file"
"""Internal column: index of the source file in :attr:`Detection.files`."""
FILE_STEP_COL = "__file_step"
"""Internal column: the step a file stands for, when the log has no step column."""


def is_text(dtype: pl.DataType | None) -> bool:
    """Text, or text held as categories (a Parquet dictionary, ``pl.Categorical``/``Enum``)."""
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _overrides(det: Detection, fmt: Format, schema: pl.Schema | None) -> dict[str, pl.DataType]:
    """Reward and length read as Float64 (so a late non-integer does not break an integer
    guess); a length that is a list of tokens stays one."""
    if fmt == "parquet" or det.explode is not None or det.reshape:
        return {}
    numeric = [c for c in (*det.reward_cols, det.length_col, det.baseline_col) if c]
    overrides: dict[str, pl.DataType] = {
        c: pl.Float64() for c in numeric if schema is None or c in schema
    }
    if det.length_col and schema is not None and isinstance(schema.get(det.length_col), pl.List):
        overrides.pop(det.length_col, None)
    return overrides


def _as_read(frame: pl.LazyFrame, det: Detection, schema: pl.Schema) -> pl.LazyFrame:
    """Input columns named like working ones renamed away (:func:`carried_name`), and
    group ids as text when the files disagree on their type."""
    escaped = {n: carried_name(n) for n in schema.names() if carried_name(n) != n}
    if escaped:  # so that no input column collides with the working columns added later
        frame = frame.rename(escaped)
    if det.group_as_text and det.group_col is not None and det.group_col in schema:
        group = carried_name(det.group_col)
        frame = frame.with_columns(_id_text(pl.col(group), schema[det.group_col]).alias(group))
    return frame


def prepared(
    det: Detection,
    index: int,
    data: Source,
    fmt: Format,
    schema: pl.Schema | None = None,
    file_steps: Sequence[int] | None = None,
) -> pl.LazyFrame:
    """The scan of one file as the log uses it: numbers read as such (:func:`_overrides`),
    its rows as the trainer reshapes them (its ``reshape`` hook), and the internal columns
    added."""
    overrides = _overrides(det, fmt, schema)
    frame = trainers.reshaped(scan_file(data, fmt, overrides or None), det.source, det)
    if schema is None or det.unpack or det.group_as_text:
        schema = frame.collect_schema()
    frame = _as_read(frame, det, schema)
    return _tag(frame, index, det.file_steps if file_steps is None else file_steps)


def read_all(
    det: Detection,
    files: Sequence[Path],
    formats: Sequence[Format],
    sources: Sequence[Source],
    schemas: Sequence[pl.Schema],
    file_steps: Sequence[int],
) -> pl.LazyFrame:
    """Every file as the log uses it, in order: consecutive files of one format and schema
    in one scan (a run of 20,000 step files is one scan, not a concat of 20,000), any
    other file (reshaped by a preset, or one :func:`~grpoflaw_cli.ingest.files.batchable` says
    must be scanned alone) by itself. A cleaned copy is read in its file's stead."""
    runs: list[list[int]] = []
    run_schemas: list[pl.Schema] = []
    last: object = None
    for index, (fmt, data, schema) in enumerate(zip(formats, sources, schemas, strict=True)):
        joins = (
            batchable(data)
            and det.explode is None
            and not det.reshape
            and det.unpack is None
            and not any(carried_name(n) != n for n in schema.names())
        )
        read_as = {**schema, **_overrides(det, fmt, schema)}  # an int reward is read as float
        key = (fmt, tuple(read_as.items())) if joins else None
        if key is not None and key == last:
            runs[-1].append(index)
        elif key is not None and fmt == "jsonl" and _widens(last, read_as):
            # JSON lines with a key some files lack (an optional field logged at some steps):
            # one scan over the union of their keys, a missing key read as null, as the
            # concatenation of one scan per file gave (6,000 such step files took 178 s).
            runs[-1].append(index)
            run_schemas[-1] = pl.Schema({**run_schemas[-1], **schema})
            key = ("jsonl", tuple({**dict(last[1]), **read_as}.items()))  # type: ignore[index]
        else:
            runs.append([index])
            run_schemas.append(schema)
        last = key
    scans = [
        prepared(det, run[0], sources[run[0]], formats[run[0]], schemas[run[0]], file_steps)
        if len(run) == 1
        else _prepared_many(
            det, run, [sources[i] for i in run], formats[run[0]], run_schema, file_steps
        )
        for run, run_schema in zip(runs, run_schemas, strict=True)
    ]
    if len(scans) == 1:
        return scans[0]
    # Files whose Enum columns hold other categories have no common type: their values are
    # read as the text they stand for (ids and steps in categories are text here anyway).
    scans = [
        scan.with_columns(cs.enum().cast(pl.String))
        if any(isinstance(d, pl.Enum) for d in schemas[run[0]].values())
        else scan
        for scan, run in zip(scans, runs, strict=True)
    ]
    return pl.concat(scans, how="diagonal_relaxed")


def _widens(last: object, read_as: dict[str, pl.DataType]) -> bool:
    """Whether a JSONL file read as ``read_as`` can join the run whose key is ``last``:
    a run of JSONL files, whose columns in common are read as the same types."""
    if not (isinstance(last, tuple) and last and last[0] == "jsonl"):
        return False
    before = dict(last[1])
    return all(before[name] == dtype for name, dtype in read_as.items() if name in before)


def _prepared_many(
    det: Detection,
    indexes: Sequence[int],
    paths: Sequence[Path],
    fmt: Format,
    schema: pl.Schema,
    file_steps: Sequence[int],
) -> pl.LazyFrame:
    """:func:`prepared` for consecutive files of one format and schema, in one scan."""
    frame = _as_read(scan_files(paths, fmt, schema, _overrides(det, fmt, schema)), det, schema)
    keys = [absolute(p) for p in paths]  # as the scan names them (distinct files)
    # The file's position in the run is its code in an Enum of the paths: matching each
    # row's path string against the paths (replace_strict) held about 0.5 GB more on a
    # 1 GB text dump, in a streaming pass that otherwise holds 0.3 GB.
    position = pl.col(PATH_COL).cast(pl.Enum(keys)).to_physical().cast(pl.UInt32)
    assert list(indexes) == list(range(indexes[0], indexes[0] + len(indexes)))  # a run
    tags = [(position + indexes[0]).alias(FILE_COL)]
    if file_steps:
        steps = [file_steps[i] for i in indexes]
        tags.append(pl.lit(pl.Series(steps, dtype=pl.Int64)).gather(position).alias(FILE_STEP_COL))
    return frame.with_columns(tags).drop(PATH_COL)


def _id_text(ids: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Ids as text in one form whatever their type: a whole number as its digits (``1``,
    ``1.0`` and ``"1"`` are all ``"1"``), another number as Polars writes it, NaN as null
    (missing, as in a numeric column)."""
    if dtype.is_float():
        whole = (ids == ids.round()) & (ids.abs() < 2.0**63)
        return (
            pl.when(ids.is_nan())
            .then(None)
            .when(whole)
            .then(ids.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(ids.cast(pl.String))
        )
    return ids.cast(pl.String)


def _tag(frame: pl.LazyFrame, index: int, file_steps: Sequence[int]) -> pl.LazyFrame:
    """Add the internal columns: the file's index and, if files are steps, its step."""
    tags = [pl.lit(index, pl.UInt32).alias(FILE_COL)]
    if file_steps:
        tags.append(pl.lit(file_steps[index], pl.Int64).alias(FILE_STEP_COL))
    return frame.with_columns(tags)


def _input_col(name: str) -> pl.Expr:
    """An input column of a prepared frame, by its input name."""
    return pl.col(carried_name(name))


def _reward(det: Detection) -> pl.Expr:
    """The reward: the weighted sum of the reward columns. Under TRL's rule a missing
    component counts as 0 unless every component is missing (unscorable); else a missing
    component makes the sum missing, never a silent 0."""
    weights = det.reward_weights or (1.0,) * len(det.reward_cols)
    parts = [
        _input_col(c).cast(pl.Float64) if w == 1.0 else _input_col(c).cast(pl.Float64) * w
        for c, w in zip(det.reward_cols, weights, strict=True)
    ]
    if det.nan_rewards == "nansum":
        parts = [part.fill_nan(None) for part in parts]
        unscorable = pl.all_horizontal(part.is_null() for part in parts)
        return pl.when(unscorable).then(None).otherwise(pl.sum_horizontal(parts))
    reward = parts[0]
    for part in parts[1:]:
        reward = reward + part
    return reward


def _step(schema: pl.Schema, det: Detection) -> pl.Expr:
    """The step: the step column (whole numbers written as text read as integers), else
    the step each file stands for, else 0."""
    if det.step_col:
        step = _input_col(det.step_col)
        if is_text(schema.get(carried_name(det.step_col))):
            step = step.cast(pl.String)  # categories sort as their text, not their codes
        if det.step_as_integer:  # a value that is no whole number becomes null: refused
            step = step.str.strip_chars().str.strip_prefix("+").cast(pl.Int64, strict=False)
        return step
    if det.file_steps:
        return pl.col(FILE_STEP_COL)
    return pl.lit(0, pl.Int64)


def _group(det: Detection, step: pl.Expr, own: pl.Expr | None) -> pl.Expr:
    """The group: the group column's value (or ``own``, the trainer's key for it: a verl
    v1 uid's prompt prefix), a block of ``group_size`` rows within the step, or the whole
    step; per file if files share a step."""
    if det.group_mode == "column":
        assert det.group_col is not None
        group = _input_col(det.group_col) if own is None else own
    elif det.group_mode == "blocks":
        assert det.group_size is not None
        group = pl.int_range(pl.len(), dtype=pl.Int64).over(step) // det.group_size
    else:
        group = pl.lit(0, pl.Int64)
    if det.group_per_file:  # "<file index>:<group>"
        group = pl.concat_str(pl.col(FILE_COL).cast(pl.String), pl.lit(":"), group.cast(pl.String))
    return group


def _optional_roles(
    schema: pl.Schema, det: Detection, canon: dict[str, pl.Expr], sources: dict[str, str | None]
) -> None:
    """Add the length, task and baseline to ``canon``, and the input column each comes
    from to ``sources``."""
    if det.length_col:
        length_dtype = schema.get(carried_name(det.length_col))
        length = _input_col(det.length_col)
        if length_dtype is not None and isinstance(length_dtype, pl.List):
            length = length.list.len()  # a list of response tokens
        canon["length"] = length.cast(pl.Float64)
        sources["length"] = det.length_col
    if det.task_col:
        canon["task"] = _input_col(det.task_col).cast(pl.String)
        sources["task"] = det.task_col
    if det.baseline_col:
        canon["baseline"] = _input_col(det.baseline_col).cast(pl.Float64)
        sources["baseline"] = det.baseline_col


def _carried(names: Sequence[str], canon: dict[str, pl.Expr], replaced: set[str]) -> list[pl.Expr]:
    """The input's columns after the canonical ones: one named like a canonical role, or
    like an output column (a file that ``grpoflaw advantages`` wrote, read back), is
    carried as ``src_<name>``; one that *is* its role (same name) is replaced."""
    taken = set(canon) | set(names)
    carried = []
    for n in names:
        if n in replaced:
            continue
        alias = n
        if n in canon or n.startswith(OUTPUT_PREFIX):
            alias = f"src_{n}"
            while alias in taken:  # read back twice: src_adv_grpo is taken too
                alias = f"src_{alias}"
            taken.add(alias)
        carried.append(pl.col(n).alias(alias))
    return carried


def canonicalize(frame: pl.LazyFrame, det: Detection) -> pl.LazyFrame:
    """Add the canonical columns to a raw frame according to a :class:`Detection`.

    Canonical columns come first, then the input's columns in their order. An input
    column named like a canonical one but not the source of that role is kept as
    ``src_<name>``. The log's trainer may derive some itself (its ``roles`` hook: a verl
    v1 uid's group, session and output index).
    """
    schema = frame.collect_schema()
    step = _step(schema, det)
    own = trainers.roles(det)
    group = _group(det, step, own.pop("group", None))
    canon: dict[str, pl.Expr] = {"step": step, "group": group, "reward": _reward(det)}
    weights = det.reward_weights or (1.0,) * len(det.reward_cols)
    sources: dict[str, str | None] = {
        # a converted step keeps its text beside it (as src_step if so named), for messages
        "step": None if det.step_as_integer else det.step_col,
        "group": det.group_col if det.group_mode == "column" else None,
        "reward": det.reward_cols[0] if len(det.reward_cols) == 1 and weights[0] == 1.0 else None,
    }
    _optional_roles(schema, det, canon, sources)
    canon.update(own)
    replaced = {role for role, col in sources.items() if col == role}
    carried = _carried(schema.names(), canon, replaced)
    return frame.select([expr.alias(role) for role, expr in canon.items()] + carried)
