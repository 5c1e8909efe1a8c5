"""Rollout logs on disk → one canonical lazy Polars frame.

Everything after ingest speaks the canonical schema:

=========  ==========================================================
column     meaning
=========  ==========================================================
``step``   training iteration (``0`` for every row if the log has none)
``group``  prompt group the GRPO baseline is taken over
``reward`` scalar reward (weighted sum of the reward columns), Float64
``length`` response length in tokens (optional; token-weighted whitening)
``task``   task / data source name (optional)
=========  ==========================================================

The input's other columns are carried through unchanged (an input column whose name
collides with a canonical one is renamed ``src_<name>``; one whose name starts with ``__``,
as grpoflaw's working columns do, is ``_^<name>`` in the frame and written out under its own
name: :func:`~grpoflaw_cli.columns.carried_name`). Nothing here prints.

>>> log = load(["sample_data/seed.jsonl"])                       # doctest: +SKIP
>>> log.detection.reward_cols                                     # doctest: +SKIP
('reward',)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from grpoflaw_cli import presets, trainer_rows
from grpoflaw_cli.columns import (
    CANONICAL,
    INTERNAL_PREFIX,
    ROLE_NAMES,
    VERL_UID,
    ColumnMap,
    Detection,
    Format,
    NanRewards,
    carried_name,
    detect,
    input_name,
)
from grpoflaw_cli.diagnose_read import (
    _first_json_string,
    _first_non_numeric,
    locate_read_error,
)
from grpoflaw_cli.errors import InputError, UsageError, quoted
from grpoflaw_cli.lines import readable_name
from grpoflaw_cli.readers import (
    DECIMAL_DIGITS,
    PATH_COL,
    READ_ERRORS,
    Source,
    _parses,
    _scan,
    _scan_many,
    _schema,
    _starts_with_bom,
    _whole_file_schema,
    batchable,
    cleaned_jsonl,
    duplicate_names,
    file_format,
    header_problem,
    resolve_paths,
    small_log,
    unreadable_columns,
    with_late_columns,
)

__all__ = [
    "CANONICAL",
    "FILE_COL",
    "INTERNAL_PREFIX",
    "ColumnMap",
    "Detection",
    "Log",
    "check_rewards",
    "collect",
    "detect",
    "duplicate_rows",
    "file_format",
    "load",
    "resolve_paths",
    "steps_from_file_names",
]

MAX_ABS_REWARD = 1e50
"""Larger rewards would overflow the power sums (up to r⁴) the statistics need."""
FILE_COL = "__file"
"""Internal column: index of the source file in :attr:`Detection.files`."""
FILE_STEP_COL = "__file_step"
"""Internal column: the step a file stands for, when the log has no step column."""
SESSION_COL = "__session"
"""Internal column: a verl v1 multi-turn session ('<prompt>_<session>')."""
LAST_COL = "__output"
"""Internal column: the output's index within its session."""


@dataclass(frozen=True)
class Log:
    """A rollout log: the canonical lazy frame and how it was built."""

    frame: pl.LazyFrame
    detection: Detection
    sources: tuple[Source, ...] = ()
    """Per file: what is scanned (the path, or a cleaned temporary copy: without a
    byte-order mark, and after ``skip_bad_lines`` with malformed lines blanked)."""
    skipped_lines: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """(file, line numbers) of malformed JSONL lines skipped with ``skip_bad_lines``."""
    warnings: tuple[str, ...] = ()
    """What was read in a way the user may not expect (a column named twice, say)."""
    read_as: tuple[ColumnMap, bool, str] = (ColumnMap(), False, "auto")
    """How it was read (the mapping, ``skip_bad_lines``, ``source``): to read it again under
    another rule for missing rewards (see :func:`reread`)."""

    @property
    def stats_frame(self) -> pl.LazyFrame:
        """The rows the group statistics are taken over: every rollout, except that in
        verl multi-turn sessions only each session's last output counts (verl v1)."""
        if not self.detection.sessions:
            return self.frame
        last = pl.col(LAST_COL) == pl.col(LAST_COL).max().over(SESSION_COL)
        return self.frame.filter(last)

    def source(self, index: int) -> Source:
        return self.sources[index] if self.sources else self.detection.files[index]


