"""Trainer presets: recognize what a trainer wrote and map it without flags.

:data:`TRAINERS` is the registry: the one place each source name is defined, with the
framework whose conventions it implies, the function that recognizes its logs and, where
its rows need it, its reshaping and its explanation of a failed read. Each trainer's file
holds all of that for its format; adding a trainer is a file and a line here when its rows
fit what a :class:`Preset` can ask for (a column per role, a record column to ``explode``
or ``unpack``, groups in runs of a column ``blocks_from``), else a ``reshape`` in its file.

A recognizer sees file names and column names/types, never rows, and returns a
:class:`~grpoflaw_cli.ingest.trainers.preset.Preset` (which columns play which role,
the trainer's own ddof/eps, which column holds its own advantage) or None.

>>> p = choose([Path("completions/completions_00010.parquet")],
...            {"step": "i64", "prompt": "str", "completion": "str", "acc": "f64",
...             "advantage": "f64"}, "auto")
>>> (p.name, p.framework, p.mapping.reward, p.blocks_from)
('trl', 'trl', ('acc',), 'prompt')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from grpoflaw_cli.errors import InputError, UsageError, option
from grpoflaw_cli.ingest.columns import ColumnMap, Detection, Format, listed
from grpoflaw_cli.ingest.files import Source
from grpoflaw_cli.ingest.trainers import art, nemo_rl, open_instruct, prime_rl, trl, verl
from grpoflaw_cli.ingest.trainers.preset import Preset
from grpoflaw_cli.ingest.trainers.trl import missing_rewards

if TYPE_CHECKING:
    from grpoflaw_cli.estimators import Framework

__all__ = ["SOURCES", "TRAINERS", "Preset", "Trainer", "choose", "merge", "missing_rewards"]

Recognizer = Callable[[Sequence[Path], Mapping[str, str]], "Preset | None"]
Explainer = Callable[[object, Format, Source, Detection], "InputError | None"]


@dataclass(frozen=True)
class Trainer:
    """A trainer whose logs grpoflaw reads without flags."""

    framework: Framework
    """Whose conventions apply where the trainer has none of its own (an estimator
    framework of :mod:`grpoflaw_cli.estimators`)."""
    recognize: Recognizer
    reshape: Callable[[pl.LazyFrame, str], pl.LazyFrame] | None = None
    """Its rows as the preset maps them (named by the preset's ``reshape``)."""
    explain: Explainer | None = None
    """Why a file of its reshaped rows failed to read, on the error path."""


TRAINERS: Mapping[str, Trainer] = {
    "verl": Trainer("verl", verl.recognize),
    "trl": Trainer("trl", trl.recognize),
    "open-instruct": Trainer("verl", open_instruct.recognize),
    "prime-rl": Trainer("verl", prime_rl.recognize),
    "art": Trainer("verl", art.recognize, explain=art.explain),
    "nemo-rl": Trainer("verl", nemo_rl.recognize, nemo_rl.reshape, nemo_rl.explain),
}
"""Source name → trainer. ``auto`` tries TRL's first (its file names are the surest
sign), then the others in this order."""

SOURCES = ("auto", "generic", *TRAINERS)
"""The values of the ``source`` setting: a trainer, ``generic`` (common column names) or
``auto`` (the first trainer that recognizes the log, else generic)."""

_TRIED = ("trl", *(name for name in TRAINERS if name != "trl"))


def _recognized(name: str, files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    trainer = TRAINERS[name]
    preset = trainer.recognize(files, columns)
    return None if preset is None else replace(preset, name=name, framework=trainer.framework)


def choose(files: Sequence[Path], columns: Mapping[str, str], requested: str = "auto") -> Preset:
    """The preset for a log: ``requested`` by name, or the first that matches (``auto``).

    ``columns`` maps each column name to its dtype's text (``"f64"``, ``"str"``, ...).
    """
    if requested not in SOURCES:
        raise UsageError(
            f"unknown {option('source')} {requested!r}", hint="choose from " + ", ".join(SOURCES)
        )
    if requested == "generic":
        return Preset(why=f"{option('source')} generic")
    if requested != "auto":
        preset = _recognized(requested, files, columns)
        if preset is None:
            raise UsageError(
                f"{option('source')} {requested}: the log does not have that trainer's columns",
                hint="the log has columns: " + listed(list(columns)),
            )
        return preset
    for name in _TRIED:
        preset = _recognized(name, files, columns)
        if preset is not None:
            return preset
    return Preset(why="no trainer preset matched: common column names")


def merge(preset: ColumnMap, user: ColumnMap) -> ColumnMap:
    """The user's mapping wins over the preset's choices, field by field (the preset's
    components go with its reward: not with the user's reward columns)."""
    return ColumnMap(
        components=user.components or (() if user.reward else preset.components),
        step=user.step or preset.step,
        group=user.group or (None if user.group_size else preset.group),
        reward=user.reward or preset.reward,
        reward_weights=user.reward_weights,
        group_size=user.group_size,
        length=user.length or preset.length,
        task=user.task or preset.task,
        baseline=user.baseline or preset.baseline,
    )


def reshaped(frame: pl.LazyFrame, name: str | None, where: str = "the log") -> pl.LazyFrame:
    """``frame`` as trainer ``name`` reshapes its rows (see ``Preset.reshape``)."""
    reshape = TRAINERS[name].reshape if name is not None else None
    return frame if reshape is None else reshape(frame, where)


def explain(path: object, fmt: Format, source: Source, det: Detection) -> InputError | None:
    """Why a file the log's trainer reshapes failed to read, if it is in the reshaped
    rows (an ART trajectory's number that is text, a NeMo-RL batch slice not of one)."""
    trainer = TRAINERS.get(det.source)
    if trainer is None or trainer.explain is None:
        return None
    return trainer.explain(path, fmt, source, det)
