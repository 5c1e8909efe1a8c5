"""Checks of a file's column names: a column named twice, and names that show the file
was read with the wrong separator or line ends, or is no text at all. Cheap: they look
at the schema Polars read and at most the first line.

>>> header_problem(Path("a.tsv"), ["step,reward"]).message
"'a.tsv' is comma-separated (its header reads 'step,reward'), not tab-separated"
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from grpoflaw_cli.errors import InputError
from grpoflaw_cli.ingest.columns import Format
from grpoflaw_cli.ingest.files import Source, file_format
from grpoflaw_cli.ingest.lines import BOM, is_gzip


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


FIRST_LINE_BYTES = 16_000_000
"""The longest first line looked at for a repeated key: a longer one (a file of one line,
its line ends not \\n) is not read into memory for a warning."""


def _first_line(source: Source) -> bytes:
    """The first line that is not blank of a file (decompressed); empty if it is longer
    than :data:`FIRST_LINE_BYTES`."""
    import gzip

    first = b""
    try:
        with source.open("rb") as raw, gzip.open(raw) if is_gzip(source) else raw as fh:
            for _ in range(100):  # the first that is not blank
                first = fh.readline(FIRST_LINE_BYTES + 1)
                if len(first) > FIRST_LINE_BYTES:
                    return b""
                if first.strip() or not first:
                    break
    except (OSError, EOFError, ValueError):
        return b""
    return first[len(BOM) :] if first.startswith(BOM) else first


CR_HINT = "convert its line ends to \\n, e.g. tr '\\r' '\\n' < IN > OUT"


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
            hint=CR_HINT,
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
    if text and any("\ufffd" in n or any(_is_control(c) for c in n) for n in names):
        # (a JSON key or a Parquet name is text, whatever it holds: shown escaped)
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
