"""Writing outputs without ever destroying what was read.

An output is checked before any work starts (:func:`check_output`): it must not be a file
the run reads, nor a log file inside an input folder or glob (the next run would read it),
and its folder must be writable. A regular file is then written atomically: a temporary
file beside the (symlink-resolved) target is moved into place only on success, so a failed
or killed run (Ctrl-C, SIGTERM, SIGHUP) leaves no file and never truncates an existing one.
Anything else already at the path (a FIFO, ``/dev/stdout``, a device) is written through.

>>> with tempfile.TemporaryDirectory() as folder:
...     write_text_atomic(Path(folder, "report.html"), "<p>…</p>")
...     sorted(os.listdir(folder)), Path(folder, "report.html").read_text("utf-8")
(['report.html'], '<p>…</p>')
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import re
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, TypeVar

import polars as pl

from grpoflaw_cli.errors import UsageError, option
from grpoflaw_cli.ingest import file_format, resolve_paths
from grpoflaw_cli.ingest.remote import is_remote, remote_path

FRAME_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

WRITE_ERRNOS: frozenset[int] = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS", "EPIPE", "EBADF", "ENAMETOOLONG")
    if hasattr(errno, name)  # EDQUOT is POSIX only
)
"""Errors only a write gives: a failed sink that reads and writes is blamed on the output."""

_OS_ERROR = re.compile(r"\(os error (\d+)\)")


# --------------------------------------------------------------------------- checks


def check_output(path: str | Path, inputs: Sequence[str | Path] = ()) -> None:
    """Refuse, before any work, an output that would overwrite or feed an input, or that
    cannot be written: a :class:`UsageError`.

    ``inputs`` are the run's files, folders and globs. Refused: the path of a file the run
    reads (also through a symlink or a hard link), and a log file (by extension) inside an
    input folder or matching an input glob, which the next run would read as part of the log.

    >>> with tempfile.TemporaryDirectory() as logs:  # doctest: +ELLIPSIS
    ...     check_output(Path(logs, "advantages.jsonl"), [logs])
    Traceback (most recent call last):
    grpoflaw_cli.errors.UsageError: cannot write '...advantages.jsonl': a log file inside ...
    Hint: write the output outside the log's folder, or give it another extension
    """
    out = Path(path)
    check_writable(out)
    _check_not_an_input(out, inputs)


def _check_not_an_input(out: Path, inputs: Sequence[str | Path]) -> None:
    if not inputs:
        return
    if os.path.exists(out):
        target = _identity(out)  # once, not once per input file
        same = [f for f in resolve_paths(inputs) if target and _identity(f) == target]
        if same:
            raise UsageError(
                f"cannot write '{out}': it is an input of this run ('{same[0]}'), which "
                "the output would replace",
                hint="give the output another path",
            )
    if file_format(out) is None:
        return  # an HTML report inside a log folder is never read as part of the log
    real = Path(os.path.realpath(out))
    for raw in map(str, inputs):
        folder = Path(raw)
        if os.path.isdir(folder) and real.is_relative_to(os.path.realpath(folder)):
            where = f"inside the input folder '{folder}'"
        elif (
            not os.path.exists(folder)
            and any(ch in raw for ch in "*?[")
            and any(_glob_matches(raw, p) for p in (Path(os.path.abspath(out)), real))
        ):
            where = f"matched by the input glob '{raw}'"
        else:
            continue
        raise UsageError(
            f"cannot write '{out}': a log file {where} is read as part of the log "
            "(by this run if it exists, by the next one if not)",
            hint="write the output outside the log's folder, or give it another extension",
        )


def _identity(path: Path) -> tuple[int, int] | None:
    """What makes two paths one file (a symlink to it, a hard link): device and inode."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _glob_matches(pattern: str, path: Path) -> bool:
    """Whether ``glob.glob(pattern, recursive=True)`` would list ``path`` (absolute).

    >>> _glob_matches("/d/*.jsonl", Path("/d/3.jsonl"))
    True
    >>> _glob_matches("/d/*.jsonl", Path("/d/s/3.jsonl"))
    False
    >>> _glob_matches("/d/**/*.jsonl", Path("/d/s/3.jsonl"))
    True
    """
    parts = Path(os.path.normpath(os.path.abspath(pattern))).parts
    return _match_parts(parts, path.parts)


