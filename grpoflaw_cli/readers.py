"""Reading log files: paths, formats, lazy scans, and finding what is wrong with a file.

The happy path only builds lazy scans; the functions that re-read a file line by line run
only after a failure, to name the file, line and column in the message.

>>> file_format(Path("steps/12.jsonl.gz"))
'jsonl'
"""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from grpoflaw_cli.columns import Format
from grpoflaw_cli.errors import InputError, UsageError
from grpoflaw_cli.lines import BOM, Decompressed, cleaned_copy, file_lines

if TYPE_CHECKING:
    import _csv

READ_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError)
"""What a read can raise on bad input. A Polars panic (a Rust bug hit by odd input, a
``BaseException``) is a read failure too: it gets a message, not a traceback."""

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

Source = Path
"""What a scan reads: the file, or a cleaned copy of it (:func:`cleaned_jsonl`)."""


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
        try:
            out.extend(_expand(raw))
        except OSError as err:  # a name too long, a folder on the way that cannot be entered
            raise InputError(
                f"'{raw}': cannot read ({err.strerror or err})",
                hint="check the path and its folders' permissions",
            ) from None
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _expand(raw: str | Path) -> list[Path]:
    """The log files one path stands for (a file, a folder, a glob)."""
    out: list[Path] = []
    path = Path(raw)
    if path.is_dir():
        found = sorted(_log_files_in(path), key=_natural_key)
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
        dangling = [p for p in glob.glob(str(raw), recursive=True) if _dangling(Path(p))]
        if dangling:
            raise InputError(
                f"'{dangling[0]}' is a symbolic link to nothing (broken, or a loop)",
                hint="fix or remove it, or narrow the glob",
            )
        if not matches:
            raise InputError(f"glob '{raw}' matches no log files")
        out.extend(matches)
    elif path.exists():
        raise InputError(f"'{path}' is not a regular file or folder")
    elif path.is_symlink():
        raise InputError(f"'{path}' is a symbolic link to nothing (broken, or a loop)")
    else:
        raise InputError(f"'{path}': no such file or folder")
    return out


def _dangling(path: Path) -> bool:
    """A link to a log file that leads nowhere."""
    return bool(file_format(path)) and path.is_symlink() and not path.exists()


def _log_files_in(folder: Path) -> Iterator[Path]:
    """Every log file below ``folder``. A subfolder that cannot be read, or a log file
    that is a broken link or a link loop, is an :class:`InputError`: reading the rest
    would answer for part of the log. Links to files are read; links to folders are not
    followed (a loop, or a second path to the same files)."""

    def refuse(err: OSError) -> None:
        raise InputError(
            f"cannot read the folder '{err.filename}' ({err.strerror or err}), which is part "
            f"of '{folder}'",
            hint="fix its permissions, or pass only the files or subfolders to read",
        )

    for root, _, names in os.walk(folder, onerror=refuse):
        for name in names:
            path = Path(root, name)
            if file_format(path) is None:
                continue
            try:
                mode = path.stat().st_mode
            except OSError as err:
                raise InputError(
                    f"cannot read '{path}' ({err.strerror or err}), which is part of '{folder}'",
                    hint="a broken link or a link loop: fix or remove it",
                ) from None
            if stat.S_ISREG(mode):
                yield path


def _supported() -> list[str]:
    return sorted(FORMATS)


# --------------------------------------------------------------------------- scanning


def _literal(source: Source) -> Source:
    """A file path as Polars' scans take it literally: they expand globs, so ``*``, ``?``
    and ``[`` in a real file's name ("run [1].jsonl") are escaped as one-character
    classes. (Globs the user typed are expanded by ingest, never by the scans.)"""
    if not any(c in str(source) for c in "*?["):
        return source
    return Path(re.sub(r"([*?\[])", r"[\1]", str(source)))


