"""Atomic output: a run that fails leaves no file and never truncates an existing one.

>>> write_text_atomic(Path("report.html"), "<html>…</html>")     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import polars as pl

from grpoflaw_cli.errors import UsageError

FRAME_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success."""
    if str(path) in ("", ".") or path.is_dir():
        raise UsageError(
            f"cannot write '{path}': it is a folder", hint="give the output a file path"
        )
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"cannot write '{path}': folder '{directory}' does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:  # a read-only or forbidden folder
        raise UsageError(
            f"cannot write '{path}': {err.strerror or err}",
            hint="give the output a path in a folder you can write to",
        ) from None
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); give it the mode a plain open() would, or
    # keep the mode of the file it replaces.
    umask = os.umask(0)
    os.umask(umask)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~umask
    os.chmod(tmp, mode)
    try:
        yield tmp
        try:
            os.replace(tmp, path)
        except OSError as err:
            raise UsageError(
                f"cannot write '{path}': {err.strerror}",
                hint="give the output a file path in a folder you can write to",
            ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with _atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def frame_format(path: Path) -> str:
    """The format ``advantages -o`` writes for ``path``; a :class:`UsageError` if unknown."""
    fmt = FRAME_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the output format of '{path}'",
            hint="end the file name with " + ", ".join(sorted(FRAME_FORMATS)),
        )
    return fmt


def write_frame_atomic(path: Path, frame: pl.DataFrame) -> None:
    """Write a frame as Parquet, CSV or JSONL (by extension), atomically: as
    :func:`sink_frame_atomic` writes a lazy one."""
    sink_frame_atomic(path, frame.lazy())


FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


def sink_frame_atomic(path: Path, frame: pl.LazyFrame) -> None:
    """Stream a lazy frame to ``path`` (Parquet, CSV or JSONL by extension), atomically:
    the rows never need to fit in memory."""
    fmt = frame_format(path)
    with _atomic(path) as tmp:
        if fmt == "parquet":
            empty_records_as_json(frame).sink_parquet(tmp)
        elif fmt == "csv":
            nested_as_json(binary_as_hex(frame)).sink_csv(tmp)
        else:
            binary_as_hex(frame).sink_ndjson(tmp)


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
            hint="write Parquet (-o OUT.parquet)",
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


def csv_text(frame: pl.DataFrame) -> str:
    """The frame as CSV text (for ``-o -``), nested values as JSON."""
    return nested_as_json(binary_as_hex(frame)).write_csv()
