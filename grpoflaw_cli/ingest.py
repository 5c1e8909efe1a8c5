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
collides with a canonical one is renamed ``src_<name>``). Nothing here prints.

>>> log = load(["sample_data/seed.jsonl"])                       # doctest: +SKIP
>>> log.detection.reward_cols
('reward',)
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import polars as pl

from grpoflaw_cli.errors import InputError, UsageError

CANONICAL = ("step", "group", "reward", "length", "task")
MAX_ABS_REWARD = 1e100
"""Larger rewards would overflow the sums of squares the estimators need."""
READ_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError)
"""What a read can raise on bad input. A Polars panic (a Rust bug hit by odd input, a
``BaseException``) is a read failure too: it gets a message, not a traceback."""
FILE_COL = "__file"
"""Internal column: index of the source file in :attr:`Detection.files`."""
FILE_STEP_COL = "__file_step"
"""Internal column: the step a file stands for, when the log has no step column."""
INTERNAL_PREFIX = "__"
"""Columns starting with this are grpoflaw's own and never written out."""

STEP_NAMES = ("step", "global_step", "iteration", "iter", "training_step", "train_step", "epoch")
GROUP_NAMES = (
    "group",
    "group_id",
    "group_idx",
    "group_index",
    "prompt_id",
    "prompt_idx",
    "problem_id",
    "uid",
    "prompt",
    "input",
    "question",
)
REWARD_NAMES = ("reward", "score", "rewards", "total_reward", "return", "scores")
LENGTH_NAMES = (
    "response_length",
    "response_len",
    "completion_length",
    "output_length",
    "num_tokens",
    "length",
)
TASK_NAMES = ("task", "task_name", "data_source", "dataset", "env_name", "env")

FORMATS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""File extension → format. ``.gz`` is accepted after the JSONL/CSV/TSV extensions."""

Format = Literal["jsonl", "csv", "tsv", "parquet"]


@dataclass(frozen=True)
class ColumnMap:
    """How the user mapped columns on the command line (``None``: detect)."""

    step: str | None = None
    group: str | None = None
    reward: tuple[str, ...] = ()
    reward_weights: tuple[float, ...] | None = None
    group_size: int | None = None
    length: str | None = None
    task: str | None = None


GroupMode = Literal["column", "blocks", "iteration"]
GroupKey = Literal["value", "verl_uid"]
VERL_UID = r"_\d+_\d+$"
"""verl v1 writes ``uid = "{prompt_uuid}_{session_id}_{output_index}"``; the group is the prefix."""


@dataclass(frozen=True)
class Detection:
    """What ingest decided, and why (``grpoflaw inspect`` prints this)."""

    files: tuple[Path, ...]
    formats: tuple[Format, ...]
    columns: tuple[str, ...]
    step_col: str | None
    group_col: str | None
    group_mode: GroupMode
    group_size: int | None
    reward_cols: tuple[str, ...]
    reward_weights: tuple[float, ...] | None
    length_col: str | None
    task_col: str | None
    reasons: tuple[str, ...] = field(default=())
    group_key: GroupKey = "value"
    """How the group column's values become group keys (``verl_uid``: strip the
    ``_{session}_{index}`` suffix of verl v1 uids)."""
    file_steps: tuple[int, ...] = ()
    """With no step column and several files: the step each file stands for."""


Source = Path | bytes
"""What a scan reads: the file, or its content with malformed lines removed."""


@dataclass(frozen=True)
class Log:
    """A rollout log: the canonical lazy frame and how it was built."""

    frame: pl.LazyFrame
    detection: Detection
    sources: tuple[Source, ...] = ()
    """Per file: what is scanned (the path, or cleaned bytes after ``skip_bad_lines``)."""
    skipped_lines: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """(file, line numbers) of malformed JSONL lines skipped with ``skip_bad_lines``."""

    def source(self, index: int) -> Source:
        return self.sources[index] if self.sources else self.detection.files[index]


# --------------------------------------------------------------------------- paths


def _natural_key(path: Path) -> list[object]:
    """Sort ``2.jsonl`` before ``10.jsonl``."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", str(path))]


def file_format(path: Path) -> Format | None:
    """The log format a file name implies, or ``None``.

    >>> file_format(Path("steps/12.jsonl.gz"))
    'jsonl'
    """
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
        if suffixes and FORMATS.get(suffixes[-1]) == "parquet":
            return None
    if not suffixes:
        return None
    fmt = FORMATS.get(suffixes[-1])
    return fmt  # type: ignore[return-value]