def _scan(
    source: Source, fmt: Format, overrides: dict[str, pl.DataType] | None = None
) -> pl.LazyFrame:
    literal = _literal(source)
    if fmt == "jsonl":
        return pl.scan_ndjson(literal, schema_overrides=overrides)
    if fmt in ("csv", "tsv"):
        frame = pl.scan_csv(
            literal, separator="\t" if fmt == "tsv" else ",", schema_overrides=overrides
        )
        blank = _trailing_blank_lines(source)
        return frame if not blank else _without_last_blank_rows(frame, blank)
    frame = pl.scan_parquet(literal)
    unreadable = unreadable_columns(source)
    return frame.drop(unreadable) if unreadable else frame


def _trailing_blank_lines(path: Path) -> int:
    """How many blank lines end an uncompressed CSV file (its last 64 KiB). Polars reads
    each as a row of nulls; a writer or an editor often leaves one."""
    if path.suffix.lower() == ".gz":
        return 0
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 65536))
            lines = fh.read().split(b"\n")
    except OSError:
        return 0  # the read proper reports it
    if lines[-1] == b"":
        lines.pop()  # the last line's own end
    count = 0
    for line in reversed(lines[1:]):  # the first piece may be the middle of a line
        if line not in (b"", b"\r"):
            break
        count += 1
    return count


def _without_last_blank_rows(frame: pl.LazyFrame, count: int) -> pl.LazyFrame:
    """``frame`` without its last ``count`` rows if they hold nothing (blank lines; a
    quoted value that spans the last lines is a row with a value, and stays)."""
    last = pl.int_range(pl.len()) >= pl.len() - count
    return frame.filter(~(last & pl.all_horizontal(pl.all().is_null())))


DECIMAL_DIGITS = 38
"""Polars reads decimals of up to this many digits (a decimal256 holds up to 76)."""


_UNREADABLE: dict[str, tuple[str, ...]] = {}
"""Parquet file → its columns that Polars cannot read, as :func:`_schema` found them."""


def unreadable_columns(path: Path) -> tuple[str, ...]:
    """The columns of a Parquet file that Polars cannot read (decimals of more than 38
    digits, perhaps nested): they are left out of its scans, and ingest says so."""
    return _UNREADABLE.get(str(path), ())


def _too_wide(dtype: pl.DataType) -> bool:
    if isinstance(dtype, pl.Decimal):
        return (dtype.precision or 0) > DECIMAL_DIGITS
    return dtype.is_nested() and any(
        int(p) > DECIMAL_DIGITS for p in re.findall(r"precision=(\d+)", repr(dtype))
    )


def _schema(path: Path, fmt: Format, source: Source) -> pl.Schema:
    if isinstance(source, Path) and source.stat().st_size == 0:
        raise InputError(
            f"'{path}' is empty (0 bytes)",
            hint="was the run stopped before it wrote this file? Leave it out of the paths",
        )
    try:
        _UNREADABLE.pop(str(source), None)
        schema = _scan(source, fmt).collect_schema()
        if fmt == "parquet":  # the schema reads; a column's values may not
            odd = tuple(name for name, dtype in schema.items() if _too_wide(dtype))
            if odd:
                _UNREADABLE[str(source)] = odd
                schema = _scan(source, fmt).collect_schema()
        return schema
    except OSError as exc:
        raise InputError(f"'{path}': cannot read ({exc.strerror or exc})") from exc
    except READ_ERRORS as exc:
        raise locate_read_error(path, fmt, exc) from exc


_CR_HINT = "convert its line ends to \\n, e.g. tr '\\r' '\\n' < IN > OUT"


