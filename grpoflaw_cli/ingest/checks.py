"""The checks that refuse a log before its numbers are used: columns that do not hold
what their role needs (per file, from schemas, before any row is read), and missing or
non-finite steps, groups, lengths, baselines and rewards (from the per-group statistics;
only then are the files re-read, to name the first bad row).

>>> schemas = [pl.Schema({"g": pl.Int64}), pl.Schema({"g": pl.String})]
>>> is_text(pl.String), numbers_and_text(schemas, "g")
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, overload

import polars as pl

from grpoflaw_cli.errors import InputError, UsageError, json_quoted, option, quoted
from grpoflaw_cli.ingest.canonical import canonicalize, is_text, prepared
from grpoflaw_cli.ingest.columns import (
    ROLE_SETTINGS,
    ColumnMap,
    Detection,
    Format,
    carried_name,
    input_name,
)
from grpoflaw_cli.ingest.files import READ_ERRORS, Source, scan_file
from grpoflaw_cli.ingest.locate import (
    first_json_non_number,
    first_json_string,
    first_non_numeric,
    json_kind,
    locate_read_error,
)
from grpoflaw_cli.ingest.log import Log
from grpoflaw_cli.ingest.trainers import located

MAX_ABS_REWARD = 1e50
"""Larger rewards would overflow the power sums (up to r⁴) the statistics need."""


def check_numeric(
    path: Path, fmt: Format, source: Source, schema: pl.Schema, col: str, role: str
) -> None:
    """Refuse a reward or length column that does not hold numbers, naming the first bad value.

    A text column whose values all parse as numbers (a CSV with ``nan`` cells, say) is
    accepted: it is read as Float64 and non-finite values are refused later, by row.
    """
    dtype = schema.get(col)
    if dtype is None or dtype == pl.Null or dtype.is_numeric():
        return
    if role == "length" and isinstance(dtype, pl.List):
        return  # a list of response tokens: its length is used
    setting = option(ROLE_SETTINGS[role])
    if dtype == pl.Boolean and role == "component":
        return  # a pass/fail check: read as 0/1
    if dtype == pl.Boolean:
        raise InputError(
            f"'{path}', column '{col}': the {role} column holds true/false, not numbers",
            hint=f"cast it to 0/1 in the log, or map a numeric column with {setting} NAME",
        )
    if dtype == pl.String and fmt != "parquet":
        located = first_non_numeric(path, fmt, source, [col])
        if located is not None:
            raise located
        if fmt == "jsonl":  # JSON strings that look like numbers are still strings
            first = first_json_string(source, col)
            if first is not None:
                line, value = first
                raise InputError(
                    f"'{path}', line {line}, column '{col}': the {role} is the "
                    f"JSON string {quoted(value)}, not a number",
                    hint=f'write {role}s as JSON numbers (0.5, not "0.5")',
                )
        return
    found = first_json_non_number(source, col) if fmt == "jsonl" else None
    if found is not None:  # an object or a list where numbers should be: say where
        line, odd = found
        raise InputError(
            f"'{path}', line {line}, column '{col}': expected a number for the {role}, found "
            f"the JSON {json_kind(odd)} {json_quoted(odd)}",
            hint=f"map the numeric {role} column with {setting} NAME",
        )
    raise InputError(
        f"'{path}', column '{col}': expected numbers for the {role}, found {dtype}",
        hint=f"map the numeric {role} column with {setting} NAME",
    )


def check_same_layout(files: Sequence[Path], schemas: Sequence[pl.Schema], det: Detection) -> None:
    """Every file must have the columns the log is read by (a folder that mixes runs or
    trainers otherwise fails later with a confusing message)."""
    # With TRL's rule a reward function may be absent from a file (its values count as
    # missing); the step and group columns may not.
    rewards = () if det.nan_rewards == "nansum" else det.reward_cols
    needed = [c for c in (det.step_col, det.group_col, *rewards) if c]
    if len(files) < 2:
        return
    for path, schema in zip(files, schemas, strict=True):
        missing = [c for c in needed if c not in schema]
        if missing:
            raise InputError(
                f"'{path}' has no column {', '.join(map(repr, missing))}, which the other files "
                "have: the paths mix logs of different layouts (runs or trainers)",
                hint="point grpoflaw at one run's files, e.g. its rollout folder or a glob",
            )


WHOLE_NUMBER = r"^\s*[+-]?\d{1,18}\s*$"


def whole_numbers_as_text(frame: pl.LazyFrame, column: str) -> bool:
    """Is ``column`` text whose first values all read as whole numbers? (A sample: a later
    value that does not is refused by the step check, naming its line.)"""
    if not is_text(frame.collect_schema().get(column)):
        return False
    try:
        sample = (
            frame.select(pl.col(column).cast(pl.String)).head(1000).collect()[column].drop_nulls()
        )
    except READ_ERRORS:
        return False  # the read proper reports the file's problem
    return sample.len() > 0 and bool(sample.str.contains(WHOLE_NUMBER).all())


def numbers_and_text(schemas: Sequence[pl.Schema], column: str | None) -> bool:
    """Does ``column`` hold numbers in some files and something else in others?"""
    dtypes = [s.get(column) for s in schemas] if column else []
    return len({d.is_numeric() for d in dtypes if d is not None and d != pl.Null}) > 1


def check_consistent_steps(
    files: Sequence[Path], schemas: Sequence[pl.Schema], step_col: str | None
) -> None:
    """A step column that is numeric in one file and text in another would sort as text."""
    if step_col is None:
        return
    kinds: dict[bool, Path] = {}
    for path, schema in zip(files, schemas, strict=True):
        dtype = schema.get(step_col)
        if dtype is not None and dtype != pl.Null:
            kinds.setdefault(dtype.is_numeric(), path)
    if len(kinds) > 1:
        raise InputError(
            f"column '{step_col}' holds numbers in '{kinds[True]}' but text in '{kinds[False]}'",
            hint="the files come from different runs or formats; read them separately, or map "
            f"another step column with {option('step_col')}",
        )


def check_columns(
    files: Sequence[Path],
    formats: Sequence[Format],
    sources: Sequence[Source],
    schemas: Sequence[pl.Schema],
    det: Detection,
) -> None:
    """Refuse, file by file, a step or group column that holds lists or records, not plain
    values, and a reward, component, length or baseline column that does not hold numbers
    (:func:`check_numeric`)."""
    numeric = {c: "reward" for c in det.reward_cols}
    numeric |= {c: "component" for c in det.component_cols if c not in det.reward_cols}
    if det.length_col:
        numeric[det.length_col] = "length"
    if det.baseline_col:
        numeric[det.baseline_col] = "baseline"
    for path, fmt, data, schema in zip(files, formats, sources, schemas, strict=True):
        for col, role in ((det.step_col, "step"), (det.group_col, "group")):
            dtype = schema.get(col) if col else None
            if dtype is not None and dtype.is_nested():
                raise InputError(
                    f"'{path}', column '{col}': holds {dtype}, not a number or text",
                    hint=f"map a column of plain values with {option(ROLE_SETTINGS[role])}",
                )
        for col, role in numeric.items():
            check_numeric(path, fmt, data, schema, col, role)


def check_components(user: ColumnMap) -> None:
    """Refuse a single component named by the user (a preset's one part is fine)."""
    if len(set(user.components)) == 1:
        raise UsageError(
            f"{option('component_cols')} '{user.components[0]}' is the only component: GDPO "
            "normalizes each of two or more parts of the reward, and the aliasing check "
            "compares them",
            hint=f"name every part of the reward, each with its own {option('component_cols')}",
        )


def check_rewards(log: Log, table: pl.DataFrame) -> None:
    """Refuse missing steps or groups and missing or non-finite rewards, naming the file,
    line and column.

    ``table`` is the per-group statistics; only if it shows a bad value are the files
    re-read to find the first offending row.
    """
    _check_steps(log, table)
    _check_groups(log, table)
    _check_lengths(log, table)
    _check_baselines(log, table)
    _check_reward_values(log, table)


def _check_steps(log: Log, table: pl.DataFrame) -> None:
    det = log.detection
    if not (det.step_col and _missing(table["step"])):
        return
    text = f"src_{det.step_col}" if det.step_col == "step" else det.step_col
    extra = [text] if det.step_as_integer else []
    path, where, row = _first_row(log, _is_missing(table["step"]), extra=extra)
    raw = row[text][0] if extra else None
    raise InputError(
        f"'{path}', {where}: no value (null or NaN) in the step column '{det.step_col}'"
        if raw is None
        else f"'{path}', {where}: the step {quoted(raw)} is not a whole number like the "
        "column's other steps",
        hint=f"fill it in, or map another column with {option('step_col')}"
        if raw is None
        else f"fix or drop that row, or map another column with {option('step_col')}",
    )


def _check_groups(log: Log, table: pl.DataFrame) -> None:
    det = log.detection
    if det.group_mode != "column":
        return
    if _missing(table["group"]):
        path, where, _ = _first_row(log, _is_missing(table["group"]))
        raise InputError(
            f"'{path}', {where}: no value (null or NaN) in the group column '{det.group_col}'",
            hint=f"fill it in, or map another column with {option('group_col')} or "
            f"{option('group_size')} N",
        )
    if _inexact(table["group"]):
        path, where, row = _first_row(log, pl.col("group").abs() >= EXACT_FLOAT)
        raise InputError(
            f"'{path}', {where}: the group id {quoted(row['group'][0])} in '{det.group_col}' is "
            f"read as a float, and floats of 2^53 or more cannot tell whole "
            "numbers apart (distinct ids would merge)",
            hint="the column mixes whole numbers and fractions, or holds huge numbers: write "
            f"the ids as text, or map another column with {option('group_col')}",
        )


def _check_lengths(log: Log, table: pl.DataFrame) -> None:
    det = log.detection
    if not det.length_col:
        return
    bad = ~pl.col("len_sum").is_finite() | (pl.col("len_min") < 0)  # < 0: missing too
    if not table.filter(bad).height:
        return
    length = pl.col("length")
    path, where, row = _first_row(
        log, length.is_null() | ~length.is_finite() | (length < 0), extra=[det.length_col]
    )
    raise InputError(
        f"'{path}', {where}: the response length '{det.length_col}' is missing, negative "
        f"or not finite ({quoted(row[det.length_col][0])})",
        hint=f"fix it, or map another column with {option('length_col')}",
    )


def _check_baselines(log: Log, table: pl.DataFrame) -> None:
    det = log.detection
    if not det.baseline_col:
        return
    bad = (pl.col("baseline_null") > 0) | ~pl.col("gap_mean").fill_null(0.0).is_finite()
    if not table.filter(bad).height:
        return
    b = pl.col("baseline")
    path, where, row = _first_row(log, b.is_null() | ~b.is_finite(), extra=[det.baseline_col])
    raise InputError(
        f"'{path}', {where}: the baseline '{det.baseline_col}' is missing or not finite "
        f"({quoted(row[det.baseline_col][0])})",
        hint=f"fix it, or map another column with {option('baseline_col')}",
    )


def _check_reward_values(log: Log, table: pl.DataFrame) -> None:
    """Refuse a missing reward (unless under TRL's rule: unscorable, advantage 0), a
    non-finite one, and one so large that its powers overflow (which can make a group's
    mean overflow too: the first rule then finds no row, and the second names one)."""
    det = log.detection
    missing_ok = det.nan_rewards == "nansum"
    bad = table.filter(
        ((pl.col("n_null") > 0) & (not missing_ok))
        | ~pl.col("mean_shifted").fill_null(0.0).is_finite()
    )
    reward = pl.col("reward")
    if bad.height:
        found = _first_row(
            log,
            ~reward.is_finite() if missing_ok else (reward.is_null() | ~reward.is_finite()),
            required=False,
        )
        if found is not None:
            path, where, row = found
            what = ", ".join(
                f"{c}={quoted(row[c][0])}" for c in det.reward_cols if c in row.columns
            )
            raise InputError(
                f"'{path}', {where}: the reward is missing or not finite ({what})",
                hint="fix or drop that rollout; rewards must be finite numbers (NaN, null and "
                "±inf cannot be turned into advantages). If a missing reward means "
                f"'unscorable' in your trainer, as in TRL, pass {option('framework')} trl: "
                "such rollouts then get advantage 0",
            )
    largest = table.select(pl.max_horizontal(pl.col("min").abs(), pl.col("max").abs()).max())
    if bad.height or float(largest.item() or 0.0) > MAX_ABS_REWARD:
        located = _first_row(log, reward.abs() > MAX_ABS_REWARD, required=False)
        if located is None:  # pragma: no cover - a mean that overflows needs such a reward
            raise InputError("the log has rewards whose sums overflow float64")
        path, where, row = located
        first = abs(float(row["reward"][0]))  # the named row's, not the log's largest
        raise InputError(
            f"'{path}', {where}: a reward of magnitude {first:.3g} overflows float64 "
            "arithmetic (squares and sums of squares)",
            hint=f"rescale the rewards below {MAX_ABS_REWARD:g}, or fix the reward function",
        )


def _missing(keys: pl.Series) -> bool:
    """Does a key column of the group table hold a null, or a NaN (a float id with no
    value: it would make a group or iteration of its own)?"""
    return bool(keys.null_count()) or (keys.dtype.is_float() and bool(keys.is_nan().any()))


def _is_missing(keys: pl.Series) -> pl.Expr:
    """The row predicate for :func:`_missing`, on the canonical column of that name."""
    column = pl.col(keys.name)
    return column.is_null() | column.is_nan() if keys.dtype.is_float() else column.is_null()


EXACT_FLOAT = 2.0**53
"""Floats this large or larger no longer hold every whole number: 2^53 + 1 reads as 2^53."""


def _inexact(keys: pl.Series) -> bool:
    """Are float ids so large that distinct whole numbers may have merged?"""
    return keys.dtype.is_float() and bool((keys.abs() >= EXACT_FLOAT).any())


@overload
def _first_row(
    log: Log, predicate: pl.Expr, extra: Sequence[str] = (), *, required: Literal[True] = True
) -> tuple[Path, str, pl.DataFrame]: ...


@overload
def _first_row(
    log: Log, predicate: pl.Expr, extra: Sequence[str] = (), *, required: Literal[False]
) -> tuple[Path, str, pl.DataFrame] | None: ...


def _first_row(
    log: Log, predicate: pl.Expr, extra: Sequence[str] = (), *, required: bool = True
) -> tuple[Path, str, pl.DataFrame] | None:
    """The first canonical row matching ``predicate``: its file, 'line N' and the row
    (None if there is none and it is not ``required``).

    Error path only: re-reads the files one at a time.
    """
    det = log.detection
    for index, (path, fmt) in enumerate(zip(det.files, det.formats, strict=True)):
        inputs = [carried_name(c) for c in (*det.reward_cols, *extra)]
        needed = list(dict.fromkeys(["__row", "step", "group", "reward", *inputs]))
        try:
            schema = scan_file(log.source(index), fmt).collect_schema()
            raw = prepared(det, index, log.source(index), fmt, schema)
            raw = raw.with_columns(pl.lit(None).alias(c) for c in _absent(det, raw))
            rows = (
                canonicalize(raw, det)
                .with_row_index("__row", offset=1)
                .filter(predicate)
                .select(needed)
                .head(1)
                .collect()
            )
        except READ_ERRORS as exc:
            raise locate_read_error(path, fmt, exc) from exc
        if rows.height:
            where = located(log.source(index), fmt, int(rows["__row"][0]), det)
            return path, where, rows.drop("__row").rename({c: input_name(c) for c in inputs})
    if not required:
        return None
    raise InputError("the log has missing or non-finite values")  # pragma: no cover


def _absent(det: Detection, raw: pl.LazyFrame) -> list[str]:
    """The log's mapped columns one file lacks (a task or length logged in other files):
    null in that file, as the log's one scan reads them, so that its rows can be checked
    alone."""
    have = set(raw.collect_schema().names())
    mapped = (
        det.step_col,
        det.group_col,
        *det.reward_cols,
        det.length_col,
        det.task_col,
        det.baseline_col,
        *det.components,
        det.logged_advantage,
    )
    return [c for c in dict.fromkeys(carried_name(n) for n in mapped if n) if c not in have]