def resolve_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files, folders (every log file below them) and globs into an ordered list.

    Folders and globs are sorted naturally, so per-step dumps (``2.jsonl``, ``10.jsonl``)
    read in step order. A path that names nothing is an :class:`InputError`.
    """
    if not paths:
        raise UsageError(
            "no log given", hint="pass a file, a folder or a glob: grpoflaw compare LOG"
        )
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if p.is_file() and file_format(p)), key=_natural_key
            )
            if not found:
                raise InputError(
                    f"folder '{path}' holds no log files",
                    hint="grpoflaw reads " + ", ".join(_supported()) + " (optionally .gz)",
                )
            out.extend(found)
        elif path.is_file():
            if file_format(path) is None:
                raise InputError(
                    f"'{path}': unknown log format (extension '{''.join(path.suffixes)}')",
                    hint="grpoflaw reads " + ", ".join(_supported()) + "; rename the file",
                )
            out.append(path)
        elif any(ch in str(raw) for ch in "*?["):
            matches = sorted(
                (Path(p) for p in glob.glob(str(raw), recursive=True) if Path(p).is_file()),
                key=_natural_key,
            )
            matches = [p for p in matches if file_format(p)]
            if not matches:
                raise InputError(f"glob '{raw}' matches no log files")
            out.extend(matches)
        elif path.exists():
            raise InputError(f"'{path}' is not a regular file or folder")
        else:
            raise InputError(f"'{path}': no such file or folder")
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _supported() -> list[str]:
    return sorted(FORMATS)


# --------------------------------------------------------------------------- scanning


def _scan(
    source: Source, fmt: Format, overrides: dict[str, pl.DataType] | None = None
) -> pl.LazyFrame:
    if fmt == "jsonl":
        return pl.scan_ndjson(source, schema_overrides=overrides)
    if fmt in ("csv", "tsv"):
        return pl.scan_csv(
            source, separator="\t" if fmt == "tsv" else ",", schema_overrides=overrides
        )
    return pl.scan_parquet(source)


def _schema(path: Path, fmt: Format, source: Source) -> pl.Schema:
    if isinstance(source, Path) and source.stat().st_size == 0:
        raise InputError(
            f"'{path}' is empty (0 bytes)",
            hint="was the run stopped before it wrote this file? Leave it out of the paths",
        )
    try:
        return _scan(source, fmt).collect_schema()
    except OSError as exc:
        raise InputError(f"'{path}': cannot read ({exc.strerror or exc})") from exc
    except READ_ERRORS as exc:
        raise locate_read_error(path, fmt, exc) from exc


def locate_read_error(path: Path, fmt: Format, exc: BaseException) -> InputError:
    """Turn a Polars read failure into a message naming the file and, for JSONL, the line.

    Only runs after a failure, so it may read the file line by line.
    """
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, pl.exceptions.PanicException):
        return InputError(
            f"'{path}': the {fmt.upper()} reader failed on this file ({detail})",
            hint="look for an unterminated quote or a malformed row; a file that the trainer "
            "was still writing can end mid-row",
        )
    column = _first_unreadable_column(path, fmt)
    if column is not None:
        located = _first_non_numeric(path, fmt, path, [column])
        if located is not None:
            return located
        return InputError(
            f"'{path}', column '{column}': its values do not share one type ({detail})",
            hint="a column whose values mix e.g. true/false and numbers cannot be read; "
            "fix the writer, or leave that column out of the file",
        )
    if fmt == "jsonl":
        located_line = _first_bad_jsonl_line(path)
        if located_line is not None:
            line_no, why, total = located_line
            last = (
                " (the last line: was the file still being written?)"
                if line_no == total and total > 1
                else ""
            )
            hint = (
                f"a {''.join(path.suffixes)} file is read as JSON Lines: one JSON object per line"
                if why.startswith("found a JSON")
                else "fix or delete that line, or pass --skip-bad-lines to skip malformed lines "
                "(they are counted and reported)"
            )
            return InputError(
                f"'{path}', line {line_no}: not a JSON object ({why}){last}", hint=hint
            )
    if fmt == "parquet" and _looks_binary_garbage(path):
        return InputError(f"'{path}' is not a Parquet file ({detail})")
    return InputError(f"'{path}': cannot be read as {fmt.upper()}: {detail}")


def _first_unreadable_column(path: Path, fmt: Format) -> str | None:
    """The first column that fails to read on its own while the file's schema reads."""
    if fmt == "parquet":
        return None
    try:
        frame = _scan(path, fmt)
        names = frame.collect_schema().names()
    except READ_ERRORS:
        return None
    for name in names:
        try:
            frame.select(name).collect()
        except READ_ERRORS:
            return name
    return None


