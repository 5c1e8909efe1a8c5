"""Finding what is wrong with a log file after a read failed: which file, line and column,
and why, for the message. Error path only: these functions re-read a file line by line,
streamed (:mod:`grpoflaw_cli.ingest.lines`), so memory does not grow with the file; the happy
path never calls them.

>>> row_location(Path("steps/12.parquet"), "parquet", 3)
'row 3'
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from grpoflaw_cli.errors import InputError, json_quoted, option, quoted
from grpoflaw_cli.ingest.columns import Format
from grpoflaw_cli.ingest.files import READ_ERRORS, Source, scan_file
from grpoflaw_cli.ingest.headers import CR_HINT
from grpoflaw_cli.ingest.lines import (
    Decompressed,
    cut_gzip_error,
    decode_json_line,
    file_lines,
    is_gzip,
    jsonl_problem,
)

if TYPE_CHECKING:
    import _csv


def locate_read_error(
    path: Path,
    fmt: Format,
    exc: BaseException,
    numeric: Sequence[str] = (),
    keys: Mapping[str, str] | None = None,
) -> InputError:
    """Turn a Polars read failure into a message naming the file and, for JSONL, the line.

    ``numeric`` are the columns the log reads as numbers (the reward, say): read so here
    too, so that only a column whose values really clash is named. ``keys`` maps the other
    columns the log uses (the step and group columns) to the setting that maps each
    (:func:`~grpoflaw_cli.errors.option`). Only runs
    after a failure, so it may read the file line by line (streamed: memory does not grow
    with it).
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
        key = (keys or {}).get(column)
        if key is not None:
            return _key_type_change(path, fmt, column, key, detail)
        return _type_change(path, fmt, column, used=column in numeric, detail=detail)
    if bad_line is not None:
        line_no, why, total = bad_line
        bare = why.startswith("a bare ")  # NaN, Infinity: written whole, not cut short
        last = (
            " (the last line: was the file still being written?)"
            if line_no == total and total > 1 and not bare
            else ""
        )
        hint = (
            f"a {''.join(path.suffixes)} file is read as JSON Lines: one JSON object per line"
            if why.startswith("found a JSON")
            else BARE_HINT
            if bare
            else CR_HINT
            if "carriage return" in why
            else f"fix or delete that line, or pass {option('skip_bad_lines')} to skip malformed "
            "lines "
            "(they are counted and reported)"
        )
        return InputError(f"'{path}', line {line_no}: not a JSON object ({why}){last}", hint=hint)
    if fmt == "jsonl" and not any(line.strip() for line in _safe_lines(path)):
        return InputError(f"'{path}' holds no JSON lines: it is empty or blank")
    if fmt == "parquet" and _looks_binary_garbage(path):
        return InputError(f"'{path}' is not a Parquet file ({detail})")
    if fmt == "jsonl" and (clash := _first_json_type_clash(path)) is not None:
        return clash  # a clash that defeats even the schema (a number, then a list)
    return InputError(f"'{path}': cannot be read as {fmt.upper()}: {detail}")


def _key_type_change(path: Path, fmt: Format, column: str, setting: str, detail: str) -> InputError:
    """The message for a step or group column whose values do not share one type."""
    found = _type_change(path, fmt, column, used=False, detail=detail)
    return InputError(
        found.message,
        hint=f"the ids of '{column}' must share one type: "
        + (
            "a CSV column's type is read from its first rows, so make every id text from "
            "the first row on (p1, p2, ...)"
            if fmt in ("csv", "tsv")
            else "write every one as text or every one as a number (fix the writer)"
        )
        + f"; or map another column with {option(setting)}",
    )


def _type_change(path: Path, fmt: Format, column: str, *, used: bool, detail: str) -> InputError:
    """The message for a column whose values do not share one type, naming the first
    value that differs where it can be found. ``used``: one the log reads as numbers."""
    located = None
    if not used and fmt == "jsonl":
        located = _first_json_type_clash(path, column)
    if located is None:
        located = first_non_numeric(path, fmt, path, [column], used=used)
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
        names = scan_file(path, fmt).collect_schema().names()
        frame = scan_file(path, fmt, {c: pl.Float64() for c in numeric if c in names} or None)
    except READ_ERRORS:
        return None
    for name in names:
        try:
            frame.select(name).collect()
        except READ_ERRORS:
            return name
    return None


def json_kind(value: object) -> str:
    return {bool: "true/false", str: "string", list: "list", dict: "object"}.get(
        type(value), "number"
    )


def _json_records(source: Source) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, record) of each JSONL line that is a JSON object; other lines are
    passed over. Error path only: Python's JSON, streamed."""
    try:
        for number, line in enumerate(file_lines(source), start=1):
            try:
                record = decode_json_line(line) if line.strip() else None
            except ValueError:
                continue
            if isinstance(record, dict):
                yield number, record
    except OSError:
        return


