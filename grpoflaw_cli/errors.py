"""Typed errors carrying a fix hint, and the exit codes of the CLI.

The library raises these; only the CLI turns them into a message and an exit code.

A message names a setting by its *option* (:func:`option`), never by a front end's
spelling of it: the CLI shows its flag, the Python API its keyword (``reward_cols``).

>>> err = InputError("reward column 'score' is text", hint=f"pass {option('reward_cols')} NAME")
>>> err.exit_code
<ExitCode.BAD_INPUT: 2>
>>> err.hint
'pass reward_cols NAME'
>>> with spelled_as({"reward_cols": "--reward-col"}):
...     err.hint
'pass --reward-col NAME'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (documented in the README)."""

    OK = 0
    """The run completed; no flag at or above the ``fail-on`` severity."""
    FLAGS = 1
    """The run completed and raised a flag at or above the ``fail-on`` severity."""
    BAD_INPUT = 2
    """Bad input or usage: missing file, unknown column, malformed line, bad flag."""
    INTERNAL = 3
    """A bug in grpoflaw. Re-run with its traceback shown and report it."""


OPTIONS: Mapping[str, str] = {
    "step_col": "step_col",
    "group_col": "group_col",
    "reward_cols": "reward_cols",
    "reward_weights": "reward_weights",
    "group_size": "group_size",
    "length_col": "length_col",
    "task_col": "task_col",
    "baseline_col": "baseline_col",
    "component_cols": "component_cols",
    "skip_bad_lines": "skip_bad_lines=True",
    "source": "source",
    "framework": "framework",
    "estimators": "estimators",
    "ddof": "ddof",
    "eps": "eps",
    "clip": "clip",
    "format": "format",
    "output": "path",
    "collapse_ratio": "collapse_ratio",
    "magnitude_ratio": "magnitude_ratio",
    "noise_ratio": "noise_ratio",
    "zero_variance_warning": "zero_variance_warning",
}
"""The settings a message may name, and how the Python API spells each (its keyword).

A front end that spells them its own way runs the library inside :func:`spelled_as`
(the CLI's table lives beside its options)."""

_SPELLING: ContextVar[Mapping[str, str]] = ContextVar("spelling", default=OPTIONS)

_MARK = "\x1f"  # ASCII unit separator: never in a path, and repr() escapes it in values
_OPTION = re.compile(f"{_MARK}([a-z_]+){_MARK}")


def option(name: str) -> str:
    """A placeholder for the setting ``name`` in a message, spelled by the front end.

    >>> InputError(f"no column; pass {option('group_col')}").message
    'no column; pass group_col'
    """
    if name not in OPTIONS:
        raise KeyError(f"unknown option {name!r}: add it to errors.OPTIONS")
    return f"{_MARK}{name}{_MARK}"


@contextmanager
def spelled_as(spelling: Mapping[str, str]) -> Iterator[None]:
    """Within this block, :func:`spell` (and so every message) names settings as
    ``spelling`` does: what a front end sets once for its run.

    >>> with spelled_as({"eps": "--eps"}):
    ...     spell(f"pass {option('eps')} 0")
    'pass --eps 0'
    """
    token = _SPELLING.set(spelling)
    try:
        yield
    finally:
        _SPELLING.reset(token)


def spell(text: str) -> str:
    """``text`` with its :func:`option` placeholders named as the current front end spells
    them (the API's keywords outside :func:`spelled_as`).

    >>> spell(f"needs lengths ({option('length_col')})")
    'needs lengths (length_col)'
    """
    names = _SPELLING.get()
    return _OPTION.sub(lambda m: names.get(m[1]) or OPTIONS[m[1]], text)


class GrpoflawError(Exception):
    """Base class: a message for the user and, where there is one, how to fix it.

    ``message`` and ``hint`` name settings as the current front end spells them
    (:func:`spelled_as`), read when they are shown.
    """

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self._message = message
        self._hint = hint

    @property
    def message(self) -> str:
        return spell(self._message)

    @property
    def hint(self) -> str | None:
        return None if self._hint is None else spell(self._hint)

    def prefixed(self, prefix: str) -> GrpoflawError:
        """This error with ``prefix`` before its message (e.g. the file it is about)."""
        err = type(self)(prefix + self._message, hint=self._hint)
        err.__cause__ = self.__cause__
        return err

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nHint: {self.hint}"


class InputError(GrpoflawError):
    """The log cannot be read or does not hold what is needed (file, line, column)."""


class UsageError(GrpoflawError):
    """Flags that contradict each other or name something that does not exist."""


def quoted(value: object, most: int = 80) -> str:
    """A value for a message: its ``repr``, cut to ``most`` characters (a log's value may
    be a whole response, megabytes long).

    >>> quoted("x" * 100, most=12)
    "'xxxxxxxx…'"
    """
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "…" + text[-1]


def json_quoted(value: object, most: int = 80) -> str:
    """A value read from JSON, as JSON writes it (``true``, ``{"a": 1}``, ``"0.5"``), cut to
    ``most`` characters like :func:`quoted`.

    >>> json_quoted(True), json_quoted({"a": 1}), json_quoted("0.5")
    ('true', '{"a": 1}', '"0.5"')
    """
    import json

    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return quoted(value, most)
    return text if len(text) <= most else text[: most - 3] + "…" + text[-1]