def _looks_binary_garbage(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) != b"PAR1"


class _BareConstant(ValueError):
    """Python's json.dumps writes NaN/Infinity for non-finite floats; JSON has no such thing."""


def _refuse_constant(token: str) -> object:
    raise _BareConstant(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if value in (float("inf"), float("-inf")):
        raise OverflowError(f"the number {token} is out of range")
    return value


def _jsonl_problem(line: bytes) -> str | None:
    """Why a JSONL line is not one JSON object, or None if it is (blank lines are fine)."""
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")  # what the reader accepts; json.loads would guess
        obj = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _BareConstant as err:
        return f"a bare {err} is not JSON; rewards must be finite numbers"
    except OverflowError as err:
        return str(err)
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except ValueError as err:  # JSONDecodeError is a ValueError
        return str(getattr(err, "msg", err))
    return None if isinstance(obj, dict) else f"found a JSON {type(obj).__name__}"


def _read_bytes(path: Path) -> bytes:
    import gzip

    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix.lower() == ".gz" else data


def _first_bad_jsonl_line(path: Path) -> tuple[int, str, int] | None:
    """(line number, why, number of lines) of the first malformed line, if any."""
    try:
        lines = _read_bytes(path).splitlines()
    except (OSError, EOFError, ValueError):
        return None
    for number, line in enumerate(lines, start=1):
        why = _jsonl_problem(line)
        if why is not None:
            return number, why, len(lines)
    return None


def _without_bad_lines(path: Path) -> tuple[bytes, tuple[int, ...]]:
    """The file's content with malformed JSONL lines blanked, and their line numbers.

    Blanked, not removed: readers skip blank lines, and every later line keeps its number.
    """
    kept: list[bytes] = []
    bad: list[int] = []
    for number, line in enumerate(_read_bytes(path).splitlines(), start=1):
        if _jsonl_problem(line) is None:
            kept.append(line)
        else:
            kept.append(b"")
            bad.append(number)
    return b"\n".join(kept) + b"\n", tuple(bad)


def _where(source: Source, fmt: Format, row: int) -> str:
    """'line N' for the ``row``-th record (1-based) of a file. Error path only.

    JSONL readers skip blank lines, so the record's physical line is counted; CSV adds
    the header line; Parquet has rows, not lines.
    """
    if fmt in ("csv", "tsv"):
        return f"line {row + 1}"
    if fmt != "jsonl":
        return f"row {row}"
    try:
        data = source if isinstance(source, bytes) else _read_bytes(source)
    except (OSError, EOFError, ValueError):
        return f"record {row}"
    seen = 0
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            seen += 1
            if seen == row:
                return f"line {number}"
    return f"record {row}"


def _parses(path: Path, fmt: Format) -> bool:
    """Does Polars read every line? (A full native pass: only for --skip-bad-lines.)"""
    try:
        _scan(path, fmt).select(pl.len()).collect()
    except READ_ERRORS:
        return False
    return True


# --------------------------------------------------------------------------- detection


def _pick(names: Sequence[str], columns: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _require(col: str, columns: Sequence[str], flag: str) -> str:
    if col not in columns:
        raise UsageError(
            f"{flag} '{col}': no such column",
            hint="the log has columns: " + ", ".join(columns),
        )
    return col


def detect(columns: Sequence[str], mapping: ColumnMap, numeric: Sequence[str] = ()) -> Detection:
    """Decide which source columns play which canonical role, and say why. Pure.

    ``numeric`` names the columns known to hold numbers: when no column has a common
    reward name, the numeric columns named like ``*reward*`` (one per reward function, as
    TRL logs them) are summed.
    """
    reasons: list[str] = []
    cols = list(columns)

    if mapping.reward:
        rewards = tuple(_require(c, cols, "--reward-col") for c in mapping.reward)
        reasons.append(f"reward ← {', '.join(rewards)} (from --reward-col)")
    else:
        found = _pick(REWARD_NAMES, cols)
        parts = tuple(c for c in cols if "reward" in c.lower() and c in numeric)
        if found is not None:
            rewards = (found,)
            reasons.append(f"reward ← '{found}' (a common reward column name)")
        elif parts:
            rewards = parts
            reasons.append(
                f"reward ← {', '.join(parts)} (numeric columns named like *reward*, one per "
                "reward function; choose with --reward-col, weigh with --reward-weights)"
            )
        else:
            odd = [c for c in cols if ";" in c or "\t" in c or "|" in c]
            raise InputError(
                "no reward column found (looked for: " + ", ".join(REWARD_NAMES) + ")",
                hint=(
                    f"the header '{odd[0]}' looks like another separator: grpoflaw reads "
                    "comma-separated .csv and tab-separated .tsv"
                    if odd
                    else "name it with --reward-col NAME (repeat it to sum several components); "
                    "the log has columns: " + ", ".join(cols)
                ),
            )
    weights = mapping.reward_weights
    if weights is not None:
        if len(weights) != len(rewards):
            raise UsageError(
                f"--reward-weights has {len(weights)} values for {len(rewards)} reward columns",
                hint="give one weight per --reward-col, in the same order",
            )
        reasons.append(
            "reward = " + " + ".join(f"{w:g}·{c}" for w, c in zip(weights, rewards, strict=True))
        )
    elif len(rewards) > 1:
        reasons.append("reward = " + " + ".join(rewards) + " (components summed, weight 1)")

    if mapping.step:
        step: str | None = _require(mapping.step, cols, "--step-col")
        reasons.append(f"step ← '{step}' (from --step-col)")
    else:
        step = _pick(STEP_NAMES, cols)
        reasons.append(
            f"step ← '{step}' (a common step column name)"
            if step
            else "step: no step column (looked for: "
            + ", ".join(STEP_NAMES)
            + "): the whole log is one iteration; map one with --step-col"
        )

    group: str | None = None
    mode: GroupMode
    if mapping.group and mapping.group_size:
        raise UsageError("--group-col and --group-size contradict each other", hint="pass one")
    if mapping.group_size:
        if mapping.group_size < 1:
            raise UsageError("--group-size must be at least 1")
        mode = "blocks"
        reasons.append(
            f"group: consecutive blocks of {mapping.group_size} rows within each step "
            "(from --group-size)"
        )
    elif mapping.group:
        group = _require(mapping.group, cols, "--group-col")
        mode = "column"
        reasons.append(f"group ← '{group}' (from --group-col)")
    else:
        group = _pick(GROUP_NAMES, [c for c in cols if c not in rewards and c != step])
        if group:
            mode = "column"
            reasons.append(f"group ← '{group}' (a common group column name)")
        else:
            mode = "iteration"
            reasons.append(
                "group: no group column (looked for: "
                + ", ".join(GROUP_NAMES)
                + "): each iteration is one group; use --group-col or --group-size N"
            )

    used = {*rewards, step, group}
    if mapping.length:
        length: str | None = _require(mapping.length, cols, "--length-col")
        reasons.append(f"length ← '{length}' (from --length-col)")
    else:
        length = _pick(LENGTH_NAMES, [c for c in cols if c not in used])
        if length:
            reasons.append(f"length ← '{length}' (token weights for batch whitening)")
    if mapping.task:
        task: str | None = _require(mapping.task, cols, "--task-col")
        reasons.append(f"task ← '{task}' (from --task-col)")
    else:
        task = _pick(TASK_NAMES, [c for c in cols if c not in used and c != length])
        if task:
            reasons.append(f"task ← '{task}'")
    return Detection(
        files=(),
        formats=(),
        columns=tuple(cols),
        step_col=step,
        group_col=group,
        group_mode=mode,
        group_size=mapping.group_size,
        reward_cols=rewards,
        reward_weights=weights,
        length_col=length,
        task_col=task,
        reasons=tuple(reasons),
    )


# --------------------------------------------------------------------------- loading


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
    flag = {"reward": "--reward-col", "length": "--length-col"}.get(role, "--reward-col")
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
            first = _first_row_of(source, fmt, pl.col(col).is_not_null(), [col])
            if first is not None:
                row, value = first
                raise InputError(
                    f"'{path}', {_where(source, fmt, row)}, column '{col}': the {role} is the "
                    f"JSON string {value!r}, not a number",
                    hint=f'write {role}s as JSON numbers (0.5, not "0.5")',
                )
        return
    raise InputError(
        f"'{path}', column '{col}': expected numbers for the {role}, found {dtype}",
        hint=f"map the numeric {role} column with {flag} NAME",
    )


def steps_from_file_names(files: Sequence[Path]) -> tuple[tuple[int, ...], str]:
    """One step per file: the last number in each file name if they are all distinct,
    else the file's position. Returns the steps and how they were found.

    >>> steps_from_file_names([Path("train/0001.parquet"), Path("train/0002.parquet")])
    ((1, 2), 'the number in its name')
    """
    numbers = [re.findall(r"\d+", p.name.split(".")[0]) for p in files]
    if all(numbers):
        steps = tuple(int(n[-1]) for n in numbers)
        if len(set(steps)) == len(steps):
            return steps, "the number in its name"
    return tuple(range(len(files))), "its position in the list"


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
    paths: Sequence[str | Path], mapping: ColumnMap | None = None, *, skip_bad_lines: bool = False
) -> Log:
    """Read a log (files, folders, globs) lazily into the canonical frame.

    Only schemas are read here; the rows are read when the caller collects. With
    ``skip_bad_lines`` every JSONL file is first parsed once; one that fails is read
    without its malformed lines (a truncated last line after a crash, say), and the
    skipped line numbers are kept in :attr:`Log.skipped_lines`.
    """
    mapping = mapping or ColumnMap()
    files = resolve_paths(paths)
    formats: list[Format] = []
    schemas: list[pl.Schema] = []
    sources: list[Source] = []
    skipped: list[tuple[str, tuple[int, ...]]] = []
    for path in files:
        fmt = file_format(path)
        assert fmt is not None  # resolve_paths only returns known formats
        source: Source = path
        if skip_bad_lines and fmt == "jsonl" and not _parses(path, fmt):
            source, bad = _without_bad_lines(path)
            if bad:
                skipped.append((str(path), bad))
        formats.append(fmt)
        sources.append(source)
        schemas.append(_schema(path, fmt, source))
    columns: list[str] = []
    for path, schema in zip(files, schemas, strict=True):
        columns.extend(c for c in schema.names() if c not in columns)
        if any("\ufffd" in c or not c.isprintable() for c in schema.names()):
            raise InputError(
                f"'{path}' does not look like a {file_format(path)} log: its header is not text",
                hint="check the file; grpoflaw picks the format by the file extension",
            )
    if not columns:
        raise InputError(f"'{files[0]}' is empty: no rows or columns")

    numeric_cols = [c for schema in schemas for c, t in schema.items() if t.is_numeric()]
    try:
        det = detect(columns, mapping, numeric_cols)
    except InputError as err:
        more = f" (and {len(files) - 1} more files)" if len(files) > 1 else ""
        raise InputError(f"'{files[0]}'{more}: {err.message}", hint=err.hint) from None
    _check_consistent_steps(files, schemas, det.step_col)
    file_steps: tuple[int, ...] = ()
    if det.step_col is None and len(files) > 1:
        file_steps, how = steps_from_file_names(files)
        det = replace(
            det,
            reasons=tuple(
                f"step: no step column; each of the {len(files)} files is one iteration, "
                f"numbered by {how} (map a column with --step-col)"
                if r.startswith("step:")
                else r
                for r in det.reasons
            ),
        )
    numeric = {c: "reward" for c in det.reward_cols}
    if det.length_col:
        numeric[det.length_col] = "length"

    scans = []
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
        overrides: dict[str, pl.DataType] = {
            c: pl.Float64() for c in numeric if c in schema and fmt != "parquet"
        }
        scans.append(_tag(_scan(sources[index], fmt, overrides), index, file_steps))
    frame = scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")
    det = replace(det, files=tuple(files), formats=tuple(formats), file_steps=file_steps)
    if (
        det.group_col is not None
        and det.group_col.lower() == "uid"
        and _verl_v1_uids(scans[0], det)
    ):
        det = replace(
            det,
            group_key="verl_uid",
            reasons=(
                *det.reasons,
                f"group: '{det.group_col}' holds verl v1 uids '<prompt>_<session>_<index>': "
                "grouped by the '<prompt>' prefix",
            ),
        )
    return Log(
        frame=canonicalize(frame, det),
        detection=det,
        sources=tuple(sources),
        skipped_lines=tuple(skipped),
    )


def _tag(frame: pl.LazyFrame, index: int, file_steps: Sequence[int]) -> pl.LazyFrame:
    """Add the internal columns: the file's index and, if files are steps, its step."""
    tags = [pl.lit(index, pl.UInt32).alias(FILE_COL)]
    if file_steps:
        tags.append(pl.lit(file_steps[index], pl.Int64).alias(FILE_STEP_COL))
    return frame.with_columns(tags)


def _verl_v1_uids(frame: pl.LazyFrame, det: Detection) -> bool:
    """Do the first values of the group column look like verl v1 uids?"""
    assert det.group_col is not None
    try:
        head = frame.select(pl.col(det.group_col).cast(pl.String)).head(64).collect()
    except READ_ERRORS:
        return False  # the real read reports the problem
    values = head.to_series().drop_nulls()
    return values.len() > 0 and bool(values.str.contains(VERL_UID).all())


def canonicalize(frame: pl.LazyFrame, det: Detection) -> pl.LazyFrame:
    """Add the canonical columns to a raw frame according to a :class:`Detection`.

    Canonical columns come first, then the input's columns in their order. An input
    column named like a canonical one but not the source of that role is kept as
    ``src_<name>``.
    """
    names = frame.collect_schema().names()
    weights = det.reward_weights or (1.0,) * len(det.reward_cols)
    parts = [
        pl.col(c).cast(pl.Float64) if w == 1.0 else pl.col(c).cast(pl.Float64) * w
        for c, w in zip(det.reward_cols, weights, strict=True)
    ]
    reward = parts[0]
    for part in parts[1:]:
        reward = reward + part  # a null component makes the sum null: never a silent 0
    if det.step_col:
        step = pl.col(det.step_col)
    elif det.file_steps:
        step = pl.col(FILE_STEP_COL)
    else:
        step = pl.lit(0, pl.Int64)
    if det.group_mode == "column":
        assert det.group_col is not None
        group = pl.col(det.group_col)
        if det.group_key == "verl_uid":
            group = group.cast(pl.String).str.replace(VERL_UID, "")
    elif det.group_mode == "blocks":
        assert det.group_size is not None
        group = pl.int_range(pl.len(), dtype=pl.Int64).over(step) // det.group_size
    else:
        group = pl.lit(0, pl.Int64)

    canon: dict[str, pl.Expr] = {"step": step, "group": group, "reward": reward}
    sources: dict[str, str | None] = {
        "step": det.step_col,
        "group": det.group_col if det.group_mode == "column" else None,
        "reward": det.reward_cols[0] if len(det.reward_cols) == 1 and weights[0] == 1.0 else None,
    }
    if det.length_col:
        canon["length"] = pl.col(det.length_col).cast(pl.Float64)
        sources["length"] = det.length_col
    if det.task_col:
        canon["task"] = pl.col(det.task_col).cast(pl.String)
        sources["task"] = det.task_col
    # A column that *is* its canonical role (same name) is replaced, not duplicated.
    replaced = {role for role, col in sources.items() if col == role}
    carried = [pl.col(n).alias(f"src_{n}" if n in canon else n) for n in names if n not in replaced]
    return frame.select([expr.alias(role) for role, expr in canon.items()] + carried)


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
            names = raw.collect_schema().names()
            numeric = [c for c in (*det.reward_cols, det.length_col) if c and c in names]
            if fmt == "parquet":
                raw.select(numeric or names[:1]).collect()
            else:
                _scan(source, fmt, {c: pl.Float64() for c in numeric}).collect()
        except READ_ERRORS as file_exc:
            if fmt != "parquet" and numeric:
                bad = _first_non_numeric(path, fmt, source, numeric)
                if bad:
                    return bad
            return locate_read_error(path, fmt, file_exc)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    files = ", ".join(str(f) for f in det.files[:3])
    return InputError(
        f"cannot read the log ({files}{'…' if len(det.files) > 3 else ''}): {detail}",
        hint="the files may disagree on a column's type; read them one at a time to find it",
    )


def _first_row_of(
    source: Source, fmt: Format, predicate: pl.Expr, cols: Sequence[str]
) -> tuple[int, object] | None:
    """(1-based row, value of ``cols[0]``) of the first raw row matching ``predicate``."""
    try:
        hit = (
            _scan(source, fmt, {c: pl.String() for c in cols})
            .with_row_index("__row", offset=1)
            .filter(predicate)
            .select("__row", cols[0])
            .head(1)
            .collect()
        )
    except READ_ERRORS:
        return None
    return (int(hit["__row"][0]), hit[cols[0]][0]) if hit.height else None


def _first_non_numeric(
    path: Path, fmt: Format, source: Source, cols: Sequence[str]
) -> InputError | None:
    """Find the first row whose value in ``cols`` is not a number (error path only)."""
    for col in cols:
        not_a_number = (
            pl.col(col).is_not_null() & pl.col(col).cast(pl.Float64, strict=False).is_null()
        )
        first = _first_row_of(source, fmt, not_a_number, [col])
        if first is not None:
            row, value = first
            return InputError(
                f"'{path}', {_where(source, fmt, row)}, column '{col}': expected a number, "
                f"found {value!r}",
                hint="fix or drop that rollout, or map another column with the matching "
                "--reward-col / --step-col / --length-col",
            )
    return None


def duplicate_rows(log: Log) -> int:
    """Rows identical in every input column to an earlier row (a log concatenated twice,
    a resumed run that rewrote a step). Reads every column: ``inspect`` only.
    """
    columns = [c for c in log.detection.columns if not c.startswith(INTERNAL_PREFIX)]
    hashed = log.frame.select(pl.struct(columns).hash().alias("h"))
    return int(collect(log, hashed.select(pl.len() - pl.col("h").n_unique()))[0, 0])


def check_rewards(log: Log, table: pl.DataFrame) -> None:
    """Refuse missing steps or groups and missing or non-finite rewards, naming the file,
    line and column.

    ``table`` is the per-group statistics; only if it shows a bad value are the files
    re-read to find the first offending row.
    """
    det = log.detection
    if det.step_col and table["step"].null_count():
        path, where, _ = _first_row(log, pl.col("step").is_null())
        raise InputError(
            f"'{path}', {where}: no value in the step column '{det.step_col}'",
            hint="fill it in, or map another column with --step-col",
        )
    if det.group_mode == "column" and table["group"].null_count():
        path, where, _ = _first_row(log, pl.col("group").is_null())
        raise InputError(
            f"'{path}', {where}: no value in the group column '{det.group_col}'",
            hint="fill it in, or map another column with --group-col or --group-size N",
        )
    if (
        det.length_col
        and table.filter(
            (pl.col("len_null") > 0) | ~pl.col("len_sum").is_finite() | (pl.col("len_min") < 0)
        ).height
    ):
        length = pl.col("length")
        path, where, row = _first_row(
            log, length.is_null() | ~length.is_finite() | (length < 0), extra=[det.length_col]
        )
        raise InputError(
            f"'{path}', {where}: the response length '{det.length_col}' is missing, negative "
            f"or not finite ({row[det.length_col][0]!r})",
            hint="fix it, or map another column with --length-col",
        )
    bad = table.filter((pl.col("n_null") > 0) | ~pl.col("mean").is_finite())
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
    path, where, row = _first_row(log, pl.col("reward").is_null() | ~pl.col("reward").is_finite())
    what = ", ".join(f"{c}={row[c][0]!r}" for c in det.reward_cols if c in row.columns)
    raise InputError(
        f"'{path}', {where}: the reward is missing or not finite ({what})",
        hint="fix or drop that rollout; rewards must be finite numbers "
        "(NaN, null and ±inf cannot be turned into advantages)",
    )


def _first_row(
    log: Log, predicate: pl.Expr, extra: Sequence[str] = ()
) -> tuple[Path, str, pl.DataFrame]:
    """The first canonical row matching ``predicate``: its file, 'line N' and the row.

    Error path only: re-reads the files one at a time.
    """
    det = log.detection
    for index, (path, fmt) in enumerate(zip(det.files, det.formats, strict=True)):
        raw = _scan(
            log.source(index),
            fmt,
            None
            if fmt == "parquet"
            else {c: pl.Float64() for c in (*det.reward_cols, det.length_col) if c},
        )
        needed = list(dict.fromkeys(["__row", "step", "group", "reward", *det.reward_cols, *extra]))
        try:
            rows = (
                canonicalize(_tag(raw, index, det.file_steps), det)
                .with_row_index("__row", offset=1)
                .filter(predicate)
                .select(needed)
                .head(1)
                .collect()
            )
        except READ_ERRORS as exc:
            raise locate_read_error(path, fmt, exc) from exc
        if rows.height:
            return path, _where(log.source(index), fmt, int(rows["__row"][0])), rows
    raise InputError("the log has missing or non-finite values")  # pragma: no cover
