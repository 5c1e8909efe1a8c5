"""A log file's lines, streamed: memory bounded by the longest line, never by the file.

The error path (naming the bad line) and ``skip_bad_lines`` read files through here: a
``.gz`` is decompressed as far as it goes (a file cut short by a crash gives the lines its
complete part holds), a leading UTF-8 byte-order mark is dropped, and a cleaned copy (bad
lines blanked, so every other line keeps its number) is written to a temporary folder that
is removed when the process exits. Both ask whether a line is one JSON object
(:func:`jsonl_problem`), and both name a gzip stream cut short (:func:`cut_gzip_error`).

>>> list(split_lines([b"\\xef\\xbb\\xbfa\\nb", b"c\\n\\nd"]))
[b'a', b'bc', b'', b'd']
>>> jsonl_problem(b'{"reward": NaN}')
'a bare NaN is not JSON; rewards must be finite numbers'
"""

from __future__ import annotations

import json
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from grpoflaw_cli.errors import InputError, option

if TYPE_CHECKING:
    import tempfile

CHUNK = 1 << 20
"""Bytes read (and, for .gz, decompressed) at a time."""
BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte-order mark some Windows tools write first; Polars' JSON reader stops at it."""


def is_gzip(path: Path) -> bool:
    """Does the file's name say it is gzip-compressed (``.gz``, any case)?

    >>> is_gzip(Path("steps/12.jsonl.GZ")), is_gzip(Path("steps/12.jsonl"))
    (True, False)
    """
    return path.suffix.lower() == ".gz"


class Decompressed:
    """A file's bytes chunk by chunk, a ``.gz`` decompressed (members one after another).

    After iterating, :attr:`complete` says whether the gzip stream ended properly (False
    for a file cut short or with garbage after a member: what came before is given).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.complete = True

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as fh:
            if not is_gzip(self.path):
                while chunk := fh.read(CHUNK):
                    yield chunk
                return
            yield from self._gunzip(fh.read)

    def _gunzip(self, read: Callable[[int], bytes]) -> Iterator[bytes]:
        stream = zlib.decompressobj(wbits=31)
        fresh, pending = True, b""  # fresh: the current member has consumed nothing yet
        while True:
            if not pending:
                pending = read(CHUNK)
                if not pending:
                    self.complete = fresh
                    return
            try:
                out = stream.decompress(pending, CHUNK)  # bounded output: no zip bomb
            except zlib.error:
                self.complete = False
                return
            fresh = False
            if out:
                yield out
            if stream.eof:  # the next member, if any, starts after this one
                pending, stream, fresh = stream.unused_data, zlib.decompressobj(wbits=31), True
            else:
                pending = stream.unconsumed_tail


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines (split at ``\\n``, as the JSON Lines reader does; without it) of a stream
    of chunks; a leading byte-order mark is dropped."""
    pieces: list[bytes] = []
    first = True
    for chunk in chunks:
        if b"\n" not in chunk:
            pieces.append(chunk)
            continue
        parts = chunk.split(b"\n")
        parts[0] = b"".join((*pieces, parts[0]))
        pieces = [parts.pop()]
        if first:
            parts[0] = parts[0].removeprefix(BOM)
            first = False
        yield from parts
    rest = b"".join(pieces)
    if rest:
        yield rest.removeprefix(BOM) if first else rest


def file_lines(path: Path) -> Iterator[bytes]:
    """The lines of a file (decompressed, as far as a .gz goes). Error path only."""
    return split_lines(Decompressed(path))


# --------------------------------------------------------------------------- JSON lines


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


def decode_json_line(line: bytes, **options: object) -> object:
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


def jsonl_problem(line: bytes) -> str | None:
    """Why a JSONL line is not one JSON object, or None if it is (blank lines are fine)."""
    if not line.strip():
        return None
    try:
        obj = decode_json_line(line, parse_constant=_refuse_constant, parse_float=_finite_float)
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