def header_problem(path: Path, names: Sequence[str]) -> InputError | None:
    """Why a file's column names show it was read with the wrong separator or line ends,
    or is no text at all; None if they look right. Any printable name is fine, and so is
    one holding a no-break or zero-width space (a format character, not garbage)."""
    fmt = file_format(path)
    text = fmt in ("csv", "tsv")
    hint = "grpoflaw picks the separator by the extension: .csv for commas, .tsv for tabs"
    if text and any("\r" in n for n in names):
        return InputError(
            f"'{path}' ends its lines with a carriage return alone (old Mac line ends): "
            "the whole file reads as one line",
            hint=_CR_HINT,
        )
    tabbed = [n for n in names if "\t" in n and "\ufffd" not in n]
    if tabbed and fmt == "csv":
        return InputError(
            f"'{path}' is tab-separated (its header reads {tabbed[0]!r}), not comma-separated",
            hint="give it a .tsv name (or .tsv.gz): " + hint,
        )
    if fmt == "tsv" and len(names) == 1 and "," in names[0] and "\ufffd" not in names[0]:
        return InputError(
            f"'{path}' is comma-separated (its header reads {names[0]!r}), not tab-separated",
            hint="give it a .csv name (or .csv.gz): " + hint,
        )
    if any("\ufffd" in n or any(_is_control(c) for c in n) for n in names):
        return InputError(
            f"'{path}' does not look like a {fmt} log: its header is not text",
            hint="check the file; grpoflaw picks the format by the file extension",
        )
    spaced = [n for n in names if n != n.strip()]
    if text and spaced:
        return InputError(
            f"'{path}': column names {', '.join(map(repr, spaced[:3]))} start or end with a "
            "space: the header has spaces around its separators, and grpoflaw reads names "
            "as written",
            hint="remove the spaces after the separators in the header and the rows",
        )
    return None


def _is_control(char: str) -> bool:
    """A control character or a lone surrogate: binary garbage in a name.

    >>> _is_control("\\x00"), _is_control("\\u00a0"), _is_control("\\u200b")
    (True, False, False)
    """
    import unicodedata

    return unicodedata.category(char) in ("Cc", "Cs")


def locate_read_error(
    path: Path, fmt: Format, exc: BaseException, numeric: Sequence[str] = ()
) -> InputError:
    """Turn a Polars read failure into a message naming the file and, for JSONL, the line.

    ``numeric`` are the columns the log reads as numbers (the reward, say): read so here
    too, so that only a column whose values really clash is named. Only runs after a
    failure, so it may read the file line by line (streamed: memory does not grow with it).
    """
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, pl.exceptions.PanicException):
        return InputError(
            f"'{path}': the {fmt.upper()} reader failed on this file ({detail})",
            hint="look for an unterminated quote or a malformed row; a file that the trainer "
            "was still writing can end mid-row",
        )
    gzip_problem = _gzip_problem(path)
    if gzip_problem is not None:
        return gzip_problem
    if fmt in ("csv", "tsv"):
        located_csv = _first_bad_csv_line(path, fmt)
        if located_csv is not None:
            return located_csv
    bad_line = _first_bad_jsonl_line(path) if fmt == "jsonl" else None
    column = None if bad_line is not None else _first_unreadable_column(path, fmt, numeric)
    if column is not None:
        return _type_change(path, fmt, column, used=column in numeric, detail=detail)
    if bad_line is not None:
        line_no, why, total = bad_line
        last = (
            " (the last line: was the file still being written?)"
            if line_no == total and total > 1
            else ""
        )
        hint = (
            f"a {''.join(path.suffixes)} file is read as JSON Lines: one JSON object per line"
            if why.startswith("found a JSON")
            else _CR_HINT
            if "carriage return" in why
            else "fix or delete that line, or pass --skip-bad-lines to skip malformed lines "
            "(they are counted and reported)"
        )
        return InputError(f"'{path}', line {line_no}: not a JSON object ({why}){last}", hint=hint)
    if fmt == "jsonl" and not any(line.strip() for line in _safe_lines(path)):
        return InputError(f"'{path}' holds no JSON lines: it is empty or blank")
    if fmt == "parquet" and _looks_binary_garbage(path):
        return InputError(f"'{path}' is not a Parquet file ({detail})")
    return InputError(f"'{path}': cannot be read as {fmt.upper()}: {detail}")


def _type_change(path: Path, fmt: Format, column: str, *, used: bool, detail: str) -> InputError:
    """The message for a column whose values do not share one type, naming the first
    value that differs where it can be found. ``used``: one the log reads as numbers."""
    located = None
    if not used and fmt == "jsonl":
        located = _first_json_type_clash(path, column)
    if located is None:
        located = _first_non_numeric(path, fmt, path, [column], used=used)
    if located is None and fmt == "jsonl":
        located = _first_json_type_clash(path, column)
    if located is not None:
        return located
    return InputError(
        f"'{path}', column '{column}': its values do not share one type ({detail})",
        hint="a column whose values mix e.g. true/false and numbers cannot be read; "
        "fix the writer, or leave that column out of the file",
    )


