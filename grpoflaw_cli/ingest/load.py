"""Reading a log: files, folders and globs → one canonical lazy Polars frame (a
:class:`~grpoflaw_cli.ingest.log.Log`), in named phases. Only schemas (and, for a few
decisions, the first rows) are read here; the rows are read when the caller collects.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "rollouts.jsonl"
>>> _ = path.write_text('{"step": 1, "uid": "a", "score": 1}\\n{"step": 1, "uid": "a"}\\n')
>>> log = load([path])
>>> log.detection.reward_cols, log.detection.group_col, log.detection.source
(('score',), 'uid', 'generic')
>>> log.frame.collect()["reward"].to_list()  # a missing score is null: refused later
[1.0, None]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from grpoflaw_cli import progress
from grpoflaw_cli.errors import GrpoflawError, InputError, option, spell
from grpoflaw_cli.formatting import count
from grpoflaw_cli.ingest import checks, trainers
from grpoflaw_cli.ingest.canonical import canonicalize, prepared, read_all
from grpoflaw_cli.ingest.columns import ROLE_NAMES, ColumnMap, Detection, Format, NanRewards
from grpoflaw_cli.ingest.detect import detect
from grpoflaw_cli.ingest.files import (
    DECIMAL_DIGITS,
    READ_ERRORS,
    Source,
    cleaned_jsonl,
    file_format,
    file_schema,
    parses,
    resolve_paths,
    scan_file,
    small_log,
    starts_with_bom,
    unreadable_columns,
)
from grpoflaw_cli.ingest.headers import duplicate_names, header_problem
from grpoflaw_cli.ingest.late_fields import with_late_columns
from grpoflaw_cli.ingest.lines import readable_name
from grpoflaw_cli.ingest.locate import locate_read_error
from grpoflaw_cli.ingest.log import Log
from grpoflaw_cli.ingest.trainers import Choice, Preset, missing_rewards
from grpoflaw_cli.ingest.wandb_tables import is_table, numbered_name, table_copy


@dataclass
class _Files:
    """The files of a log as scanned: per file its format, what is scanned (the file or
    a cleaned copy) and its schema; the lines skipped and the warnings on the way."""

    paths: list[Path]
    formats: list[Format] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    schemas: list[pl.Schema] = field(default_factory=list)
    skipped: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    shaped: list[pl.LazyFrame] = field(default_factory=list)
    """Each file as the trainer's preset reshapes it, built once (if it does)."""


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
    preset (:mod:`grpoflaw_cli.ingest.trainers`) or ``auto`` to recognize one; the
    user's ``mapping`` wins over the preset's choices. ``nan_rewards`` overrides the
    preset's rule for missing rewards (:func:`~grpoflaw_cli.ingest.trainers.missing_rewards`).
    """
    user = mapping or ColumnMap()
    twins: list[tuple[Path, Path]] = []
    read = _scan_files(resolve_paths(paths, twins), skip_bad_lines, user, source)
    read.warnings[:0] = [
        f"'{left}' is the same file as '{kept}' (named twice, or a link): read once"
        for left, kept in twins
    ]
    choice = _choose(read, user, source)
    det = _detect(read, choice, user)
    det = _with_preset(det, choice, user, nan_rewards)
    det = _read_as(det, read)
    det, file_steps = _steps_from_files(det, read.paths)
    checks.check_columns(read.paths, read.formats, read.sources, read.schemas, det)
    first = prepared(det, 0, read.sources[0], read.formats[0], read.schemas[0], file_steps)
    frame = (
        first
        if len(read.paths) == 1
        else read_all(det, read.paths, read.formats, read.sources, read.schemas, file_steps)
    )
    det = replace(det, files=tuple(read.paths), formats=tuple(read.formats), file_steps=file_steps)
    det = trainers.finished(first, det)
    det = replace(det, reasons=tuple(spell(r) for r in det.reasons))  # for the front end
    return Log(
        frame=canonicalize(frame, det),
        detection=det,
        sources=tuple(read.sources),
        skipped_lines=tuple(read.skipped),
        warnings=_few([spell(w) for w in read.warnings]),
        read_as=(user, skip_bad_lines, source),
        schemas=tuple(read.schemas),
    )


def survey(paths: Sequence[str | Path], *, skip_bad_lines: bool = False) -> Survey:
    """The files of a log, their formats and columns in order of appearance, with no role
    detected: what ``inspect`` shows of a log whose roles cannot be found.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "rollouts.jsonl"
    >>> _ = path.write_text('{"step": 1, "value": 1}\\n')
    >>> survey([path]).columns
    ('step', 'value')
    """
    read = _scan_files(resolve_paths(paths), skip_bad_lines, ColumnMap())
    seen: dict[str, None] = {}
    for schema in read.schemas:
        seen.update(dict.fromkeys(schema.names()))
    return Survey(tuple(read.paths), tuple(read.formats), tuple(seen))


@dataclass(frozen=True)
class Survey:
    """A log's files, formats and columns (:func:`survey`)."""

    files: tuple[Path, ...]
    formats: tuple[Format, ...]
    columns: tuple[str, ...]


