"""Finding and scanning log files: paths, formats, lazy scans, schemas.

The happy path only builds lazy scans. What is wrong with a file after a read failed is
found by :mod:`grpoflaw_cli.ingest.locate`; a JSONL file Polars cannot read as it is (a
byte-order mark, ``skip_bad_lines``) is scanned from a cleaned copy (:func:`cleaned_jsonl`).

>>> file_format(Path("steps/12.jsonl.gz"))
'jsonl'
"""

from __future__ import annotations

import errno
import glob
import os
import re
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from grpoflaw_cli.errors import InputError, UsageError
from grpoflaw_cli.formatting import count
from grpoflaw_cli.ingest.columns import Format
from grpoflaw_cli.ingest.lines import BOM, cleaned_copy, cut_gzip_error, is_gzip, jsonl_problem
from grpoflaw_cli.ingest.remote import RemotePath, expand, is_remote, scan_options
from grpoflaw_cli.ingest.wandb_tables import is_table

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


def natural_key(path: Path) -> list[object]:
    """Sort ``2.jsonl`` before ``10.jsonl``."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", str(path))]


def file_format(path: Path) -> Format | None:
    """The log format a file name implies, or ``None``.

    >>> file_format(Path("steps/12.jsonl.gz"))
    'jsonl'
    """
    if is_table(path):  # a W&B table export, read from a Parquet copy
        return "parquet"
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and is_gzip(path):
        suffixes = suffixes[:-1]
        if suffixes and FORMATS.get(suffixes[-1]) == "parquet":
            return None
    if not suffixes:
        return None
    fmt = FORMATS.get(suffixes[-1])
    return fmt  # type: ignore[return-value]


def resolve_paths(
    paths: Sequence[str | Path], twins: list[tuple[Path, Path]] | None = None
) -> list[Path]:
    """Expand files, folders (every log file below them) and globs into an ordered list.

    Folders and globs are sorted naturally, so per-step dumps (``2.jsonl``, ``10.jsonl``)
    read in step order. A path that names nothing is an :class:`InputError`. A file named
    twice (two paths, a link) is read once: each (name left out, name read) pair is added
    to ``twins``, for the caller to say so.
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
    seen: dict[tuple[int, int], Path] = {}  # a file named twice (paths, links): read once
    unique = []
    for p in out:
        try:
            stat = p.stat()  # one call; resolve() would look at every folder on the way
        except OSError as err:
            raise InputError(f"'{p}': cannot read ({err.strerror or err})") from None
        key = (stat.st_dev, stat.st_ino)
        if key not in seen:
            seen[key] = p
            unique.append(p)
        elif twins is not None:
            twins.append((p, seen[key]))
    return unique