def cut_gzip_error(path: Path) -> InputError:
    return InputError(
        f"'{path}': the gzip stream ends early (was the file still being written?)",
        hint=f"pass {option('skip_bad_lines')} to read it as far as it goes",
    )


# --------------------------------------------------------------------------- copies


_FOLDER: list[tempfile.TemporaryDirectory[str]] = []


def scratch_folder() -> Path:
    """This process's temporary folder for cleaned copies (removed at exit). Its name
    holds the process id, so that a later run removes it if this process is killed before
    its exit cleanup runs (SIGTERM, SIGKILL): see :func:`_sweep`."""
    import tempfile

    if not _FOLDER:
        _sweep(Path(tempfile.gettempdir()))
        _FOLDER.append(tempfile.TemporaryDirectory(prefix=f"grpoflaw-{os.getpid()}-"))
    return Path(_FOLDER[0].name)


def _sweep(where: Path) -> None:
    """Remove the temporary folders that grpoflaw processes no longer running left in
    ``where`` (``grpoflaw-<pid>-*``). A folder whose process may still run is kept."""
    import shutil

    try:
        folders = list(where.glob("grpoflaw-*-*"))
    except OSError:
        return
    for folder in folders:
        pid = folder.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    """Is a process with this id running (or not ours to ask about)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, say
        return True
    return True


def readable_name(path: Path) -> Path:
    """``path``, or a link to it under a UTF-8 name if its own name is not UTF-8 text (a
    byte that is not, shown as ``\\xff``): Polars' readers take only UTF-8 paths. The
    link lives in this process's temporary folder and keeps the extensions.

    >>> readable_name(Path("steps/12.jsonl"))
    PosixPath('steps/12.jsonl')
    """
    try:
        str(path).encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    suffix = "".join(path.suffixes[-2:]) if is_gzip(path) else path.suffix
    link = scratch_folder() / f"name{len(_ALIASES)}{suffix}"
    _ALIASES.append(link)
    os.symlink(os.path.abspath(path), link)
    return link


_ALIASES: list[Path] = []
"""The links :func:`readable_name` made, in the order made (their names count them)."""


Copy = tuple[Path, tuple[int, ...], bool, bool]
"""A cleaned copy, the blanked line numbers, whether any line was kept, and whether a
gzip stream was complete."""

_COPIES: dict[tuple[str, str], tuple[tuple[int, int], Copy]] = {}
"""(file, how cleaned) → (its size and mtime, its copy): a file cleaned again unchanged
reuses its copy, and one that changed (``watch``) replaces it, so copies do not pile up."""


def cleaned_copy(path: Path, how: str, is_bad: Callable[[bytes], bool]) -> Copy:
    """A copy of ``path`` (decompressed, without a byte-order mark) with every line for
    which ``is_bad`` holds blanked, streamed to a temporary file; ``how`` names the rule.

    Blanked, not removed: readers skip blank lines, so every other line keeps its number
    for messages.
    """
    stat = path.stat()
    key, version = (str(path.resolve()), how), (stat.st_size, stat.st_mtime_ns)
    known = _COPIES.get(key)
    import tempfile

    if known is not None and known[0] == version and known[1][0].exists():
        return known[1]
    fd, name = tempfile.mkstemp(suffix=".jsonl", dir=scratch_folder())
    bad: list[int] = []
    kept = False
    source = Decompressed(path)
    try:
        with os.fdopen(fd, "wb") as out:
            for number, line in enumerate(split_lines(source), start=1):
                if is_bad(line):
                    bad.append(number)
                    out.write(b"\n")
                else:
                    kept = kept or bool(line.strip())
                    out.write(line + b"\n")
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    if known is not None:
        known[1][0].unlink(missing_ok=True)
    copy = (Path(name), tuple(bad), kept, source.complete)
    _COPIES[key] = (version, copy)
    return copy
