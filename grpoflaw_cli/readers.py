"""Reading log files: paths, formats, lazy scans, and finding what is wrong with a file.

The happy path only builds lazy scans; the functions that re-read a file line by line run
only after a failure, to name the file, line and column in the message.

>>> file_format(Path("steps/12.jsonl.gz"))
'jsonl'
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from grpoflaw_cli.columns import Format
from grpoflaw_cli.errors import InputError, UsageError

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

Source = Path | bytes
"""What a scan reads: the file, or its content with malformed lines blanked."""


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


def _literal(source: Source) -> Source:
    """A file path as Polars' scans take it literally: they expand globs, so ``*``, ``?``
    and ``[`` in a real file's name ("run [1].jsonl") are escaped as one-character
    classes. (Globs the user typed are expanded by ingest, never by the scans.)"""
    if isinstance(source, bytes) or not any(c in str(source) for c in "*?["):
        return source
    return Path(_escaped(str(source)))


def _escaped(path: str) -> str:
    """``*``, ``?`` and ``[`` escaped as one-character glob classes."""
    return re.sub(r"([*?\[])", r"[\1]", path)


SMALL_LOG_BYTES = 4_000_000
"""A log whose JSONL files hold at most this many bytes in all (an eighth of it gzipped)
has their schemas inferred from every line, not Polars' first 100 (about 10 ms per MB): a
field that first appears late is seen, and a late wider type (1.5 in a column of integers)
is read as such. In a larger log, :func:`with_late_columns` searches every line for the
names grpoflaw looks for, in one native pass, and infers a file's schema from every line
only if one of them appears late."""

_WHOLE_FILE_SCHEMAS: dict[tuple[Path, int, int], pl.Schema] = {}
"""The schemas inferred from every line, by (file, size, mtime): found once, used by every
later scan of the file."""


def _stamp(path: Path) -> tuple[Path, int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (path, -1, -1)
    return (path, stat.st_size, stat.st_mtime_ns)


def small_log(files: Sequence[Path]) -> bool:
    """Are the JSONL files of a log small enough to infer their schemas from every line?"""
    total = 0
    for path in files:
        if file_format(path) == "jsonl":
            total += _stamp(path)[1] * (8 if path.suffix.lower() == ".gz" else 1)
            if total > SMALL_LOG_BYTES:
                return False
    return True


def _scan(
    source: Source, fmt: Format, overrides: dict[str, pl.DataType] | None = None
) -> pl.LazyFrame:
    if fmt == "jsonl":
        if isinstance(source, bytes) and len(source) <= SMALL_LOG_BYTES:  # cleaned: no stamp
            return pl.scan_ndjson(source, schema_overrides=overrides, infer_schema_length=None)
        whole = _WHOLE_FILE_SCHEMAS.get(_stamp(source)) if isinstance(source, Path) else None
        return pl.scan_ndjson(_literal(source), schema=whole, schema_overrides=overrides)
    source = _literal(source)
    if fmt in ("csv", "tsv"):
        return pl.scan_csv(
            source, separator="\t" if fmt == "tsv" else ",", schema_overrides=overrides
        )
    return pl.scan_parquet(source)


PATH_COL = "__path"
"""The column :func:`_scan_many` names each row's file in (its absolute path)."""


def _scan_many(
    paths: Sequence[Path], fmt: Format, schema: pl.Schema, overrides: dict[str, pl.DataType]
) -> pl.LazyFrame:
    """One scan over files that share a format and ``schema`` (with ``overrides``), each
    row's file in :data:`PATH_COL`. The schema is given, never inferred again."""
    literal = [Path(_escaped(os.path.abspath(p))) for p in paths]
    given = pl.Schema({**schema, **overrides})
    if fmt == "jsonl":
        return pl.scan_ndjson(literal, schema=given, include_file_paths=PATH_COL)
    if fmt in ("csv", "tsv"):
        return pl.scan_csv(
            literal,
            separator="\t" if fmt == "tsv" else ",",
            schema_overrides=given,
            include_file_paths=PATH_COL,
        )
    return pl.scan_parquet(literal, include_file_paths=PATH_COL)


def _schema(path: Path, fmt: Format, source: Source, whole: bool = False) -> pl.Schema:
    """The file's schema; a JSONL file's from every line if ``whole``."""
    if isinstance(source, Path) and source.stat().st_size == 0:
        raise InputError(
            f"'{path}' is empty (0 bytes)",
            hint="was the run stopped before it wrote this file? Leave it out of the paths",
        )
    try:
        if whole and fmt == "jsonl" and isinstance(source, Path):
            return _whole_file_schema(source)
        return _scan(source, fmt).collect_schema()
    except OSError as exc:
        raise InputError(f"'{path}': cannot read ({exc.strerror or exc})") from exc
    except READ_ERRORS as exc:
        raise locate_read_error(path, fmt, exc) from exc


def _whole_file_schema(path: Path) -> pl.Schema:
    """A JSONL file's schema from every line, kept for the file's later scans."""
    schema = pl.scan_ndjson(_literal(path), infer_schema_length=None).collect_schema()
    if len(_WHOLE_FILE_SCHEMAS) >= 100_000:  # a long-lived process reading many logs
        _WHOLE_FILE_SCHEMAS.clear()
    _WHOLE_FILE_SCHEMAS[_stamp(path)] = schema
    return schema


def with_late_columns(
    files: Sequence[Path],
    formats: Sequence[Format],
    sources: Sequence[Source],
    schemas: Sequence[pl.Schema],
    look_for: Sequence[str],
) -> list[pl.Schema]:
    """The schemas, a JSONL file's inferred from every line where one of ``look_for`` (the
    names grpoflaw looks for and the flags give) appears in it but not in its schema (from
    its first 100 lines). One native pass over the files of each schema; a nested key or a
    value that reads like a key also counts (then the schema is inferred in full: slower,
    never wrong). Files read from cleaned bytes are not searched."""
    out = list(schemas)
    families: dict[tuple[object, ...], list[int]] = {}
    for index, (fmt, source, schema) in enumerate(zip(formats, sources, schemas, strict=True)):
        if fmt == "jsonl" and isinstance(source, Path):
            families.setdefault(tuple(schema.items()), []).append(index)
    for members in families.values():
        missing = [n for n in look_for if n not in schemas[members[0]]]
        for index in _files_holding(missing, [files[i] for i in members], members):
            try:
                out[index] = _whole_file_schema(files[index])
            except READ_ERRORS as exc:
                raise locate_read_error(files[index], "jsonl", exc) from exc
    return out


BATCH_BYTES = 64_000_000
"""Small files are searched by reading them into memory this many bytes at a time: a
multi-file scan costs about 0.1 ms a file, which 20,000 step files would feel."""


def _files_holding(
    names: Sequence[str], paths: Sequence[Path], indexes: Sequence[int]
) -> list[int]:
    """Which of the JSONL files hold one of ``names`` as a JSON string (``"name"``) on
    some line: their indexes. Native string search; memory bounded by :data:`BATCH_BYTES`."""
    if not names:
        return []
    keys = [f'"{n}"' for n in names]
    found: list[int] = []
    batch: list[tuple[int, str]] = []
    held = 0

    def search() -> None:
        texts = pl.Series([text for _, text in batch], dtype=pl.String)
        hits = texts.str.contains_any(keys)
        found.extend(i for (i, _), hit in zip(batch, hits, strict=True) if hit)
        batch.clear()

    for path, index in zip(paths, indexes, strict=True):
        size = _stamp(path)[1]
        if size > BATCH_BYTES // 8 or path.suffix.lower() == ".gz":  # streamed by Polars
            if _holds(path, keys):
                found.append(index)
            continue
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            found.append(index)  # inferred in full: the read then says what is wrong
            continue
        batch.append((index, text))
        held += len(text)
        if held > BATCH_BYTES:
            search()
            held = 0
    if batch:
        search()
    return sorted(found)


def _holds(path: Path, keys: list[str]) -> bool:
    """Does some line of a (large or compressed) file hold one of ``keys``? Polars reads
    the lines as one text column, in a streaming pass."""
    lines = pl.scan_csv(
        _literal(path),
        has_header=False,
        separator="\x1f",  # JSON text never holds a raw control character
        quote_char=None,
        new_columns=["line"],
        schema_overrides={"line": pl.String},
    )
    try:
        hit = lines.select(pl.col("line").str.contains_any(keys).any())
        return bool(hit.collect(engine="streaming").item())
    except READ_ERRORS:
        return True  # inferred in full: the read then says what is wrong


def duplicate_names(path: Path, fmt: Format, source: Source, schema: pl.Schema) -> str | None:
    """A warning if the file names a column twice, else None. Cheap: a CSV's header as
    Polars read it (it renames the second ``x`` to ``x_duplicated_0``), a JSONL file's first
    line (Polars reads the first of two equal keys; a writer that repeats a key usually
    does so on every line)."""
    if fmt in ("csv", "tsv"):
        renamed = {
            n: m.group(1)
            for n in schema.names()
            if (m := re.fullmatch(r"(.+)_duplicated_\d+", n)) and m.group(1) in schema
        }
        if not renamed:
            return None
        said = ", ".join(f"{b!r} (the next one is read as {n!r})" for n, b in renamed.items())
        return f"'{path}': the header names a column more than once: {said}"
    if fmt != "jsonl":
        return None
    repeated: list[list[str]] = []  # per object decoded; the line's own object comes last

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        counts = Counter(k for k, _ in items)
        repeated.append([k for k, n in counts.items() if n > 1])
        return dict(items)

    try:
        json.loads(_first_line(source), object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None  # the read proper reports a malformed line
    if not repeated or not repeated[-1]:
        return None
    names = ", ".join(repr(k) for k in repeated[-1])
    return f"'{path}', line 1: the key {names} appears more than once; the first value is read"


def _first_line(source: Source) -> bytes:
    """The first line that is not blank of a file (decompressed) or of cleaned bytes."""
    import gzip

    if isinstance(source, bytes):
        return source.lstrip().split(b"\n", 1)[0]
    first = b""
    try:
        gz = source.suffix.lower() == ".gz"
        with gzip.open(source) if gz else source.open("rb") as fh:
            for _, first in zip(range(100), fh, strict=False):  # the first that is not blank
                if first.strip():
                    break
    except (OSError, EOFError, ValueError):
        return b""
    return first[len(BOM) :] if first.startswith(BOM) else first


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
    gzip_problem = _gzip_problem(path)
    if gzip_problem is not None:
        return gzip_problem
    if fmt in ("csv", "tsv"):
        located_csv = _first_bad_csv_line(path, fmt)
        if located_csv is not None:
            return located_csv
    bad_line = _first_bad_jsonl_line(path) if fmt == "jsonl" else None
    column = None if bad_line is not None else _first_unreadable_column(path, fmt)
    if column is not None:
        located = _first_non_numeric(path, fmt, path, [column])
        if located is None and fmt == "jsonl":
            located = _first_json_type_clash(path, column)
        if located is not None:
            return located
        return InputError(
            f"'{path}', column '{column}': its values do not share one type ({detail})",
            hint="a column whose values mix e.g. true/false and numbers cannot be read; "
            "fix the writer, or leave that column out of the file",
        )
    if fmt == "jsonl":
        located_line = bad_line
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


def _json_kind(value: object) -> str:
    return {bool: "true/false", str: "string", list: "list", dict: "object"}.get(
        type(value), "number"
    )


def _json_values(source: Source, column: str) -> Iterator[tuple[int, object]]:
    """(line number, value) of ``column`` on each JSONL line that holds one (not null);
    lines that are no JSON object are passed over. Error path only: Python's JSON."""
    try:
        data = source if isinstance(source, bytes) else _read_bytes(source)
    except (OSError, EOFError, ValueError):
        return
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            value = json.loads(line).get(column) if line.strip() else None
        except (ValueError, AttributeError):
            continue
        if value is not None:
            yield number, value


def _first_json_type_clash(source: Source, column: str) -> InputError | None:
    """The first JSONL line whose ``column`` holds another kind of JSON value than the
    lines before it (a string "0.5" after numbers, say). Error path only."""
    first: str | None = None
    for number, value in _json_values(source, column):
        kind = _json_kind(value)
        if first is None:
            first = kind
        elif kind != first:
            path = "" if isinstance(source, bytes) else f"'{source}', "
            return InputError(
                f"{path}line {number}, column '{column}': the JSON {kind} {value!r} where the "
                f"lines before hold {first}s",
                hint='write every value of a column as one JSON type (0.5, not "0.5")',
            )
    return None


def _first_json_string(source: Source, column: str) -> tuple[int, str] | None:
    """(line, value) of the first JSONL line whose ``column`` is a JSON string. Error path
    only."""
    return next(((n, v) for n, v in _json_values(source, column) if isinstance(v, str)), None)


def _first_bad_csv_line(path: Path, fmt: Format) -> InputError | None:
    """Bytes that are not UTF-8, or a row with more or fewer fields than the header: the
    first such line of a CSV/TSV file, as an error. Error path only."""
    import csv
    import io

    try:
        data = _read_bytes(path)
    except (OSError, EOFError, ValueError):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return InputError(
            f"'{path}', line {line}: not UTF-8 text (byte 0x{data[err.start]:02x})",
            hint="save the file as UTF-8 (Excel: CSV UTF-8)",
        )
    rows = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
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
    except csv.Error:
        return None  # Python's reader gives up where Polars' did: no better line to name
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


BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte-order mark some Windows tools write first; Polars' JSON reader stops at it."""


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed, without a leading byte-order mark. A gzip file
    cut short (still being written) gives what its complete blocks hold."""
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        data = _gunzip(data)[0]
    return data[len(BOM) :] if data.startswith(BOM) else data


def _gunzip(data: bytes) -> tuple[bytes, bool]:
    """Decompress gzip ``data`` (members one after another), as far as it goes: the bytes,
    and whether the stream was complete."""
    import zlib

    out: list[bytes] = []
    while data:
        stream = zlib.decompressobj(wbits=31)
        try:
            out.append(stream.decompress(data))
        except zlib.error:
            return b"".join(out), False
        if not stream.eof:
            return b"".join(out), False  # cut short
        data = stream.unused_data
    return b"".join(out), True


GZIP_MAGIC = b"\x1f\x8b"


def _gzip_problem(path: Path) -> InputError | None:
    """A .gz file that is no gzip, or whose stream ends early (still being written)."""
    if path.suffix.lower() != ".gz":
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(GZIP_MAGIC):
        return InputError(
            f"'{path}' is not gzip-compressed, though its name ends in .gz",
            hint="rename it without .gz, or compress it",
        )
    if not _gunzip(data)[1]:
        return InputError(
            f"'{path}': the gzip stream ends early (was the file still being written?)",
            hint="pass --skip-bad-lines to read it as far as it goes",
        )
    return None


def _starts_with_bom(path: Path) -> bool:
    import gzip

    try:
        with gzip.open(path) if path.suffix.lower() == ".gz" else path.open("rb") as fh:
            return bool(fh.read(len(BOM)) == BOM)
    except (OSError, EOFError, ValueError):
        return False  # the read proper reports it


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


def _csv_line(source: Source, fmt: Format, row: int) -> str:
    """'line N' where the ``row``-th CSV record (1-based, after the header) starts: a quoted
    value may span lines."""
    import csv
    import io

    try:
        data = source if isinstance(source, bytes) else _read_bytes(source)
        rows = csv.reader(
            io.StringIO(data.decode("utf-8"), newline=""), delimiter="\t" if fmt == "tsv" else ","
        )
        line = 1  # where the next record starts
        for index, _ in enumerate(rows):
            if index == row:
                return f"line {line}"
            line = rows.line_num + 1
    except (OSError, EOFError, ValueError, csv.Error):
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