def _expand(raw: str | Path) -> list[Path]:
    """The log files one path stands for (a file, a folder, a glob)."""
    if is_remote(raw):  # s3://, gs://, az://, hf://: listed by the store
        found: list[Path] = sorted(
            expand(str(raw), lambda p: file_format(p) is not None), key=natural_key
        )
        if file_format(found[0]) is None:  # an object named alone
            raise _unknown_format(found[0])
        return found
    out: list[Path] = []
    path = Path(raw)
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", str(raw))
    if scheme and not path.exists():  # http://, ftp://, file://: no store of ours
        raise InputError(
            f"'{raw}': grpoflaw does not read {scheme.group(1)}:// URLs",
            hint="give a local path, or an s3://, gs://, az:// or hf:// URL (download others "
            "first)",
        )
    if path.is_dir():
        found = sorted(_log_files_in(path), key=natural_key)
        if not found:
            raise InputError(
                f"folder '{path}' holds no log files",
                hint="grpoflaw reads " + ", ".join(_supported()) + " (optionally .gz)",
            )
        out.extend(found)
    elif path.is_file():
        if file_format(path) is None:
            raise _unknown_format(path)
        out.append(path)
    elif any(ch in str(raw) for ch in "*?["):
        matches = sorted(
            (Path(p) for p in glob.glob(str(raw), recursive=True) if Path(p).is_file()),
            key=natural_key,
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


def _unknown_format(path: Path) -> InputError:
    return InputError(
        f"'{path}': unknown log format (extension '{''.join(path.suffixes)}')",
        hint="grpoflaw reads " + ", ".join(_supported()) + "; rename the file",
    )


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


def _literal(source: Source) -> str | Path:
    """A file path as Polars' scans take it literally: they expand globs, so ``*``, ``?``
    and ``[`` in a real file's name ("run [1].jsonl") are escaped as one-character
    classes. (Globs the user typed are expanded by ingest, never by the scans.) A remote
    file is its URL."""
    if isinstance(source, RemotePath):
        return _escaped(str(source))
    if not any(c in str(source) for c in "*?["):
        return source
    return Path(_escaped(str(source)))


def _escaped(path: str) -> str:
    """``*``, ``?`` and ``[`` escaped as one-character glob classes; in a URL, ``[`` and
    ``]`` with backslashes, which Polars' cloud globs take (a class ``[[]`` is a regex
    error there, and ``\\*`` matches nothing).

    >>> print(_escaped("run [1]*.jsonl"), _escaped("s3://b/run [1]*.jsonl"))
    run [[]1][*].jsonl s3://b/run \\[1\\][*].jsonl
    """
    if is_remote(path):
        return re.sub(r"([*?])", r"[\1]", re.sub(r"([\[\]])", r"\\\1", path))
    return re.sub(r"([*?\[])", r"[\1]", path)


SMALL_LOG_BYTES = 4_000_000
"""A log whose JSONL files hold at most this many bytes in all (an eighth of it gzipped)
has their schemas inferred from every line, not Polars' first 100 (about 10 ms per MB): a
field that first appears late is seen, and a late wider type (1.5 in a column of integers)
is read as such. In a larger log, every line is searched for the names grpoflaw looks for,
in one native pass, and a file's schema is inferred from every line only if one of them
appears late (:mod:`grpoflaw_cli.ingest.late_fields`)."""

_WHOLE_FILE_SCHEMAS: dict[tuple[Path, int, int], pl.Schema] = {}
"""The schemas inferred from every line, by (file, size, mtime): found once, used by every
later scan of the file."""


def file_stamp(path: Path) -> tuple[Path, int, int]:
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
            total += file_stamp(path)[1] * (8 if is_gzip(path) else 1)
            if total > SMALL_LOG_BYTES:
                return False
    return True


def scan_file(
    source: Source, fmt: Format, overrides: dict[str, pl.DataType] | None = None
) -> pl.LazyFrame:
    literal = _literal(source)
    if fmt == "jsonl":  # a schema inferred from every line, if one was (small logs, late fields)
        whole = _WHOLE_FILE_SCHEMAS.get(file_stamp(source))
        return pl.scan_ndjson(literal, schema=whole, schema_overrides=overrides)
    if fmt in ("csv", "tsv"):
        frame = pl.scan_csv(
            literal, separator="\t" if fmt == "tsv" else ",", schema_overrides=overrides
        )
        blank = _BLANK_TAIL.get(str(source))
        if blank is None:
            blank = _BLANK_TAIL[str(source)] = _trailing_blank_lines(source)
        return frame if not blank else _without_last_blank_rows(frame, blank)
    frame = pl.scan_parquet(literal)
    unreadable = unreadable_columns(source)
    return frame.drop(unreadable) if unreadable else frame


_BLANK_TAIL: dict[str, int] = {}
"""CSV file → how many blank lines end it, looked at once per load (by :func:`file_schema`)."""


def _trailing_blank_lines(path: Path) -> int:
    """How many blank lines end an uncompressed CSV file (its last 4 KiB). Polars reads
    each as a row of nulls; a writer or an editor often leaves one."""
    if is_gzip(path):
        return 0
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 4096))
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
"""Parquet file → its columns that Polars cannot read, as :func:`file_schema` found them."""


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


def batchable(source: Path) -> bool:
    """Can ``source`` join a multi-file scan (:func:`scan_files`) as it is? Not a CSV file
    that ends in blank lines, nor a Parquet file with columns Polars cannot read: their
    :func:`scan_file` (after :func:`file_schema`) leaves those out, so they are scanned alone."""
    return not _BLANK_TAIL.get(str(source)) and not _UNREADABLE.get(str(source))


def absolute(path: Path) -> str:
    """The name a multi-file scan gives a file in :data:`PATH_COL`: its absolute path,
    or its URL."""
    return str(path) if isinstance(path, RemotePath) else os.path.abspath(path)