def _json_values(source: Source, column: str) -> Iterator[tuple[int, object]]:
    """(line number, value) of ``column`` on each JSONL line that holds one (not null)."""
    for number, record in _json_records(source):
        value = record.get(column)
        if value is not None:
            yield number, value


def _first_json_type_clash(source: Source, column: str | None = None) -> InputError | None:
    """The first JSONL line whose ``column`` (any field, without one) holds another kind
    of JSON value than the lines before gave it: a string "0.5" after numbers, or a list
    after numbers, which Polars reports only as "failed to determine supertype"."""
    kinds: dict[str, str] = {}
    for number, record in _json_records(source):
        fields = record.items() if column is None else [(column, record.get(column))]
        for name, value in fields:
            if value is None:
                continue
            kind = json_kind(value)
            first = kinds.setdefault(name, kind)
            if kind != first:
                return InputError(
                    f"'{source}', line {number}, column '{name}': the JSON {kind} "
                    f"{json_quoted(value)} where the lines before hold {first}s",
                    hint='write every value of a column as one JSON type (0.5, not "0.5")',
                )
    return None


def first_json_non_number(source: Source, column: str) -> tuple[int, object] | None:
    """(line, value) of the first JSONL line whose ``column`` is no JSON number (an object,
    a list, true/false, a string). Error path only."""
    return next(((n, v) for n, v in _json_values(source, column) if json_kind(v) != "number"), None)


def first_json_string(source: Source, column: str) -> tuple[int, str] | None:
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


GZIP_MAGIC = b"\x1f\x8b"


def _gzip_problem(path: Path) -> InputError | None:
    """A .gz file that is no gzip, or whose stream ends early (still being written)."""
    if not is_gzip(path):
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
        return cut_gzip_error(path)
    return None


def _safe_lines(path: Path) -> Iterator[bytes]:
    """:func:`file_lines`, ending quietly where the file cannot be read."""
    try:
        yield from file_lines(path)
    except OSError:
        return


BARE_HINT = (
    "Python's json.dumps writes NaN for float('nan'); write null for a missing value "
    "(json.dumps(..., allow_nan=False) finds where), or replace them: "
    r"sed -E 's/-?\b(NaN|Infinity)\b/null/g'. Skipping the line would drop the rollout "
    "from its group"
)
"""What to do about a bare NaN or Infinity in a JSONL line."""


def _first_bad_jsonl_line(path: Path) -> tuple[int, str, int] | None:
    """(line number, why, number of lines) of the first malformed line, if any."""
    found: tuple[int, str] | None = None
    total = 0
    try:
        for total, line in enumerate(file_lines(path), start=1):
            if found is None:
                why = jsonl_problem(line)
                if why is not None:
                    found = (total, why)
    except OSError:
        return None
    return None if found is None else (*found, total)


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


def row_location(source: Source, fmt: Format, row: int) -> str:
    """'line N' for the ``row``-th record (1-based) of a file. Error path only.

    JSONL readers skip blank lines, so the record's physical line is counted; CSV adds
    the header line; Parquet has rows, not lines.
    """
    if fmt in ("csv", "tsv"):
        return _csv_line(source, fmt, row)
    if fmt != "jsonl":
        return f"row {row}"
    found = record_line(source, row)
    return f"record {row}" if found is None else f"line {found[0]}"


def record_line(source: Source, record: int) -> tuple[int, bytes] | None:
    """(line number, line) of a JSONL file's ``record``-th record (1-based; blank lines,
    which readers skip, do not count), or None past the end. Streamed to that line."""
    seen = 0
    try:
        for number, line in enumerate(file_lines(source), start=1):
            if line.strip():
                seen += 1
                if seen == record:
                    return number, line
    except OSError:
        pass
    return None


def _first_row_of(
    source: Source, fmt: Format, predicate: pl.Expr, cols: Sequence[str]
) -> tuple[int, object] | None:
    """(1-based row, value of ``cols[0]``) of the first raw row matching ``predicate``."""
    try:
        hit = (
            scan_file(source, fmt, {c: pl.String() for c in cols})
            .with_row_index("__row", offset=1)
            .filter(predicate)
            .select("__row", cols[0])
            .head(1)
            .collect()
        )
    except READ_ERRORS:
        return None
    return (int(hit["__row"][0]), hit[cols[0]][0]) if hit.height else None


def first_non_numeric(
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
        where = f"'{path}', {row_location(source, fmt, row)}, column '{col}'"
        if not used:
            return InputError(
                f"{where}: {quoted(value)} where the rows before hold numbers: the column's "
                "values do not share one type",
                hint="fix the writer, or drop that column; grpoflaw does not use it, but "
                "`advantages` and `inspect` read every column (`compare` reads only its own)",
            )
        return InputError(
            f"{where}: expected a number, found {quoted(value)}",
            hint="fix or drop that rollout, or map another column with the matching "
            f"{option('reward_cols')} / {option('step_col')} / {option('length_col')}",
        )
    return None