def _match_parts(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_parts(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match_parts(rest, parts[1:])


def check_writable(path: Path) -> None:
    """Refuse an output that cannot be written: a folder, a missing or read-only folder,
    a name longer than the file system allows, a URL (outputs are local files: written
    atomically, by a rename, which object storage has not)."""
    if is_remote(path):
        raise UsageError(
            f"cannot write '{remote_path(str(path))}': outputs are written to a local file",
            hint="write it here, then copy it up (aws s3 cp, gcloud storage cp, azcopy)",
        )
    name = os.fsencode(path.name)
    folder = Path(os.path.dirname(os.path.realpath(path)) if name else path)
    limit = _name_max(folder)
    if len(name) > limit:
        raise UsageError(
            f"cannot write '{path}': the file name is too long ({len(name)} bytes; this "
            f"file system allows {limit})",
            hint="give the output a shorter name",
        )
    if str(path) in ("", ".") or os.path.isdir(path):
        raise UsageError(
            f"cannot write '{path}': it is a folder", hint="give the output a file path"
        )
    if _is_special(path):
        if not os.access(path, os.W_OK):
            raise UsageError(f"cannot write '{path}': permission denied")
        return
    if not os.path.isdir(folder):
        why = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise UsageError(f"cannot write '{path}': folder '{folder}' {why}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"cannot write '{path}': folder '{folder}' is not writable",
            hint="give the output a path in a folder you can write to",
        )


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # a missing folder; no pathconf
        return 255


def _is_special(path: Path) -> bool:
    """What is there is written through, never replaced: something other than a regular
    file or folder (a FIFO, a device), a name in ``/dev`` or ``/proc``, or the file this
    process's standard output or error is (``-o out.csv > out.csv``, a link to
    ``/dev/stdout``): the shell holds that file open."""
    try:
        found = os.stat(path)
    except OSError:
        return False
    if not (stat.S_ISREG(found.st_mode) or stat.S_ISDIR(found.st_mode)):
        return True
    if os.path.abspath(path).startswith(("/dev/", "/proc/")):
        return True
    return any(_same_inode(found, fd) for fd in (1, 2))


def _same_inode(found: os.stat_result, fd: int) -> bool:
    try:
        std = os.fstat(fd)
    except OSError:
        return False
    return (std.st_dev, std.st_ino) == (found.st_dev, found.st_ino)


# --------------------------------------------------------------------------- writing


def write_failure(exc: BaseException) -> str | None:
    """Why a write failed, when ``exc`` is an error only a write gives (a full disk);
    ``None`` otherwise (it may be the read's).

    >>> write_failure(OSError("No space left on device (os error 28)"))
    'No space left on device'
    """
    code = getattr(exc, "errno", None)
    if code is None:
        found = _OS_ERROR.search(str(exc))
        code = int(found.group(1)) if found else None
    if code == errno.EBADF:
        return "it is closed"
    if code in WRITE_ERRNOS:
        return os.strerror(code)
    return None


@contextlib.contextmanager
def _written(what: str, *, any_error: bool = False) -> Iterator[None]:
    """Turn a failed write into ``cannot write <what>: <reason>`` (a :class:`UsageError`);
    with ``any_error`` every OSError is the write's (nothing else happens inside)."""
    try:
        yield
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = write_failure(exc)
        if reason is None and any_error and isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
        if reason is None:
            raise
        raise UsageError(
            f"cannot write {what}: {reason}",
            hint="free some space or write the output elsewhere"
            if "space" in reason or "quota" in reason.lower()
            else "give the output another path",
        ) from None


@contextlib.contextmanager
def _atomic(path: Path, *, any_error: bool = False) -> Iterator[Path]:
    """Yield the path to write: a temporary file beside the (symlink-resolved) target,
    moved into place only on success; the path itself if a FIFO or device is there."""
    check_writable(path)
    if _is_special(path):
        with _written(f"'{path}'", any_error=any_error):
            yield path
        return
    target = Path(os.path.realpath(path))
    with _written(f"'{path}'", any_error=True):
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name[:64]}.", suffix=".tmp", dir=target.parent
        )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _removed_on_signal(tmp):
            # mkstemp makes the file private (0600); give it the mode a plain open() would,
            # or keep the mode of the file it replaces.
            umask = os.umask(0)
            os.umask(umask)
            mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~umask
            os.chmod(tmp, mode)
            with _written(f"'{path}'", any_error=any_error):
                yield tmp
            with _written(f"'{path}'", any_error=True):
                os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _removed_on_signal(tmp: Path) -> Iterator[None]:
    """While ``tmp`` exists, SIGTERM and SIGHUP (where they would kill the process) remove
    it first, then end the process as the signal would have. (SIGINT raises
    KeyboardInterrupt, which the caller's cleanup handles.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; a library caller's thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        tmp.unlink(missing_ok=True)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    names = ("SIGTERM", "SIGHUP")
    signals = [getattr(signal, n) for n in names if hasattr(signal, n)]
    previous = {s: signal.getsignal(s) for s in signals}
    for sig, old in previous.items():
        if old is signal.SIG_DFL:  # an ignored or handled signal stays as it is
            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            if old is signal.SIG_DFL:
                signal.signal(sig, old)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8; a file name's byte that is not UTF-8,
    held as a lone surrogate, is written as its escape)."""
    with (
        _atomic(path, any_error=True) as tmp,
        open(tmp, "w", encoding="utf-8", errors="backslashreplace") as out,
    ):
        out.write(text)


def frame_format(path: Path) -> str:
    """The format ``advantages -o`` writes for ``path``; a :class:`UsageError` if unknown."""
    fmt = FRAME_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the output format of '{path}'",
            hint="end the file name with " + ", ".join(sorted(FRAME_FORMATS)),
        )
    return fmt


FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