def _scan_files(
    files: list[Path], skip_bad_lines: bool, user: ColumnMap, source: str | None = None
) -> _Files:
    """Each file's format, what to scan (a cleaned copy of a JSONL file Polars cannot read
    as it is) and its schema; a column named twice is a warning. Fields that first appear
    late are searched for unless the ``source`` trainer's preset says its files cannot
    hold any (:func:`_late_names`)."""
    read = _Files(files)
    layouts: set[tuple[object, ...]] = set()
    whole = small_log(files)  # JSONL schemas from every line, not the first 100
    phase = f"reading the columns of {count(len(files), 'file')}"
    for done, path in enumerate(files):
        progress.advance(phase, done, len(files))
        fmt = file_format(path)
        assert fmt is not None  # resolve_paths only returns known formats
        data: Source = readable_name(path)  # what Polars scans: a UTF-8 name
        if is_table(path):
            data = table_copy(path)  # a W&B table, parsed once into a Parquet copy
        elif fmt == "jsonl" and (
            starts_with_bom(path)  # a mark Polars' reader would stop at
            or (skip_bad_lines and not parses(data, fmt))
        ):
            data, bad = cleaned_jsonl(path, skip_bad_lines)  # a temporary copy
            if bad:
                read.skipped.append((str(path), bad))
        read.formats.append(fmt)
        read.sources.append(data)
        try:
            read.schemas.append(file_schema(path, fmt, data, whole))
        except READ_ERRORS as exc:
            raise locate_read_error(path, fmt, exc) from exc
        layout = (fmt, tuple(read.schemas[-1].items()))
        if layout not in layouts:  # one file of each layout is checked: a writer repeats
            layouts.add(layout)
            twice = duplicate_names(path, fmt, data, read.schemas[-1])
            if twice is not None:
                read.warnings.append(twice)
    if not whole:  # a field that first appears late, under a name that matters
        read.schemas = with_late_columns(
            files, read.formats, read.sources, read.schemas, _late_names(read, user, source)
        )
    return read


def _late_names(read: _Files, user: ColumnMap, source: str | None) -> list[str]:
    """The names a field that first appears late is searched for: the roles' and those
    the user named. Where the trainer the schemas show writes every line of a file with
    the same keys (:attr:`~grpoflaw_cli.ingest.trainers.Preset.same_keys`: verl), a file's
    first lines show all its fields, and only a name the user gave that no schema holds is
    looked for (a search costs about as much as the pass: a native read of every byte)."""
    names = [*ROLE_NAMES, *_named(user)]
    if source is None:
        return names
    try:
        same_keys = trainers.choose(read.paths, _first_types(read), source).same_keys
    except GrpoflawError:  # the real choice, on the searched schemas, says what is wrong
        return names
    if not same_keys:
        return names
    return [n for n in _named(user) if not any(n in schema for schema in read.schemas)]