def _first_unreadable_column(path: Path, fmt: Format, numeric: Sequence[str] = ()) -> str | None:
    """The first column that fails to read on its own while the file's schema reads (the
    ``numeric`` ones read as numbers, as the log reads them)."""
    if fmt == "parquet":
        return None
    try:
        names = _scan(path, fmt).collect_schema().names()
        frame = _scan(path, fmt, {c: pl.Float64() for c in numeric if c in names} or None)
    except READ_ERRORS:
        return None
    for name in names:
        try:
            frame.select(name).collect()
        except READ_ERRORS:
            return name
    return None


def _json_kind(value: object) -> str:
    return {bool: "true/false", str: "string", list: "list", dict: "object"}.get(
        type(value), "number"
    )


def _json_values(source: Source, column: str) -> Iterator[tuple[int, object]]:
    """(line number, value) of ``column`` on each JSONL line that holds one (not null);
    lines that are no JSON object are passed over. Error path only: Python's JSON."""
    try:
        for number, line in enumerate(file_lines(source), start=1):
            try:
                record = _decode(line) if line.strip() else None
                value = record.get(column) if isinstance(record, dict) else None
            except ValueError:
                continue
            if value is not None:
                yield number, value
    except OSError:
        return


def _first_json_type_clash(source: Source, column: str) -> InputError | None:
    """The first JSONL line whose ``column`` holds another kind of JSON value than the
    lines before it (a string "0.5" after numbers, say). Error path only."""
    first: str | None = None
    for number, value in _json_values(source, column):
        kind = _json_kind(value)
        if first is None:
            first = kind
        elif kind != first:
            return InputError(
                f"'{source}', line {number}, column '{column}': the JSON {kind} "
                f"{_short(value)} where the lines before hold {first}s",
                hint='write every value of a column as one JSON type (0.5, not "0.5")',
            )
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_json_string(source: Source, column: str) -> tuple[int, str] | None:
    """(line, value) of the first JSONL line whose ``column`` is a JSON string. Error path
    only."""
    return next(((n, v) for n, v in _json_values(source, column) if isinstance(v, str)), None)


def _text_lines(path: Path, not_utf8: list[tuple[int, int]]) -> Iterator[str]:
    """The file's lines as text, each with its ``\\n``, as far as they are UTF-8: the
    first that is not puts (its line number, the bad byte) in ``not_utf8`` and ends them."""
    for number, line in enumerate(file_lines(path), start=1):
        try:
            yield line.decode("utf-8") + "\n"
        except UnicodeDecodeError as err:
            not_utf8.append((number, line[err.start]))
            return


def _csv_rows(path: Path, fmt: Format, not_utf8: list[tuple[int, int]]) -> _csv.Reader:
    import csv

    return csv.reader(_text_lines(path, not_utf8), delimiter="\t" if fmt == "tsv" else ",")


def _first_bad_csv_line(path: Path, fmt: Format) -> InputError | None:
    """Bytes that are not UTF-8, or a row with more or fewer fields than the header: the
    first such line of a CSV/TSV file, as an error. Error path only."""
    import csv

    not_utf8: list[tuple[int, int]] = []
    rows = _csv_rows(path, fmt, not_utf8)
    width = None
    try:
        for row in rows:
            if width is None:
                width = len(row)
            elif row and len(row) != width:
                return InputError(
                    f"'{path}', line {rows.line_num}: {len(row)} fields where the header has "
                    f"{width}",
                    hint="quote values that hold the separator, or fix that row",
                )
    except (OSError, csv.Error):
        return None  # Python's reader gives up where Polars' did: no better line to name
    if not_utf8:
        line, byte = not_utf8[0]
        return InputError(
            f"'{path}', line {line}: not UTF-8 text (byte 0x{byte:02x})",
            hint="save the file as UTF-8 (Excel: CSV UTF-8)",
        )
    return None


def _looks_binary_garbage(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) != b"PAR1"


class _BareConstant(ValueError):
    """Python's json.dumps writes NaN/Infinity for non-finite floats; JSON has no such thing."""


