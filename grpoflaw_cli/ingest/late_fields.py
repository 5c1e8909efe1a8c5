"""Fields that first appear late in a large JSONL log: Polars infers a file's schema
from its first 100 lines, so a role's field (a ``task`` column first written at step
500, say) would go unseen. Every line is searched for the names grpoflaw looks for, in
one native pass, and a file's schema is inferred from every line only where one of them
appears late. (A small log's schemas are inferred from every line anyway:
:data:`~grpoflaw_cli.ingest.files.SMALL_LOG_BYTES`.)

>>> _files_holding(["task"], [], [])
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from grpoflaw_cli import progress
from grpoflaw_cli.ingest.columns import Format
from grpoflaw_cli.ingest.files import READ_ERRORS, Source, file_stamp, whole_file_schema
from grpoflaw_cli.ingest.lines import is_gzip
from grpoflaw_cli.ingest.locate import locate_read_error


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
    never wrong). A cleaned copy (:func:`~grpoflaw_cli.ingest.files.cleaned_jsonl`) is
    searched and read in the file's stead."""
    out = list(schemas)
    families: dict[tuple[object, ...], list[int]] = {}
    for index, (fmt, schema) in enumerate(zip(formats, schemas, strict=True)):
        if fmt == "jsonl":
            families.setdefault(tuple(schema.items()), []).append(index)
    for members in families.values():
        missing = [n for n in look_for if n not in schemas[members[0]]]
        for index in _files_holding(missing, [sources[i] for i in members], members):
            try:
                out[index] = whole_file_schema(sources[index])
            except READ_ERRORS as exc:
                raise locate_read_error(files[index], "jsonl", exc) from exc
    return out


TINY_FILE_BYTES = 1_000_000
"""Files up to this size are read and searched together, :data:`BATCH_BYTES` at a time;
a larger file is streamed by a Polars scan of its own. A scan costs about 0.13 ms a file
(multi-file scans too), ten times the read of an 8 KB step file: 20,000 of them would take
2.6 s where reading them takes 0.4 s."""

BATCH_BYTES = 16_000_000
"""How many bytes of tiny files are held at once (and once more by the search): memory
stays bounded whatever the number of files."""


def _files_holding(
    names: Sequence[str], paths: Sequence[Path], indexes: Sequence[int]
) -> list[int]:
    """Which of the JSONL files hold one of ``names`` as a JSON string (``"name"``) on
    some line: their indexes. Native string search; a file over :data:`TINY_FILE_BYTES` is
    streamed by Polars, never read into Python; memory is bounded by :data:`BATCH_BYTES`."""
    if not names:
        return []
    keys = [f'"{n}"' for n in names]
    found: list[int] = []
    batch: list[tuple[int, bytes]] = []
    held = 0
    sizes = [max(file_stamp(path)[1], 0) for path in paths]
    total, searched = sum(sizes), 0
    phase = f"searching {total / 1e6:,.0f} MB for fields that appear late"
    for path, index, size in zip(paths, indexes, sizes, strict=True):
        progress.advance(phase, searched, total)
        searched += size
        if size > TINY_FILE_BYTES or is_gzip(path):  # streamed by Polars
            if _holds(path, keys):
                found.append(index)
            continue
        try:
            with path.open("rb") as fh:
                data = fh.read(TINY_FILE_BYTES + 1)  # it may have grown since its stat
        except OSError:
            found.append(index)  # inferred in full: the read then says what is wrong
            continue
        if len(data) > TINY_FILE_BYTES:
            found += [index] if _holds(path, keys) else []
            continue
        batch.append((index, data))
        held += len(data)
        if held > BATCH_BYTES:
            found += _batch_holding(batch, keys)
            batch, held = [], 0
    if batch:
        found += _batch_holding(batch, keys)
    return sorted(found)


def _batch_holding(batch: Sequence[tuple[int, bytes]], keys: list[str]) -> list[int]:
    """The indexes of the tiny files of ``batch`` (their bytes) that hold one of ``keys``."""
    texts = pl.Series([data.decode("utf-8", errors="replace") for _, data in batch])
    hits = texts.str.contains_any(keys)
    return [index for (index, _), hit in zip(batch, hits, strict=True) if hit]


def _holds(path: Path, keys: list[str]) -> bool:
    """Does some line of a (large or compressed) file hold one of ``keys``? Polars reads
    the lines as one text column, in a streaming pass."""
    try:
        lines = pl.scan_lines(path, name="line", glob=False)  # the name as it is
        hit = lines.select(pl.col("line").str.contains_any(keys).any())
        return bool(hit.collect(engine="streaming").item())
    except READ_ERRORS:
        return True  # inferred in full: the read then says what is wrong