def _first_types(read: _Files) -> dict[str, str]:
    """Each column's dtype text, as the first file that has it holds it."""
    first_types: dict[str, str] = {}
    for schema in read.schemas:
        for name, dt in schema.items():
            first_types.setdefault(name, dt._string_repr())
    return first_types


def _choose(read: _Files, user: ColumnMap, source: str) -> Choice:
    """The trainer's preset, the files as it reshapes them, and the mapping: the user's
    over the preset's, completed from the first file's rows by the trainer's ``fit`` hook
    (the reward's parts found in a record column, groups as blocks of rows)."""
    preset = trainers.choose(read.paths, _first_types(read), source)
    scans = (
        [
            trainers.scanned(path, data, fmt, preset)
            for path, data, fmt in zip(read.paths, read.sources, read.formats, strict=True)
        ]
        if trainers.reshapes(preset.name)
        else []
    )
    first = (
        trainers.reshaped(scans[0], preset.name, preset, str(read.paths[0]))
        if scans
        else scan_file(read.sources[0], read.formats[0])
    )
    # Blocks of rows by a column (TRL): the fit checks every file's, not only the first's.
    files = (
        [
            (str(path), scan_file(data, fmt))
            for path, data, fmt in zip(read.paths, read.sources, read.formats, strict=True)
        ]
        if preset.blocks_from and not scans
        else []
    )
    choice = trainers.fitted(
        Choice(preset, trainers.merge(preset.mapping, user)), first, user, files
    )
    _reshape_files(read, choice.preset, scans)
    return choice


def _reshape_files(read: _Files, preset: Preset, scans: list[pl.LazyFrame]) -> None:
    """Each file's scan as ``preset``'s trainer reshapes it (its ``reshape`` hook, after
    the ``fit`` found what it needs: a record's fields) into ``read.shaped``, and the
    schemas as reshaped where the rows change."""
    if not scans:  # the trainer reads the files as they are
        return
    read.shaped = [
        trainers.reshaped(frame, preset.name, preset, str(path))
        for frame, path in zip(scans, read.paths, strict=True)
    ]
    if preset.explode or preset.reshape or preset.unpack_fields:
        read.schemas = [frame.collect_schema() for frame in read.shaped]  # else the files' own


def _detect(read: _Files, choice: Choice, user: ColumnMap) -> Detection:
    """The columns in order of appearance (a header that shows a wrong separator is
    refused), and which plays which role (:func:`~grpoflaw_cli.ingest.detect.detect`)."""
    seen: dict[str, None] = {}  # the columns in order of appearance (a dict: linear)
    for path, schema in zip(read.paths, read.schemas, strict=True):
        seen.update(dict.fromkeys(schema.names()))
        problem = header_problem(path, schema.names())
        if problem is not None:
            raise problem
    columns = list(seen)
    if not columns:
        raise InputError(f"'{read.paths[0]}' is empty: no rows or columns")
    numeric_cols = [c for schema in read.schemas for c, t in schema.items() if t.is_numeric()]
    try:
        det = detect(columns, choice.mapping, numeric_cols)
    except InputError as err:
        more = f" (and {len(read.paths) - 1} more files)" if len(read.paths) > 1 else ""
        raise err.prefixed(f"'{read.paths[0]}'{more}: ") from None
    checks.check_components(user)
    return det