def sink_frame_atomic(path: Path, frame: pl.LazyFrame) -> None:
    """Stream a lazy frame to ``path`` (Parquet, CSV or JSONL by extension), atomically:
    the rows never need to fit in memory."""
    fmt = frame_format(path)
    with _atomic(path) as tmp:
        if tmp != path:
            _responsive(lambda: _sink(frame, fmt, tmp))
            return
        # Written through (a FIFO, a device): opened once, here. Polars may open a path
        # more than once, and a FIFO's reader takes the first close for the end.
        with open(path, "wb") as out:
            _responsive(lambda: _sink(frame, fmt, out))


def _responsive(work: Callable[[], None]) -> None:
    """Run ``work`` in a helper thread while the main thread waits for it, so that a
    signal is handled at once: Python runs its handlers in the main thread only, between
    its own steps, never while Polars sinks in Rust (which may take minutes).

    >>> _responsive(lambda: None)
    """
    if threading.current_thread() is not threading.main_thread():
        work()
        return
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread
            failed.append(exc)

    worker = threading.Thread(target=run, name="grpoflaw-write", daemon=True)
    worker.start()
    while worker.is_alive():  # wake up to run the handler of a signal another thread got
        worker.join(0.1)
    if failed:
        raise failed[0]


def sink_csv_stream(frame: pl.LazyFrame, stream: IO[bytes], what: str) -> None:
    """Stream a lazy frame as CSV into an open binary ``stream`` (``-o -``: standard
    output), batch by batch: the rows never need to fit in memory. ``what`` names the
    stream in the message if the write fails."""
    with _written(what):
        _sink(frame, "csv", stream)
    with _written(what, any_error=True):
        stream.flush()


def _sink(frame: pl.LazyFrame, fmt: str, to: Path | IO[bytes]) -> None:
    if fmt == "parquet":
        empty_records_as_json(frame).sink_parquet(to)
    elif fmt == "csv":
        nested_as_json(binary_as_hex(frame)).sink_csv(to)
    else:
        binary_as_hex(frame).sink_ndjson(to)


def binary_as_hex(frame: FrameT) -> FrameT:
    """Binary columns (raw bytes in a Parquet log) as hex text, which CSV and JSON Lines
    can hold (Polars' JSON writer cannot write bytes at all).

    >>> binary_as_hex(pl.DataFrame({"b": [b"\\x00A"]}))["b"].to_list()
    ['0041']
    """
    schema = frame.collect_schema()
    inside = [c for c, t in schema.items() if t.is_nested() and _holds_binary(t)]
    if inside:
        raise UsageError(
            f"column '{inside[0]}' holds bytes inside lists or records ({schema[inside[0]]}), "
            "which CSV and JSON Lines cannot hold",
            hint=f"write Parquet ({option('output')} OUT.parquet)",
        )
    binary = [c for c, t in schema.items() if t == pl.Binary]
    return frame.with_columns(pl.col(binary).bin.encode("hex")) if binary else frame


def _holds_binary(dtype: pl.DataType | pl.datatypes.DataTypeClass) -> bool:
    if isinstance(dtype, pl.Struct):
        return any(_holds_binary(f.dtype) for f in dtype.fields)
    if isinstance(dtype, (pl.List, pl.Array)):
        return _holds_binary(dtype.inner)
    return dtype == pl.Binary


def _has_empty_record(dtype: pl.DataType | pl.datatypes.DataTypeClass) -> bool:
    if isinstance(dtype, pl.Struct):
        return not dtype.fields or any(_has_empty_record(f.dtype) for f in dtype.fields)
    if isinstance(dtype, (pl.List, pl.Array)):
        return _has_empty_record(dtype.inner)
    return False


def empty_records_as_json(frame: FrameT) -> FrameT:
    """Columns holding a record with no fields (``{}``: ART's ``metadata``, open-instruct's
    ``request_info``), which Parquet cannot store, as JSON text.

    >>> out = empty_records_as_json(pl.DataFrame({"m": [{}]}, schema={"m": pl.Struct([])}))
    >>> out.schema["m"]
    String
    """
    schema = frame.collect_schema()
    empty = [c for c, t in schema.items() if _has_empty_record(t)]
    return _as_json(frame, empty) if empty else frame


def nested_as_json(frame: FrameT) -> FrameT:
    """Lists and records (chat messages, say) as JSON text, which CSV can hold.

    >>> nested_as_json(pl.DataFrame({"m": [[1, 2]]}))["m"].to_list()
    ['[1,2]']
    """
    schema = frame.collect_schema()
    nested = [c for c, t in schema.items() if t.is_nested()]
    return _as_json(frame, nested) if nested else frame


def _as_json(frame: FrameT, columns: list[str]) -> FrameT:
    """``columns`` as their values' JSON text (a null stays null).

    >>> _as_json(pl.DataFrame({"é": [{"a": 1}, None]}), ["é"])["é"].to_list()
    ['{"a":1}', None]
    """
    return frame.with_columns(
        pl.when(pl.col(c).is_not_null())
        .then(
            pl.struct(pl.col(c).alias("v"))
            .struct.json_encode()
            .str.strip_prefix('{"v":')
            .str.strip_suffix("}")
        )
        .alias(c)
        for c in columns
    )