def _check_numeric(
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
    flag = {
        "reward": "--reward-col",
        "length": "--length-col",
        "baseline": "--baseline-col",
        "component": "--component-col",
    }[role]
    if dtype == pl.Boolean and role == "component":
        return  # a pass/fail check: read as 0/1
    if dtype == pl.Boolean:
        raise InputError(
            f"'{path}', column '{col}': the {role} column holds true/false, not numbers",
            hint=f"cast it to 0/1 in the log, or map a numeric column with {flag} NAME",
        )
    if dtype == pl.String and fmt != "parquet":
        located = _first_non_numeric(path, fmt, source, [col])
        if located is not None:
            raise located
        if fmt == "jsonl":  # JSON strings that look like numbers are still strings
            first = _first_json_string(source, col)
            if first is not None:
                line, value = first
                raise InputError(
                    f"'{path}', line {line}, column '{col}': the {role} is the "
                    f"JSON string {quoted(value)}, not a number",
                    hint=f'write {role}s as JSON numbers (0.5, not "0.5")',
                )
        return
    raise InputError(
        f"'{path}', column '{col}': expected numbers for the {role}, found {dtype}",
        hint=f"map the numeric {role} column with {flag} NAME",
    )


def steps_from_file_names(files: Sequence[Path]) -> tuple[tuple[int, ...], str]:
    """The step each file stands for: the last number in its name if they are all
    distinct; else the last number in the name of the folder it sits in (or one above),
    several files may share a step there (prime-rl's ``step_{N}/{kind}/{subset}/``); else
    the file's position. Returns the steps and how they were found.

    >>> steps_from_file_names([Path("train/0001.parquet"), Path("train/0002.parquet")])
    ((1, 2), 'the number in its name')
    >>> steps_from_file_names([Path("step_2/a/traces.jsonl"), Path("step_10/a/traces.jsonl")])
    ((2, 10), "the number in its folder's name")
    """

    def last_number(name: str) -> int | None:
        found = re.findall(r"\d+", name)
        return int(found[-1]) if found else None

    names = [last_number(p.name.split(".")[0]) for p in files]
    if all(n is not None for n in names) and len(set(names)) == len(names):
        return tuple(n for n in names if n is not None), "the number in its name"
    for up in range(1, 4):
        folders = [
            last_number(p.parents[up - 1].name) if len(p.parts) > up else None for p in files
        ]
        steps = tuple(n for n in folders if n is not None)
        if len(steps) == len(files) and len(set(steps)) > 1:
            return steps, "the number in its folder's name"
    return tuple(range(len(files))), "its position in the list"


def _named(mapping: ColumnMap) -> list[str]:
    """The columns the flags name."""
    single = (mapping.step, mapping.group, mapping.length, mapping.task, mapping.baseline)
    return [c for c in (*single, *mapping.reward, *mapping.components) if c]


def _credit(reasons: Sequence[str], user: ColumnMap, preset: presets.Preset) -> list[str]:
    """Say which choices came from the preset, not from flags the user did not pass."""
    flags = {
        "--step-col": user.step,
        "--group-col": user.group,
        "--reward-col": user.reward,
        "--length-col": user.length,
        "--task-col": user.task,
        "--baseline-col": user.baseline,
        "--component-col": user.components,
    }
    out = []
    for reason in reasons:
        for flag, given in flags.items():
            if not given:
                reason = reason.replace(f"(from {flag})", f"(the {preset.name} preset)")
        if "(from --group-size)" in reason and not user.group_size and preset.blocks_from:
            reason = reason.replace(
                "(from --group-size)",
                f"(inferred: '{preset.blocks_from}' repeats in runs of this size, TRL's "
                "num_generations; override with --group-size)",
            )
        out.append(reason)
    return out


def _check_same_layout(files: Sequence[Path], schemas: Sequence[pl.Schema], det: Detection) -> None:
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


def _is_text(dtype: pl.DataType | None) -> bool:
    """Text, or text held as categories (a Parquet dictionary, ``pl.Categorical``/``Enum``)."""
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def _whole_numbers_as_text(frame: pl.LazyFrame, column: str) -> bool:
    """Is ``column`` text whose first values all read as whole numbers? (A sample: a later
    value that does not is refused by the step check, naming its line.)"""
    if not _is_text(frame.collect_schema().get(column)):
        return False
    try:
        sample = (
            frame.select(pl.col(column).cast(pl.String)).head(1000).collect()[column].drop_nulls()
        )
    except READ_ERRORS:
        return False  # the read proper reports the file's problem
    return sample.len() > 0 and bool(sample.str.contains(WHOLE_NUMBER).all())


def _numbers_and_text(schemas: Sequence[pl.Schema], column: str | None) -> bool:
    """Does ``column`` hold numbers in some files and something else in others?"""
    dtypes = [s.get(column) for s in schemas] if column else []
    return len({d.is_numeric() for d in dtypes if d is not None and d != pl.Null}) > 1


def _check_consistent_steps(
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
            "another step column with --step-col",
        )


def load(
    paths: Sequence[str | Path],
    mapping: ColumnMap | None = None,
    *,
    skip_bad_lines: bool = False,
    source: str = "auto",
    nan_rewards: NanRewards | None = None,
) -> Log:
    """Read a log (files, folders, globs) lazily into the canonical frame.

    Only schemas are read here; the rows are read when the caller collects. With
    ``skip_bad_lines`` every JSONL file is first parsed once; one that fails is read
    without its malformed lines (a truncated last line after a crash, say), and the
    skipped line numbers are kept in :attr:`Log.skipped_lines`. ``source`` names a trainer
    preset (:mod:`grpoflaw_cli.presets`) or ``auto`` to recognise one; flags in ``mapping``
    win over the preset's choices. ``nan_rewards`` overrides the preset's rule for
    missing rewards (``nansum`` with ``--framework trl``).
    """
    user = mapping or ColumnMap()
    files = resolve_paths(paths)
    formats: list[Format] = []
    schemas: list[pl.Schema] = []
    sources: list[Source] = []
    skipped: list[tuple[str, tuple[int, ...]]] = []
    warnings: list[str] = []
    layouts: set[tuple[object, ...]] = set()
    whole = small_log(files)  # JSONL schemas from every line, not the first 100
    for path in files:
        fmt = file_format(path)
        assert fmt is not None  # resolve_paths only returns known formats
        data: Source = readable_name(path)  # what Polars scans: a UTF-8 name
        if fmt == "jsonl" and (
            _starts_with_bom(path)  # a mark Polars' reader would stop at
            or (skip_bad_lines and not _parses(data, fmt))
        ):
            data, bad = cleaned_jsonl(path, skip_bad_lines)  # a temporary copy
            if bad:
                skipped.append((str(path), bad))
        formats.append(fmt)
        sources.append(data)
        schemas.append(_schema(path, fmt, data, whole))
        layout = (fmt, tuple(schemas[-1].items()))
        if layout not in layouts:  # one file of each layout is checked: a writer repeats
            layouts.add(layout)
            twice = duplicate_names(path, fmt, data, schemas[-1])
            if twice is not None:
                warnings.append(twice)
    if not whole:  # a field that first appears late, under a name that matters
        schemas = with_late_columns(files, formats, sources, schemas, [*ROLE_NAMES, *_named(user)])
    first_types: dict[str, str] = {}
    for schema in schemas:
        for name, dt in schema.items():
            first_types.setdefault(name, dt._string_repr())
    preset = presets.choose(files, first_types, source)
    shaped: list[pl.LazyFrame] = []  # each file as the preset reshapes it, built once
    fields: tuple[str, ...] = ()
    if preset.explode or preset.reshape or preset.unpack:
        shaped = [
            _reshape(_scan_exploded(path, data, fmt, preset.explode), preset.reshape, str(path))
            for path, data, fmt in zip(files, sources, formats, strict=True)
        ]
        fields = _component_fields(shaped[0], preset.unpack) if preset.unpack else ()
        shaped = [_unpack(frame, preset.unpack, fields) for frame in shaped]
        if preset.explode or preset.reshape or fields:  # else the files' own schemas hold
            schemas = [frame.collect_schema() for frame in shaped]
    mapping = presets.merge(preset.mapping, user)
    fitted: tuple[float, ...] | None = None
    unpack_note: list[str] = []
    if preset.unpack and len(fields) > 1 and not (user.reward or user.components):
        mapping, fitted, unpack_note = _metrics_as_components(
            shaped[0], preset.unpack, fields, mapping
        )
    if preset.blocks_from and not (user.group or user.group_size):
        size = _block_size(sources[0], formats[0], preset.blocks_from)
        if size is not None:
            mapping = replace(mapping, group=None, group_size=size)
    seen: dict[str, None] = {}  # the columns in order of appearance (a dict: linear)
    for path, schema in zip(files, schemas, strict=True):
        seen.update(dict.fromkeys(schema.names()))
        problem = header_problem(path, schema.names())
        if problem is not None:
            raise problem
    columns = list(seen)
    if not columns:
        raise InputError(f"'{files[0]}' is empty: no rows or columns")

    numeric_cols = [c for schema in schemas for c, t in schema.items() if t.is_numeric()]
    try:
        det = detect(columns, mapping, numeric_cols)
    except InputError as err:
        more = f" (and {len(files) - 1} more files)" if len(files) > 1 else ""
        raise InputError(f"'{files[0]}'{more}: {err.message}", hint=err.hint) from None
    if len(set(user.components)) == 1:  # named by the user (a preset's one part is fine)
        raise UsageError(
            f"--component-col '{user.components[0]}' is the only component: GDPO normalises "
            "each of two or more parts of the reward, and the aliasing check compares them",
            hint="name every part of the reward, each with its own --component-col",
        )
    det = replace(
        det,
        source=preset.name,
        framework=preset.framework,
        nan_rewards=nan_rewards or preset.nan_rewards,
        logged_advantage=preset.logged_advantage,
        logged_estimator=preset.logged_estimator,
        explode=preset.explode,
        reshape=preset.reshape,
        unpack=preset.unpack if fields else None,
        unpack_fields=fields,
        fitted_weights=fitted,
        ddof=preset.ddof,
        eps=preset.eps,
        reasons=(
            f"source: {preset.name} ({preset.why}); {preset.framework} conventions"
            + (f" with std ddof={preset.ddof}, eps={preset.eps:g}" if preset.eps else ""),
            *(
                r
                for r in _credit(det.reasons, user, preset)
                if not (fitted and r.startswith("components ←"))
            ),
            *unpack_note,
            *(
                [
                    f"advantage: '{preset.logged_advantage}' holds the trainer's own advantage "
                    f"(compared with {preset.logged_estimator})"
                ]
                if preset.logged_advantage
                else []
            ),
        ),
    )
    _check_consistent_steps(files, schemas, det.step_col)
    if det.group_mode == "column" and _numbers_and_text(schemas, det.group_col):
        det = replace(
            det,
            group_as_text=True,
            reasons=(
                *det.reasons,
                f"group: '{det.group_col}' holds numbers in some files and text in others: "
                'read as text, whole numbers as their digits (1, 1.0 and "1" are one group)',
            ),
        )
    _check_same_layout(files, schemas, det)
    left_out = {
        c: None
        for p, f in zip(files, formats, strict=True)
        if f == "parquet"
        for c in unreadable_columns(p)
    }
    if left_out:
        det = replace(
            det,
            reasons=(
                *det.reasons,
                f"left out: {', '.join(map(repr, left_out))}: "
                f"decimals of more than {DECIMAL_DIGITS} digits, which Polars cannot read",
            ),
        )
    if det.step_col and _whole_numbers_as_text(
        shaped[0] if shaped else _scan(sources[0], formats[0]), det.step_col
    ):
        det = replace(
            det,
            step_as_integer=True,
            reasons=tuple(
                r + "; whole numbers written as text, read as integers"
                if r.startswith("step ")
                else r
                for r in det.reasons
            ),
        )
    file_steps: tuple[int, ...] = ()
    if det.step_col is None and len(files) > 1:
        file_steps, how = steps_from_file_names(files)
        shared = len(set(file_steps)) < len(files)  # subsets of a step: groups stay apart
        det = replace(
            det,
            group_per_file=shared and det.group_mode == "column",
            reasons=tuple(
                f"step: no step column; each of the {len(files)} files is "
                + ("part of " if shared else "")
                + f"one iteration, numbered by {how} (map a column with --step-col)"
                + ("; a group never spans two files" if shared else "")
                if r.startswith("step:")
                else r
                for r in det.reasons
            ),
        )
    numeric = {c: "reward" for c in det.reward_cols}
    numeric |= {c: "component" for c in det.component_cols if c not in det.reward_cols}
    if det.length_col:
        numeric[det.length_col] = "length"
    if det.baseline_col:
        numeric[det.baseline_col] = "baseline"

    for index, (path, fmt, schema) in enumerate(zip(files, formats, schemas, strict=True)):
        for col, flag in ((det.step_col, "--step-col"), (det.group_col, "--group-col")):
            dtype = schema.get(col) if col else None
            if dtype is not None and dtype.is_nested():
                raise InputError(
                    f"'{path}', column '{col}': holds {dtype}, not a number or text",
                    hint=f"map a column of plain values with {flag}",
                )
        for col, role in numeric.items():
            _check_numeric(path, fmt, sources[index], schema, col, role)
    first = _prepared(det, 0, sources[0], formats[0], schemas[0], file_steps)
    frame = (
        first if len(files) == 1 else _read_all(det, files, formats, sources, schemas, file_steps)
    )
    det = replace(det, files=tuple(files), formats=tuple(formats), file_steps=file_steps)
    if det.group_col is not None and det.group_col.lower() == "uid" and _verl_v1_uids(first, det):
        det = replace(
            det,
            group_key="verl_uid",
            reasons=(
                *det.reasons,
                f"group: '{det.group_col}' holds verl v1 uids '<prompt>_<session>_<index>': "
                "grouped by the '<prompt>' prefix",
            ),
        )
        sessions = _multi_output_sessions(first, carried_name(det.group_col or "uid"))
        if sessions:
            det = replace(
                det,
                sessions=True,
                reasons=(
                    *det.reasons,
                    f"sessions: {sessions} multi-turn sessions in the first file have several "
                    "outputs; as verl's v1 trainer, the group statistics use each session's "
                    "last output and every output gets its session's advantage",
                ),
            )
    return Log(
        frame=canonicalize(frame, det),
        detection=det,
        sources=tuple(sources),
        skipped_lines=tuple(skipped),
        warnings=_few(warnings),
        read_as=(user, skip_bad_lines, source),
    )


def _few(warnings: Sequence[str], most: int = 5) -> tuple[str, ...]:
    """The first ``most`` warnings, and how many more there are (one per file could be
    20,000 lines)."""
    more = len(warnings) - most
    return (*warnings[:most], *([f"… and {more:,} more such warnings"] if more > 0 else []))


def reread(log: Log, nan_rewards: NanRewards) -> Log:
    """The same files read as before, under another rule for missing rewards."""
    if log.detection.nan_rewards == nan_rewards:
        return log
    mapping, skip_bad_lines, source = log.read_as
    return load(
        list(log.detection.files),
        mapping,
        skip_bad_lines=skip_bad_lines,
        source=source,
        nan_rewards=nan_rewards,
    )


def _explode(frame: pl.LazyFrame, column: str | None) -> pl.LazyFrame:
    """One row per group holding a list of rollouts → one row per rollout, with the
    group's position in the file as ``group_index`` (OpenPipe ART's JSONL). A line whose
    list is empty or null holds no rollout: it adds no row."""
    if column is None:
        return frame
    return frame.with_row_index("group_index").explode(column, keep_nulls=False).unnest(column)


def _scan_exploded(path: Path, data: Source, fmt: Format, column: str | None) -> pl.LazyFrame:
    """:func:`_explode` of a file's scan, refusing a file with no rollout object in any
    line (a JSONL file's schema is then taken from every line first: the rollouts may all
    come after the lines the schema was inferred from)."""
    frame = _scan(data, fmt)
    if column is None or trainer_rows.holds_rollouts(frame, column):
        return _explode(frame, column)
    if fmt == "jsonl":
        try:
            _whole_file_schema(data)  # kept: the file's later scans use it
        except READ_ERRORS as exc:
            raise locate_read_error(path, fmt, exc) from exc
        frame = _scan(data, fmt)
    if not trainer_rows.holds_rollouts(frame, column):
        raise trainer_rows.no_rollouts(str(path), column, frame.collect_schema().get(column))
    return _explode(frame, column)


def _reshape(frame: pl.LazyFrame, name: str | None, where: str = "the log") -> pl.LazyFrame:
    """A preset's reshaping of its rows (see :attr:`presets.Preset.reshape`)."""
    if name != "nemo-rl":
        return frame
    # NeMo-RL writes each field as a batch slice of one: `rewards: [r]`, `token_ids: [[...]]`.
    schema = frame.collect_schema()
    depth = {n: trainer_rows.list_depth(t) for n, t in schema.items()}
    for needed in ("rewards", "content"):
        if needed not in depth:
            raise InputError(
                f"'{where}' has no '{needed}' field, which every NeMo-RL "
                "train_data_step{N}.jsonl line has",
                hint="keep only NeMo-RL step files in the folder, or pass --source generic "
                "and map the columns",
            )

    # A batch slice must be of one: a longer or empty one fails the read (an index out of
    # bounds), which trainer_rows.explain then names; it is never read as its first value.
    # The reward checks every field's slice: Polars does not evaluate a branch no row takes
    # (the first message, when every prompt is read from its tokens).
    sliced = [n for n, d in presets.NEMO_RL_SLICED.items() if depth.get(n, 0) > d]
    sizes = [pl.col(n).list.len().fill_null(1) == 1 for n in sliced]

    def field(name: str, keep: int) -> pl.Expr:
        """``name`` unwrapped down to ``keep`` levels of lists (0: a scalar)."""
        expr, levels = pl.col(name), depth[name] - keep
        if name in sliced and levels > 0:
            size = expr.list.len()
            ok = pl.all_horizontal(sizes) if name == "rewards" else size == 1
            expr = expr.list.get(pl.when(ok).then(0).otherwise(size), null_on_oob=False)
            levels -= 1
        for _ in range(levels):
            expr = expr.list.first()
        return expr

    # The prompt: the first message, or better (its baseline groups identical prompt
    # tokens) the tokens before the first trained one; every token carries the row's
    # advantage. A row with no trained token keeps its first message.
    prompt = field("content", 0).cast(pl.String).hash()
    extra: list[pl.Expr] = []
    if depth.get("token_loss_mask", 0) >= 1:
        mask = field("token_loss_mask", 1).cast(pl.List(pl.Float64))
        first = mask.list.arg_max()
        if depth.get("token_ids", 0) >= 1:
            tokens = field("token_ids", 1).list.head(first).hash()
            prompt = pl.when(mask.list.max() > 0).then(tokens).otherwise(prompt)
            if depth.get("advantages", 0) >= 1:
                adv = field("advantages", 1).list.get(first, null_on_oob=True)
                extra.append(adv.cast(pl.Float64).alias("advantage"))
        extra.append(mask.list.sum().alias("response_tokens"))
    columns = [field("rewards", 0).cast(pl.Float64).alias("reward"), prompt.alias("prompt")]
    scalars = [pl.col(n) for n in ("idx",) if n in depth] + [
        field(n, 0).alias(n) for n in ("input_lengths", "sample_loss_mask") if n in depth
    ]
    return frame.select(*columns, *extra, *scalars)


FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _component_fields(frame: pl.LazyFrame, column: str) -> tuple[str, ...]:
    """The numeric (or true/false) fields of a JSON-string or struct column, from its
    first 100 values (text that is no JSON object is passed over): prime-rl's per-rubric
    ``metrics``, say. None if it is neither."""
    dtype = frame.collect_schema().get(column)
    if isinstance(dtype, pl.Struct):
        return tuple(
            f.name
            for f in dtype.fields
            if (f.dtype.is_numeric() or f.dtype == pl.Boolean) and FIELD_NAME.fullmatch(f.name)
        )
    if dtype != pl.String:
        return ()
    try:
        texts = frame.select(pl.col(column)).drop_nulls().head(100).collect().to_series()
    except READ_ERRORS:
        return ()
    found: dict[str, None] = {}
    for text in texts.to_list():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict):
            for key, value in record.items():
                if isinstance(value, (int, float)) and FIELD_NAME.fullmatch(key):
                    found.setdefault(key)
    return tuple(found)