def _with_preset(
    det: Detection, choice: Choice, user: ColumnMap, nan_rewards: NanRewards | None
) -> Detection:
    """``det`` with what the preset decided, and the reasons that say so."""
    preset, fields, fitted = choice.preset, choice.preset.unpack_fields, choice.fitted
    source = f"source: {preset.name} ({preset.why}); {preset.framework} conventions" + (
        f" with std ddof={preset.ddof}, eps={preset.eps:g}" if preset.eps is not None else ""
    )
    logged = (
        [
            f"advantage: '{preset.logged_advantage}' holds the trainer's own advantage "
            f"(compared with {preset.logged_estimator})"
        ]
        if preset.logged_advantage
        else []
    )
    assumes = [f"defaults assumed: {preset.assumes}"] if preset.assumes else []
    credited = _credit(det.reasons, user, preset)
    return replace(
        det,
        source=preset.name,
        framework=preset.framework,
        nan_rewards=nan_rewards or missing_rewards(preset.framework) or "refuse",
        logged_advantage=preset.logged_advantage,
        logged_estimator=preset.logged_estimator,
        explode=preset.explode,
        reshape=preset.reshape,
        unpack=preset.unpack if fields else None,
        unpack_fields=fields,
        fitted_weights=fitted or det.fitted_weights,
        ddof=preset.ddof,
        eps=preset.eps,
        reasons=(
            source,
            *(r for r in credited if not (fitted and r.startswith("components ←"))),
            *choice.notes,
            *logged,
            *assumes,
        ),
    )


def _read_as(det: Detection, read: _Files) -> Detection:
    """How the files' values are read where they disagree or surprise: group ids that are
    numbers in some files and text in others, decimals Polars cannot read, steps that are
    whole numbers written as text. Refuses steps that are numbers in one file and text in
    another, and files that lack a column the others have."""
    files, schemas = read.paths, read.schemas
    checks.check_consistent_steps(files, schemas, det.step_col)
    if det.group_mode == "column" and checks.numbers_and_text(schemas, det.group_col):
        det = replace(
            det,
            group_as_text=True,
            reasons=(
                *det.reasons,
                f"group: '{det.group_col}' holds numbers in some files and text in others: "
                'read as text, whole numbers as their digits (1, 1.0 and "1" are one group)',
            ),
        )
    checks.check_same_layout(files, schemas, det)
    left_out = {
        c: None
        for p, f in zip(files, read.formats, strict=True)
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
    first = read.shaped[0] if read.shaped else scan_file(read.sources[0], read.formats[0])
    if det.step_col and checks.whole_numbers_as_text(first, det.step_col):
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
    return det


def _steps_from_files(det: Detection, files: Sequence[Path]) -> tuple[Detection, tuple[int, ...]]:
    """With no step column and several files, the step each file stands for
    (:func:`steps_from_file_names`); files that share a step keep their groups apart."""
    if det.step_col is not None or len(files) < 2:
        return det, ()
    file_steps, how = steps_from_file_names(files)
    shared = len(set(file_steps)) < len(files)  # subsets of a step: groups stay apart
    return replace(
        det,
        group_per_file=shared and det.group_mode == "column",
        reasons=tuple(
            f"step: no step column; each of the {len(files)} files is "
            + ("part of " if shared else "")
            + f"one iteration, numbered by {how} (map a column with {option('step_col')})"
            + ("; a group never spans two files" if shared else "")
            if r.startswith("step:")
            else r
            for r in det.reasons
        ),
    ), file_steps


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

    names = [last_number(numbered_name(p)) for p in files]
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


def _credit(reasons: Sequence[str], user: ColumnMap, preset: Preset) -> list[str]:
    """Say which choices came from the preset, not from settings the user did not give."""
    flags = {
        option("step_col"): user.step,
        option("group_col"): user.group,
        option("reward_cols"): user.reward,
        option("length_col"): user.length,
        option("task_col"): user.task,
        option("baseline_col"): user.baseline,
        option("component_cols"): user.components,
    }
    by_size = f"(from {option('group_size')})"
    out = []
    for reason in reasons:
        for flag, given in flags.items():
            if not given:
                reason = reason.replace(f"(from {flag})", f"(the {preset.name} preset)")
        if by_size in reason and not user.group_size and preset.blocks_from:
            reason = reason.replace(
                by_size,
                f"(inferred: '{preset.blocks_from}' repeats in runs of this size, TRL's "
                f"num_generations; override with {option('group_size')})",
            )
        out.append(reason)
    return out


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