class _TooDeep(ValueError):
    """A JSON line nested deeper than the reader goes."""


def _refuse_constant(token: str) -> object:
    raise _BareConstant(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if value in (float("inf"), float("-inf")):
        raise OverflowError(f"the number {token} is out of range")
    return value


MAX_DEPTH = 1024
"""How deep Polars' JSON reader nests objects and lists: a deeper line does not read."""


def _depth(line: bytes) -> int:
    """How deep a JSON line nests objects and lists (brackets inside strings do not count).

    >>> _depth(b'{"a": [[1], "]]]"]}')
    3
    """
    import numpy as np

    bare = re.sub(rb'"(?:[^"\\\\]|\\\\.)*"', b'""', line)
    codes = np.frombuffer(bare, dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    return int(np.cumsum(opens.astype(np.int64) - closes).max(initial=0))


def _decode(line: bytes, **options: object) -> object:
    """One JSON value, as Python's decoder reads it; a line nested deeper than
    :data:`MAX_DEPTH` is a :class:`_TooDeep` (not a RecursionError). Error path only."""
    if line.count(b"[") + line.count(b"{") > MAX_DEPTH and _depth(line) > MAX_DEPTH:
        raise _TooDeep(f"nested more than {MAX_DEPTH:,} levels deep, deeper than the reader goes")
    text = line.decode("utf-8")  # what the reader accepts; json.loads would guess
    try:
        return json.loads(text, **options)  # type: ignore[arg-type]
    except RecursionError:  # up to MAX_DEPTH levels, Python's decoder needs more stack
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + 2 * MAX_DEPTH)
        try:
            return json.loads(text, **options)  # type: ignore[arg-type]
        finally:
            sys.setrecursionlimit(limit)


def _jsonl_problem(line: bytes) -> str | None:
    """Why a JSONL line is not one JSON object, or None if it is (blank lines are fine)."""
    if not line.strip():
        return None
    try:
        obj = _decode(line, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _BareConstant as err:
        return f"a bare {err} is not JSON; rewards must be finite numbers"
    except _TooDeep as err:
        return str(err)
    except OverflowError as err:
        return str(err)
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except ValueError as err:  # JSONDecodeError is a ValueError
        why = str(getattr(err, "msg", err))
        if b"\r" in line.rstrip(b"\r"):
            why += "; its lines end with a carriage return alone (old Mac line ends)"
        return why
    return None if isinstance(obj, dict) else f"found a JSON {type(obj).__name__}"


GZIP_MAGIC = b"\x1f\x8b"


def _gzip_problem(path: Path) -> InputError | None:
    """A .gz file that is no gzip, or whose stream ends early (still being written)."""
    if path.suffix.lower() != ".gz":
        return None
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(GZIP_MAGIC))
        if magic != GZIP_MAGIC:
            return InputError(
                f"'{path}' is not gzip-compressed, though its name ends in .gz",
                hint="rename it without .gz, or compress it",
            )
        stream = Decompressed(path)
        for _ in stream:  # streamed: only whether it ends properly is kept
            pass
    except OSError:
        return None
    if not stream.complete:
        return _cut_gzip(path)
    return None


def _cut_gzip(path: Path) -> InputError:
    return InputError(
        f"'{path}': the gzip stream ends early (was the file still being written?)",
        hint="pass --skip-bad-lines to read it as far as it goes",
    )


def _starts_with_bom(path: Path) -> bool:
    import gzip

    try:
        with gzip.open(path) if path.suffix.lower() == ".gz" else path.open("rb") as fh:
            return bool(fh.read(len(BOM)) == BOM)
    except (OSError, EOFError, ValueError):
        return False  # the read proper reports it


def _safe_lines(path: Path) -> Iterator[bytes]:
    """:func:`file_lines`, ending quietly where the file cannot be read."""
    try:
        yield from file_lines(path)
    except OSError:
        return


def _first_bad_jsonl_line(path: Path) -> tuple[int, str, int] | None:
    """(line number, why, number of lines) of the first malformed line, if any."""
    found: tuple[int, str] | None = None
    total = 0
    try:
        for total, line in enumerate(file_lines(path), start=1):
            if found is None:
                why = _jsonl_problem(line)
                if why is not None:
                    found = (total, why)
    except OSError:
        return None
    return None if found is None else (*found, total)


def cleaned_jsonl(path: Path, skip_bad_lines: bool) -> tuple[Path, tuple[int, ...]]:
    """What to scan for a JSONL file Polars cannot read as it is: a copy without the
    byte-order mark and, with ``skip_bad_lines``, with its malformed lines blanked (a
    truncated last line after a crash, say); and their line numbers. Streamed to a
    temporary file, so memory does not grow with the file.

    Without ``skip_bad_lines``, a .gz cut short is an error (read in full, it would go
    unseen); with it, the file is read as far as it goes.
    """
    rule, how = (_jsonl_problem, "skip") if skip_bad_lines else ((lambda _: None), "bom")
    try:
        copy, bad, kept, complete = cleaned_copy(path, how, lambda line: rule(line) is not None)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InputError(
                f"no room for a cleaned copy of '{path}' in the temporary folder "
                f"({exc.strerror or exc})",
                hint="point TMPDIR at a disk with room for it",
            ) from exc
        raise InputError(f"'{path}': cannot read ({exc.strerror or exc})") from exc
    if not complete and not skip_bad_lines:
        raise _cut_gzip(path)
    if not kept:
        raise InputError(
            f"'{path}': no line is a JSON object ({len(bad):,} malformed line(s) skipped)",
            hint="check that this is a JSON Lines rollout log",
        )
    return copy, bad


def _csv_line(source: Source, fmt: Format, row: int) -> str:
    """'line N' where the ``row``-th CSV record (1-based, after the header) starts: a quoted
    value may span lines."""
    import csv

    try:
        rows = _csv_rows(source, fmt, [])
        line = 1  # where the next record starts
        for index, _ in enumerate(rows):
            if index == row:
                return f"line {line}"
            line = rows.line_num + 1
    except (OSError, csv.Error):
        pass
    return f"line {row + 1}"


def _where(source: Source, fmt: Format, row: int) -> str:
    """'line N' for the ``row``-th record (1-based) of a file. Error path only.

    JSONL readers skip blank lines, so the record's physical line is counted; CSV adds
    the header line; Parquet has rows, not lines.
    """
    if fmt in ("csv", "tsv"):
        return _csv_line(source, fmt, row)
    if fmt != "jsonl":
        return f"row {row}"
    seen = 0
    try:
        for number, line in enumerate(file_lines(source), start=1):
            if line.strip():
                seen += 1
                if seen == row:
                    return f"line {number}"
    except OSError:
        pass
    return f"record {row}"


def _parses(path: Source, fmt: Format) -> bool:
    """Does Polars read every line? (A full native pass: only for --skip-bad-lines.)

    Every column is read: a bare row count can skip the parsing, and so a malformed line
    past the lines the schema is inferred from.
    """
    try:
        _scan(path, fmt).select(pl.all().null_count()).collect(engine="streaming")
    except READ_ERRORS:
        return False
    return True


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
    path: Path, fmt: Format, source: Source, cols: Sequence[str], *, used: bool = True
) -> InputError | None:
    """Find the first row whose value in ``cols`` is not a number (error path only).

    ``used``: columns the log reads as numbers (reward, length...); any other column is
    one whose earlier values were numbers, and only the run's columns are read by
    ``compare``."""
    for col in cols:
        not_a_number = (
            pl.col(col).is_not_null() & pl.col(col).cast(pl.Float64, strict=False).is_null()
        )
        first = _first_row_of(source, fmt, not_a_number, [col])
        if first is None:
            continue
        row, value = first
        where = f"'{path}', {_where(source, fmt, row)}, column '{col}'"
        if not used:
            return InputError(
                f"{where}: {_short(value)} where the rows before hold numbers: the column's "
                "values do not share one type",
                hint="fix the writer, or drop that column; grpoflaw does not use it, but "
                "`advantages` and `inspect` read every column (`compare` reads only its own)",
            )
        return InputError(
            f"{where}: expected a number, found {value!r}",
            hint="fix or drop that rollout, or map another column with the matching "
            "--reward-col / --step-col / --length-col",
        )
    return None