def _unpack(frame: pl.LazyFrame, column: str | None, fields: Sequence[str]) -> pl.LazyFrame:
    """Each of ``fields`` of a JSON-string or struct ``column`` as a Float64 column
    ``<column>.<field>``: null where a row, or a whole file, lacks it."""
    if column is None or not fields:
        return frame
    source, dtype = pl.col(column), frame.collect_schema().get(column)
    missing = pl.lit(None, pl.Float64)
    if dtype is None:
        parts = [missing for _ in fields]
    elif isinstance(dtype, pl.Struct):
        present = {f.name for f in dtype.fields}
        parts = [source.struct.field(f) if f in present else missing for f in fields]
    else:  # JSON text: each field's literal, true/false as 1/0
        parts = [
            source.str.json_path_match(f"$.{f}").replace({"true": "1", "false": "0"})
            for f in fields
        ]
    return frame.with_columns(
        p.cast(pl.Float64, strict=False).alias(f"{column}.{f}")
        for p, f in zip(parts, fields, strict=True)
    )


def _metrics_as_components(
    first: pl.LazyFrame, column: str, fields: Sequence[str], mapping: ColumnMap
) -> tuple[ColumnMap, tuple[float, ...] | None, list[str]]:
    """The mapping with the unpacked ``column`` fields as the reward's components, when the
    reward is their weighted sum on ``first``'s rows (:func:`_reward_parts`), their
    weights, and the line ``inspect`` shows either way."""
    unpacked = [f"{column}.{f}" for f in fields]
    parts, weights = _reward_parts(first, mapping.reward[0], unpacked)
    if len(parts) > 1:
        note = (
            f"components ← {', '.join(parts)}: the reward is "
            + " + ".join(f"{w:g}·{c}" for w, c in zip(weights, parts, strict=True))
            + f" on the first rows, so these fields of '{column}' are its parts"
        )
        return replace(mapping, components=parts), weights, [note]
    note = (
        f"'{column}' fields {', '.join(unpacked)} are read as columns, not reward "
        "components: they do not add up to the reward (name parts with --component-col)"
    )
    return mapping, None, [note]


