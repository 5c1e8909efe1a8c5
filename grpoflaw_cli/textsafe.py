r"""Text from logs and paths made safe to show on a terminal.

A log's task and column names, its file names and the messages quoting them are data, not
terminal commands. An ESC or a C1 control starts an escape sequence (colors, a window
title, an OSC 52 clipboard write), a newline or carriage return forges a line of output, a
bidi control reorders what is shown. :func:`printable` writes each as a visible escape, so
the text stays recognizable and cannot drive the terminal:

>>> print(printable("math\x1b]0;owned\x07\nError: all good"))
math\x1b]0;owned\x07\nError: all good
"""

from __future__ import annotations

import functools
import re
from typing import Any

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0 controls (newline and tab too), DEL, C1 controls (8-bit CSI)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff]"  # lone surrogates: a file name's undecodable bytes
)
_NAMED = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}
_UNSAFE_POLARS = (
    r"[\x00-\x1f\x7f-\x{9f}\x{61c}\x{200e}\x{200f}\x{202a}-\x{202e}\x{2066}-\x{2069}"
    r"\x{2028}\x{2029}]"
)
""":data:`_UNSAFE` for Polars (whose strings hold no lone surrogate)."""


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    r"""``text`` with every control character written as a visible escape.

    C0 and C1 controls, DEL, bidi controls, line separators and lone surrogates become
    ``\n``, ``\x1b``, ``\x9b``, ``\u202e``... Everything else (accents, CJK, emoji) is kept.

    >>> printable("run\u202e.jsonl\t[1]")
    'run\\u202e.jsonl\\t[1]'
    """
    return _UNSAFE.sub(_visible, text)


def printable_lines(text: str) -> str:
    r"""``text`` with every line made :func:`printable`: its line breaks kept, nothing else.

    >>> print(printable_lines("step,task\n1,a\x1b[2J\n"))
    step,task
    1,a\x1b[2J
    <BLANKLINE>
    """
    return "\n".join(printable(line) for line in text.split("\n"))


def printable_csv(text: str) -> str:
    r"""CSV ``text`` made :func:`printable`, but for the line breaks that end its rows: a
    quoted value's newline is shown as ``\n`` (it would forge a line), a row's kept.

    >>> print(printable_csv('step,task\n1,"a\nError: b\x1b[2J"\n'))
    step,task
    1,"a\nError: b\x1b[2J"
    <BLANKLINE>
    """
    parts = text.split('"')  # odd parts are inside quotes ("" inside is an empty even part)
    return '"'.join(printable(p) if k % 2 else printable_lines(p) for k, p in enumerate(parts))


_NUMBERS = (int, float, bool, type(None))


@functools.lru_cache(maxsize=1024, typed=True)  # typed: the keys 1 and True stay apart
def _key(key: Any) -> Any:
    """A dict key made printable: the same few keys recur in every row of a report."""
    return printable_tree(key)


def printable_tree(value: Any) -> Any:
    """``value`` with :func:`printable` applied to every string in it (dict keys too).

    >>> printable_tree({"task\\n": ["a\\x1b", 1]})
    {'task\\\\n': ['a\\\\x1b', 1]}
    """
    kind = type(value)
    if kind in _NUMBERS:  # most of a report: skipped without a call per number
        return value
    if kind is str:
        return _UNSAFE.sub(_visible, value)
    if isinstance(value, dict):
        return {_key(k): v if type(v) in _NUMBERS else printable_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        if _safe_table(value):
            return value
        return [v if type(v) in _NUMBERS else printable_tree(v) for v in value]
    if isinstance(value, tuple):
        return tuple(printable_tree(v) for v in value)
    if isinstance(value, str):  # a str subclass (an Enum's value)
        return printable(value)
    return value


def _safe_table(rows: list[Any]) -> bool:
    """Whether ``rows`` are a table of a report (a list carrying the ``frame`` it was made
    from) with nothing to make printable: checked a column at a time, not a row at a time
    (thousands of iterations)."""
    frame = getattr(rows, "frame", None)
    if frame is None or frame.height != len(rows):
        return False
    import polars as pl

    checks = []
    for name, dtype in frame.schema.items():
        if printable(name) != name:
            return False
        if dtype == pl.String:
            checks.append(pl.col(name).str.contains(_UNSAFE_POLARS).any())
        elif dtype == pl.List(pl.String):
            checks.append(pl.col(name).explode().str.contains(_UNSAFE_POLARS).any())
        elif not (dtype.is_numeric() or dtype == pl.Boolean):
            return False
    return not checks or not any(frame.select(checks).row(0))