PATH_COL = "__path"
"""The column :func:`scan_files` names each row's file in (its absolute path)."""


def scan_files(
    paths: Sequence[Path], fmt: Format, schema: pl.Schema, overrides: dict[str, pl.DataType]
) -> pl.LazyFrame:
    """One scan over files that share a format and ``schema`` (with ``overrides``), each
    row's file in :data:`PATH_COL`. The schema is given, never inferred again."""
    literal = [_escaped(absolute(p)) for p in paths]
    given = pl.Schema({**schema, **overrides})
    if fmt == "jsonl":
        more = scan_options(paths)  # credentials for a list of URLs
        return pl.scan_ndjson(literal, schema=given, include_file_paths=PATH_COL, **more)
    if fmt in ("csv", "tsv"):
        return pl.scan_csv(
            literal,
            separator="\t" if fmt == "tsv" else ",",
            schema_overrides=given,
            include_file_paths=PATH_COL,
        )
    return pl.scan_parquet(literal, include_file_paths=PATH_COL)


def file_schema(path: Path, fmt: Format, source: Source, whole: bool = False) -> pl.Schema:
    """The file's schema; a JSONL file's from every line if ``whole``. A file that cannot
    be read is an :class:`InputError`; one Polars cannot parse raises its error (which
    :func:`~grpoflaw_cli.ingest.locate.locate_read_error` explains)."""
    if source.stat().st_size == 0:
        raise InputError(
            f"'{path}' is empty (0 bytes)",
            hint="was the run stopped before it wrote this file? Leave it out of the paths",
        )
    try:
        _UNREADABLE.pop(str(source), None)  # looked at afresh: the file may have changed
        _BLANK_TAIL.pop(str(source), None)
        if whole and fmt == "jsonl":
            return whole_file_schema(source)
        schema = scan_file(source, fmt).collect_schema()
        if fmt == "parquet":  # the schema reads; a column's values may not
            odd = tuple(name for name, dtype in schema.items() if _too_wide(dtype))
            if odd:
                _UNREADABLE[str(source)] = odd
                schema = scan_file(source, fmt).collect_schema()
        return schema
    except OSError as exc:
        raise InputError(f"'{path}': cannot read ({exc.strerror or exc})") from exc


def whole_file_schema(path: Path) -> pl.Schema:
    """A JSONL file's schema from every line, kept for the file's later scans."""
    schema = pl.scan_ndjson(_literal(path), infer_schema_length=None).collect_schema()
    if len(_WHOLE_FILE_SCHEMAS) >= 100_000:  # a long-lived process reading many logs
        _WHOLE_FILE_SCHEMAS.clear()
    _WHOLE_FILE_SCHEMAS[file_stamp(path)] = schema
    return schema


def starts_with_bom(path: Path) -> bool:
    import gzip

    try:
        with path.open("rb") as raw, gzip.open(raw) if is_gzip(path) else raw as fh:
            return bool(fh.read(len(BOM)) == BOM)
    except (OSError, EOFError, ValueError):
        return False  # the read proper reports it


def cleaned_jsonl(path: Path, skip_bad_lines: bool) -> tuple[Path, tuple[int, ...]]:
    """What to scan for a JSONL file Polars cannot read as it is: a copy without the
    byte-order mark and, with ``skip_bad_lines``, with its malformed lines blanked (a
    truncated last line after a crash, say); and their line numbers. Streamed to a
    temporary file, so memory does not grow with the file.

    Without ``skip_bad_lines``, a .gz cut short is an error (read in full, it would go
    unseen); with it, the file is read as far as it goes.
    """
    rule, how = (jsonl_problem, "skip") if skip_bad_lines else ((lambda _: None), "bom")
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
        raise cut_gzip_error(path)
    if not kept:
        raise InputError(
            f"'{path}': no line is a JSON object ({count(len(bad), 'malformed line')} skipped)",
            hint="check that this is a JSON Lines rollout log",
        )
    return copy, bad


def parses(path: Source, fmt: Format) -> bool:
    """Does Polars read every line? (A full native pass: only for ``skip_bad_lines``.)

    Every column is read: a bare row count can skip the parsing, and so a malformed line
    past the lines the schema is inferred from.
    """
    try:
        scan_file(path, fmt).select(pl.all().null_count()).collect(engine="streaming")
    except READ_ERRORS:
        return False
    return True