def _reward_parts(
    frame: pl.LazyFrame, reward: str, columns: Sequence[str]
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The columns the reward is a weighted sum of, and the weights: least squares on the
    first 1,000 rows with a reward and some part (a missing part counts 0). None when the
    sum does not
    hold to 1e-6: then the columns are metrics, not parts of the reward (ART's
    ``metrics`` may hold turn counts and timings beside reward terms)."""
    import numpy as np

    try:
        sample = (
            frame.select(pl.col(reward).cast(pl.Float64), *(pl.col(c) for c in columns))
            .drop_nulls(reward)
            .filter(pl.any_horizontal(pl.col(c).is_not_null() for c in columns))
            .head(1000)
            .fill_null(0.0)
            .collect()
        )
    except READ_ERRORS:
        return (), ()
    if sample.height <= len(columns):
        return (), ()
    parts = sample.select(columns).to_numpy()
    target = sample[reward].to_numpy()
    if not (np.isfinite(parts).all() and np.isfinite(target).all()):
        return (), ()
    # A column constant in the sample is indistinguishable from the reward's offset, and
    # collinear ones split their weight arbitrarily: fit only varying, independent ones.
    varying = np.ptp(parts, axis=0) > 0
    columns = [c for c, v in zip(columns, varying, strict=True) if v]
    parts = parts[:, varying]
    if len(columns) < 2 or np.linalg.matrix_rank(parts) < len(columns):
        return (), ()
    weights = np.linalg.lstsq(parts, target, rcond=None)[0]
    scale = max(float(np.abs(target).max()), 1e-300)
    if float(np.abs(parts @ weights - target).max()) > 1e-6 * scale:
        return (), ()
    used = np.abs(weights) * np.abs(parts).max(0) > 1e-9 * scale
    kept = [(c, float(f"{w:.12g}")) for c, w, u in zip(columns, weights, used, strict=True) if u]
    return tuple(c for c, _ in kept), tuple(w for _, w in kept)


def _block_size(data: Source, fmt: Format, column: str) -> int | None:
    """The run length by which ``column`` repeats in consecutive rows (TRL writes
    ``num_generations`` completions of a prompt one after the other): the gcd of the run
    lengths, or None if it does not repeat."""
    try:
        keys = _scan(data, fmt).select(pl.col(column).hash()).collect().to_series()
    except READ_ERRORS:
        return None
    if keys.len() < 2:
        return None
    import numpy as np  # here only: plain commands (inspect) start faster without it

    runs = keys.rle().struct.field("len").to_numpy()
    size = int(np.gcd.reduce(runs))
    return size if size > 1 else None


def _overrides(det: Detection, fmt: Format, schema: pl.Schema | None) -> dict[str, pl.DataType]:
    """Reward and length read as Float64 (so a late non-integer does not break an integer
    guess); a length that is a list of tokens stays one."""
    if fmt == "parquet" or det.explode is not None or det.reshape is not None:
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


def _prepared(
    det: Detection,
    index: int,
    data: Source,
    fmt: Format,
    schema: pl.Schema | None = None,
    file_steps: Sequence[int] | None = None,
) -> pl.LazyFrame:
    """The scan of one file as the log uses it: numbers read as such (:func:`_overrides`),
    nested rollouts exploded, and the internal columns added."""
    overrides = _overrides(det, fmt, schema)
    frame = _reshape(_explode(_scan(data, fmt, overrides or None), det.explode), det.reshape)
    frame = _unpack(frame, det.unpack, det.unpack_fields)
    if schema is None or det.unpack or det.group_as_text:
        schema = frame.collect_schema()
    frame = _as_read(frame, det, schema)
    return _tag(frame, index, det.file_steps if file_steps is None else file_steps)


def _read_all(
    det: Detection,
    files: Sequence[Path],
    formats: Sequence[Format],
    sources: Sequence[Source],
    schemas: Sequence[pl.Schema],
    file_steps: Sequence[int],
) -> pl.LazyFrame:
    """Every file as the log uses it, in order: consecutive files of one format and schema
    in one scan (a run of 20,000 step files is one scan, not a concat of 20,000), any
    other file (reshaped by a preset, or one :func:`~grpoflaw_cli.readers.batchable` says
    must be scanned alone) by itself. A cleaned copy is read in its file's stead."""
    runs: list[list[int]] = []
    last: object = None
    for index, (fmt, data, schema) in enumerate(zip(formats, sources, schemas, strict=True)):
        joins = (
            batchable(data)
            and det.explode is None
            and det.reshape is None
            and det.unpack is None
            and not any(carried_name(n) != n for n in schema.names())
        )
        read_as = {**schema, **_overrides(det, fmt, schema)}  # an int reward is read as float
        key = (fmt, tuple(read_as.items())) if joins else None
        if key is not None and key == last:
            runs[-1].append(index)
        else:
            runs.append([index])
        last = key
    scans = [
        _prepared(det, run[0], sources[run[0]], formats[run[0]], schemas[run[0]], file_steps)
        if len(run) == 1
        else _prepared_many(
            det, run, [sources[i] for i in run], formats[run[0]], schemas[run[0]], file_steps
        )
        for run in runs
    ]
    return scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")


def _prepared_many(
    det: Detection,
    indexes: Sequence[int],
    paths: Sequence[Path],
    fmt: Format,
    schema: pl.Schema,
    file_steps: Sequence[int],
) -> pl.LazyFrame:
    """:func:`_prepared` for consecutive files of one format and schema, in one scan."""
    frame = _as_read(_scan_many(paths, fmt, schema, _overrides(det, fmt, schema)), det, schema)
    where = pl.col(PATH_COL)
    keys = [os.path.abspath(p) for p in paths]  # as the scan names them
    tags = [where.replace_strict(keys, list(indexes), return_dtype=pl.UInt32).alias(FILE_COL)]
    if file_steps:
        steps = [file_steps[i] for i in indexes]
        tags.append(where.replace_strict(keys, steps, return_dtype=pl.Int64).alias(FILE_STEP_COL))
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


def _multi_output_sessions(frame: pl.LazyFrame, uid: str) -> int:
    """How many '<prompt>_<session>' keys have several outputs (first file only)."""
    try:
        sessions = (
            frame.select(pl.col(uid).cast(pl.String).str.replace(r"_\d+$", "").alias("s"))
            .group_by("s")
            .len()
        )
        return int(sessions.filter(pl.col("len") > 1).select(pl.len()).collect().item())
    except READ_ERRORS:
        return 0


def _verl_v1_uids(frame: pl.LazyFrame, det: Detection) -> bool:
    """Do the first values of the group column look like verl v1 uids?"""
    assert det.group_col is not None
    try:
        head = frame.select(pl.col(carried_name(det.group_col)).cast(pl.String)).head(64).collect()
    except READ_ERRORS:
        return False  # the real read reports the problem
    values = head.to_series().drop_nulls()
    return values.len() > 0 and bool(values.str.contains(VERL_UID).all())


def _input_col(name: str) -> pl.Expr:
    """An input column of a prepared frame, by its input name."""
    return pl.col(carried_name(name))


def canonicalize(frame: pl.LazyFrame, det: Detection) -> pl.LazyFrame:
    """Add the canonical columns to a raw frame according to a :class:`Detection`.

    Canonical columns come first, then the input's columns in their order. An input
    column named like a canonical one but not the source of that role is kept as
    ``src_<name>``.
    """
    names = frame.collect_schema().names()
    weights = det.reward_weights or (1.0,) * len(det.reward_cols)
    parts = [
        _input_col(c).cast(pl.Float64) if w == 1.0 else _input_col(c).cast(pl.Float64) * w
        for c, w in zip(det.reward_cols, weights, strict=True)
    ]
    if det.nan_rewards == "nansum":
        # TRL: a NaN component counts as 0 unless every component is NaN (unscorable).
        parts = [part.fill_nan(None) for part in parts]
        unscorable = pl.all_horizontal(part.is_null() for part in parts)
        reward = pl.when(unscorable).then(None).otherwise(pl.sum_horizontal(parts))
    else:
        reward = parts[0]
        for part in parts[1:]:
            reward = reward + part  # a null component makes the sum null: never a silent 0
    if det.step_col:
        step = _input_col(det.step_col)
        if _is_text(frame.collect_schema().get(carried_name(det.step_col))):
            step = step.cast(pl.String)  # categories sort as their text, not their codes
        if det.step_as_integer:  # a value that is no whole number becomes null: refused
            step = step.str.strip_chars().str.strip_prefix("+").cast(pl.Int64, strict=False)
    elif det.file_steps:
        step = pl.col(FILE_STEP_COL)
    else:
        step = pl.lit(0, pl.Int64)
    if det.group_mode == "column":
        assert det.group_col is not None
        group = _input_col(det.group_col)
        if det.group_key == "verl_uid":
            group = group.cast(pl.String).str.replace(VERL_UID, "")
    elif det.group_mode == "blocks":
        assert det.group_size is not None
        group = pl.int_range(pl.len(), dtype=pl.Int64).over(step) // det.group_size
    else:
        group = pl.lit(0, pl.Int64)
    if det.group_per_file:  # "<file index>:<group>"
        group = pl.concat_str(pl.col(FILE_COL).cast(pl.String), pl.lit(":"), group.cast(pl.String))

    canon: dict[str, pl.Expr] = {"step": step, "group": group, "reward": reward}
    sources: dict[str, str | None] = {
        # a converted step keeps its text beside it (as src_step if so named), for messages
        "step": None if det.step_as_integer else det.step_col,
        "group": det.group_col if det.group_mode == "column" else None,
        "reward": det.reward_cols[0] if len(det.reward_cols) == 1 and weights[0] == 1.0 else None,
    }
    if det.length_col:
        length_dtype = frame.collect_schema().get(carried_name(det.length_col))
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
    if det.sessions and det.group_col is not None:
        uid = _input_col(det.group_col).cast(pl.String)
        canon[SESSION_COL] = uid.str.replace(r"_\d+$", "")
        canon[LAST_COL] = uid.str.extract(r"_(\d+)$").cast(pl.Int64)
    # A column that *is* its canonical role (same name) is replaced, not duplicated.
    replaced = {role for role, col in sources.items() if col == role}
    # An input column named like a canonical role, or like an output column (a file that
    # `grpoflaw advantages` wrote, read back), is carried as src_<name>.
    taken = set(canon) | set(names)
    carried = []
    for n in names:
        if n in replaced:
            continue
        alias = n
        if n in canon or n.startswith(presets.OUTPUT_PREFIX):
            alias = f"src_{n}"
            while alias in taken:  # read back twice: src_adv_grpo is taken too
                alias = f"src_{alias}"
            taken.add(alias)
        carried.append(pl.col(n).alias(alias))
    return frame.select([expr.alias(role) for role, expr in canon.items()] + carried)


@contextlib.contextmanager
def explained(log: Log) -> Iterator[None]:
    """Run a read of ``log`` (a sink, say), turning read failures into :class:`InputError`
    as :func:`collect` does."""
    try:
        yield
    except READ_ERRORS as exc:
        raise _explain_failure(log, exc) from exc


def collect(log: Log, query: pl.LazyFrame, *, streaming: bool = False) -> pl.DataFrame:
    """Collect a query over ``log.frame``, turning read failures into :class:`InputError`.

    ``streaming`` runs Polars' streaming engine (bounded memory; right for aggregations).
    On failure each file is re-read alone to name the one at fault (and, for JSONL, the
    line), so the happy path pays nothing for good messages.
    """
    try:
        return query.collect(engine="streaming" if streaming else "auto")
    except READ_ERRORS as exc:
        raise _explain_failure(log, exc) from exc


def _explain_failure(log: Log, exc: BaseException) -> InputError:
    det = log.detection
    for index, (path, fmt) in enumerate(zip(det.files, det.formats, strict=True)):
        source = log.source(index)
        numeric: list[str] = []
        try:
            raw = _scan(source, fmt)
            schema = raw.collect_schema()
            numeric = [
                c
                for c in (*det.reward_cols, det.length_col)
                if c and c in schema and not isinstance(schema[c], pl.List)  # token lists
            ]
            names = schema.names()
            # Parsed in full but held by no one: a count per column, streamed.
            read = (
                raw
                if fmt == "parquet"
                else _scan(source, fmt, dict.fromkeys(numeric, pl.Float64()))
            )
            columns = pl.col(numeric or names[:1]) if fmt == "parquet" else pl.all()
            read.select(columns.null_count()).collect(engine="streaming")
        except READ_ERRORS as file_exc:
            if fmt != "parquet" and numeric:
                bad = _first_non_numeric(path, fmt, source, numeric)
                if bad:
                    return bad
            keys = {
                c: f for c, f in ((det.step_col, "--step-col"), (det.group_col, "--group-col")) if c
            }
            return locate_read_error(path, fmt, file_exc, numeric, keys)
        reshaped = trainer_rows.explain(path, fmt, source, det)  # an ART or NeMo-RL row
        if reshaped is not None:
            return reshaped
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    files = ", ".join(str(f) for f in det.files[:3])
    return InputError(
        f"cannot read the log ({files}{'…' if len(det.files) > 3 else ''}): {detail}",
        hint="the files may disagree on a column's type; read them one at a time to find it",
    )


def facts(log: Log) -> dict[str, object]:
    """What ``inspect`` reports about the rows: counts, group sizes, reward range, missing
    rewards and duplicate rows. One streaming aggregation plus the duplicate count. Group
    sizes and rewards are those ``compare`` uses (a verl multi-turn session's last output);
    rows with no step or group are counted, as ``compare`` will refuse them."""
    per_group = log.stats_frame.group_by("step", "group").agg(
        pl.len().alias("n"),
        pl.col("reward").null_count().alias("missing"),
        pl.col("reward").min().alias("lo"),
        pl.col("reward").max().alias("hi"),
    )
    stats = collect(
        log,
        per_group.select(
            pl.col("n").sum().alias("rows"),
            pl.col("step").n_unique().alias("iterations"),
            pl.len().alias("groups"),
            pl.col("n").min().alias("size_min"),
            pl.col("n").median().alias("size_median"),
            pl.col("n").max().alias("size_max"),
            pl.col("lo").min().alias("lo"),
            pl.col("hi").max().alias("hi"),
            pl.col("missing").sum().alias("missing"),
            pl.col("n").filter(pl.col("step").is_null()).sum().alias("no_step"),
            pl.col("n").filter(pl.col("group").is_null()).sum().alias("no_group"),
        ),
        streaming=True,
    ).row(0, named=True)
    used = int(stats["rows"] or 0)
    rows = int(collect(log, log.frame.select(pl.len())).item()) if log.detection.sessions else used
    empty = not stats["groups"]
    keys_missing = {
        f"rows without a {role}": int(stats[key] or 0)
        for role, key in (("step", "no_step"), ("group", "no_group"))
        if stats[key]
    }
    return {
        "rows": rows,
        **({"rollouts used": used} if log.detection.sessions else {}),
        **keys_missing,
        "iterations": int(stats["iterations"] or 0),
        "groups": int(stats["groups"] or 0),
        "group sizes": "—"
        if empty
        else f"min {stats['size_min']}, median {stats['size_median']:g}, max {stats['size_max']}",
        "reward range": "—" if empty else f"{stats['lo']} … {stats['hi']}",
        "rewards missing": int(stats["missing"] or 0),
        "duplicate rows": duplicate_rows(log),
    }


def duplicate_rows(log: Log) -> int:
    """Rows identical in every input column to an earlier row (a log concatenated twice,
    a resumed run that rewrote a step). Reads every column: ``inspect`` only.
    """
    # The canonical frame holds every input column (some carried as src_<name>) and values
    # derived from them, but also roles derived from a row's place (a block of rows as the
    # group, a file's name as the step): those would tell a copied row from its original.
    det = log.detection
    placed = {"group"} if det.group_mode != "column" or det.group_per_file else set()
    placed |= {"step"} if det.step_col is None else set()
    names = log.frame.collect_schema().names()
    columns = [c for c in names if not c.startswith(INTERNAL_PREFIX) and c not in placed]
    hashed = log.frame.select(pl.struct(columns).hash().alias("h"))
    return int(collect(log, hashed.select(pl.len() - pl.col("h").n_unique()))[0, 0])


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


def check_rewards(log: Log, table: pl.DataFrame) -> None:
    """Refuse missing steps or groups and missing or non-finite rewards, naming the file,
    line and column.

    ``table`` is the per-group statistics; only if it shows a bad value are the files
    re-read to find the first offending row.
    """
    det = log.detection
    if det.step_col and _missing(table["step"]):
        text = f"src_{det.step_col}" if det.step_col == "step" else det.step_col
        extra = [text] if det.step_as_integer else []
        path, where, row = _first_row(log, _is_missing(table["step"]), extra=extra)
        raw = row[text][0] if extra else None
        raise InputError(
            f"'{path}', {where}: no value (null or NaN) in the step column '{det.step_col}'"
            if raw is None
            else f"'{path}', {where}: the step {quoted(raw)} is not a whole number like the "
            "column's other steps",
            hint="fill it in, or map another column with --step-col"
            if raw is None
            else "fix or drop that row, or map another column with --step-col",
        )
    if det.group_mode == "column" and _missing(table["group"]):
        path, where, _ = _first_row(log, _is_missing(table["group"]))
        raise InputError(
            f"'{path}', {where}: no value (null or NaN) in the group column '{det.group_col}'",
            hint="fill it in, or map another column with --group-col or --group-size N",
        )
    if det.group_mode == "column" and _inexact(table["group"]):
        path, where, row = _first_row(log, pl.col("group").abs() >= EXACT_FLOAT)
        raise InputError(
            f"'{path}', {where}: the group id {quoted(row['group'][0])} in '{det.group_col}' is "
            f"read as a float, and floats of 2^53 or more cannot tell whole "
            "numbers apart (distinct ids would merge)",
            hint="the column mixes whole numbers and fractions, or holds huge numbers: write "
            "the ids as text, or map another column with --group-col",
        )
    if (
        det.length_col
        and table.filter(
            ~pl.col("len_sum").is_finite() | (pl.col("len_min") < 0)  # < 0: missing too
        ).height
    ):
        length = pl.col("length")
        path, where, row = _first_row(
            log, length.is_null() | ~length.is_finite() | (length < 0), extra=[det.length_col]
        )
        raise InputError(
            f"'{path}', {where}: the response length '{det.length_col}' is missing, negative "
            f"or not finite ({quoted(row[det.length_col][0])})",
            hint="fix it, or map another column with --length-col",
        )
    if (
        det.baseline_col
        and table.filter(
            (pl.col("baseline_null") > 0) | ~pl.col("gap_mean").fill_null(0.0).is_finite()
        ).height
    ):
        b = pl.col("baseline")
        path, where, row = _first_row(log, b.is_null() | ~b.is_finite(), extra=[det.baseline_col])
        raise InputError(
            f"'{path}', {where}: the baseline '{det.baseline_col}' is missing or not finite "
            f"({quoted(row[det.baseline_col][0])})",
            hint="fix it, or map another column with --baseline-col",
        )
    missing_ok = det.nan_rewards == "nansum"  # TRL: unscorable rows, advantage 0
    bad = table.filter(
        ((pl.col("n_null") > 0) & (not missing_ok))
        | ~pl.col("mean_shifted").fill_null(0.0).is_finite()
    )
    if bad.height == 0:
        largest = float(
            table.select(pl.max_horizontal(pl.col("min").abs(), pl.col("max").abs()).max()).item()
        )
        if largest > MAX_ABS_REWARD:
            path, where, _ = _first_row(log, pl.col("reward").abs() > MAX_ABS_REWARD)
            raise InputError(
                f"'{path}', {where}: a reward of magnitude {largest:.3g} overflows float64 "
                "arithmetic (squares and sums of squares)",
                hint=f"rescale the rewards below {MAX_ABS_REWARD:g}, or fix the reward function",
            )
        return
    reward = pl.col("reward")
    path, where, row = _first_row(
        log, ~reward.is_finite() if missing_ok else (reward.is_null() | ~reward.is_finite())
    )
    what = ", ".join(f"{c}={quoted(row[c][0])}" for c in det.reward_cols if c in row.columns)
    raise InputError(
        f"'{path}', {where}: the reward is missing or not finite ({what})",
        hint="fix or drop that rollout; rewards must be finite numbers (NaN, null and ±inf "
        "cannot be turned into advantages). If a missing reward means 'unscorable' in your "
        "trainer, as in TRL, pass --framework trl: such rollouts then get advantage 0",
    )


def _first_row(
    log: Log, predicate: pl.Expr, extra: Sequence[str] = ()
) -> tuple[Path, str, pl.DataFrame]:
    """The first canonical row matching ``predicate``: its file, 'line N' and the row.

    Error path only: re-reads the files one at a time.
    """
    det = log.detection
    for index, (path, fmt) in enumerate(zip(det.files, det.formats, strict=True)):
        inputs = [carried_name(c) for c in (*det.reward_cols, *extra)]
        needed = list(dict.fromkeys(["__row", "step", "group", "reward", *inputs]))
        try:
            schema = _scan(log.source(index), fmt).collect_schema()
            raw = _prepared(det, index, log.source(index), fmt, schema)
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
            where = trainer_rows.rollout_where(
                log.source(index), fmt, int(rows["__row"][0]), det.explode
            )
            return path, where, rows.drop("__row").rename({c: input_name(c) for c in inputs})
    raise InputError("the log has missing or non-finite values")  # pragma: no cover
