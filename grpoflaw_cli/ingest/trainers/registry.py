"""The trainer registry: :data:`TRAINERS`, the one place each source name is defined, with
the framework whose conventions it implies, the function that recognizes its logs and its
hooks; and the functions through which the rest of ingest calls those hooks, so that no
module outside ``trainers/`` names a trainer.

A recognizer sees file names and column names/types, never rows, and returns a
:class:`~grpoflaw_cli.ingest.trainers.preset.Preset` (which columns play which role, the
trainer's own ddof/eps, which column holds its own advantage) or None. The hooks, each
optional, run in this order:

- ``scan``: a file's scan when the log is loaded, checked where a schema cannot show the
  file is the trainer's (ART refuses a file with no trajectory);
- ``reshape``: each file's rows as the preset maps them, when the log is loaded and at
  every read after (ART: a row per trajectory; NeMo-RL: batch slices of one unwrapped;
  prime-rl and ART: a ``metrics`` record's fields as columns);
- ``fit``: the preset and mapping completed from the first file's rows (prime-rl, ART:
  the ``metrics`` fields as the reward's parts; TRL: the group size);
- ``finish``: the detection completed from the first file as read (verl: v1 uids and
  multi-turn sessions);
- ``roles``: canonical columns the trainer derives itself (verl: the group, session and
  output index from a v1 uid);
- ``where`` and ``explain``, on the error path: where a row comes from (ART: its line and
  trajectory) and why a file of reshaped rows failed to read (ART, NeMo-RL).

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
from grpoflaw_cli.ingest.files import Source, scan_file
from grpoflaw_cli.ingest.locate import row_location
from grpoflaw_cli.ingest.trainers import (
    art,
    metrics,
    nemo_rl,
    open_instruct,
    prime_rl,
    relax,
    trl,
    verl,
)
from grpoflaw_cli.ingest.trainers.preset import Choice, Preset, Shape
from grpoflaw_cli.ingest.trainers.trl import missing_rewards

if TYPE_CHECKING:
    from grpoflaw_cli.estimators import Framework

__all__ = [
    "SOURCES",
    "TRAINERS",
    "Trainer",
    "choose",
    "explain",
    "finished",
    "fitted",
    "located",
    "merge",
    "missing_rewards",
    "reshaped",
    "reshapes",
    "roles",
    "scanned",
]

Recognize = Callable[[Sequence[Path], Mapping[str, str]], "Preset | None"]
Scan = Callable[[Path, Source, Format, Preset], pl.LazyFrame]
Reshape = Callable[[pl.LazyFrame, Shape, str], pl.LazyFrame]
Fit = Callable[[Choice, pl.LazyFrame, ColumnMap, Sequence[tuple[str, pl.LazyFrame]]], Choice]
Finish = Callable[[pl.LazyFrame, Detection], Detection]
Roles = Callable[[Detection], dict[str, pl.Expr]]
Where = Callable[[Source, Format, int, Detection], str]
Explain = Callable[[object, Format, Source, Detection], "InputError | None"]
Needs = Callable[[Sequence[Path], Mapping[str, str]], str]


@dataclass(frozen=True)
class Trainer:
    """A trainer whose logs grpoflaw reads without flags: its conventions, its
    recognizer and its hooks (each optional; see above)."""

    framework: Framework
    """Whose conventions apply where the trainer has none of its own (an estimator
    framework of :mod:`grpoflaw_cli.estimators`)."""
    recognize: Recognize
    scan: Scan | None = None
    """``(path, source, format, preset)`` → the file's scan, when the log is loaded."""
    reshape: Reshape | None = None
    """``(frame, shape, where)`` → the file's rows as the preset maps them."""
    fit: Fit | None = None
    """``(choice, first file as reshaped, the user's mapping)`` → the choice completed."""
    finish: Finish | None = None
    """``(first file as read, detection)`` → the detection completed."""
    roles: Roles | None = None
    """``detection`` → canonical column name → its expression over the input columns
    (``group`` replaces the group column's values; others are added)."""
    where: Where | None = None
    """``(source, format, row, detection)`` → where a row comes from ('line N, ...')."""
    explain: Explain | None = None
    """``(path, format, source, detection)`` → why the file failed to read, or None."""
    needs: Needs | None = None
    """``(files, columns)`` → what a log the recognizer refused lacks, for a message."""


TRAINERS: Mapping[str, Trainer] = {
    "verl": Trainer(
        "verl", verl.recognize, finish=verl.finish, roles=verl.roles, needs=verl.missing
    ),
    "trl": Trainer("trl", trl.recognize, fit=trl.fit, needs=trl.missing),
    "open-instruct": Trainer("verl", open_instruct.recognize, needs=open_instruct.missing),
    "prime-rl": Trainer(
        "verl",
        prime_rl.recognize,
        reshape=metrics.reshape,
        fit=metrics.fit,
        needs=prime_rl.missing,
    ),
    # before ART, whose parquet recognizer needs only group_index and reward
    "relax": Trainer("verl", relax.recognize, needs=relax.missing),
    "art": Trainer(
        "verl",
        art.recognize,
        scan=art.scan,
        reshape=art.reshape,
        fit=metrics.fit,
        where=art.rollout_where,
        explain=art.explain,
        needs=art.missing,
    ),
    "nemo-rl": Trainer(
        "verl",
        nemo_rl.recognize,
        reshape=nemo_rl.reshape,
        explain=nemo_rl.explain,
        needs=nemo_rl.missing,
    ),
}
"""Source name → trainer. ``auto`` tries TRL's first (its file names are the surest
sign), then the others in this order."""

SOURCES = ("auto", "generic", *TRAINERS)
"""The values of the ``source`` setting: a trainer, ``generic`` (common column names) or
``auto`` (the first trainer that recognizes the log, else generic)."""

_TRIED = ("trl", *(name for name in TRAINERS if name != "trl"))
_NONE = Trainer("verl", lambda files, columns: None)
"""What ``generic`` is: no trainer, no hooks."""


def _trainer(name: str | None) -> Trainer:
    return TRAINERS.get(name or "generic", _NONE)


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
            needs = TRAINERS[requested].needs
            lacks = f": {needs(files, columns)}" if needs else ""
            raise UsageError(
                f"{option('source')} {requested}: the log does not have that trainer's "
                f"columns{lacks}",
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
    components go with its reward: not with the user's reward columns, and not one the
    user maps to another role).

    >>> merge(ColumnMap(components=("acc", "format")), ColumnMap(group="acc")).components
    ('format',)
    """
    taken = {user.step, user.group, user.length, user.task, user.baseline}
    kept = () if user.reward else tuple(c for c in preset.components if c not in taken)
    return ColumnMap(
        components=user.components or kept,
        step=user.step or preset.step,
        group=user.group or (None if user.group_size else preset.group),
        reward=user.reward or preset.reward,
        reward_weights=user.reward_weights,
        group_size=user.group_size,
        length=user.length or preset.length,
        task=user.task or preset.task,
        baseline=user.baseline or preset.baseline,
    )


# --------------------------------------------------------------------------- the hooks


def reshapes(name: str | None) -> bool:
    """Does trainer ``name`` scan or reshape each file itself (a ``scan`` or ``reshape``
    hook)? If not, the files are read as they are."""
    trainer = _trainer(name)
    return trainer.scan is not None or trainer.reshape is not None


def scanned(path: Path, data: Source, fmt: Format, preset: Preset) -> pl.LazyFrame:
    """A file's scan when the log is loaded: the preset's trainer's ``scan`` hook, else
    the plain scan."""
    scan = _trainer(preset.name).scan
    return scan_file(data, fmt) if scan is None else scan(path, data, fmt, preset)


def reshaped(
    frame: pl.LazyFrame, name: str | None, shape: Shape, where: str = "the log"
) -> pl.LazyFrame:
    """``frame`` as trainer ``name`` reshapes its rows (its ``reshape`` hook, reading
    ``shape``: the preset, or the detection after the load); ``where`` names the file."""
    reshape = _trainer(name).reshape
    return frame if reshape is None else reshape(frame, shape, where)


def fitted(
    choice: Choice,
    first: pl.LazyFrame,
    user: ColumnMap,
    files: Sequence[tuple[str, pl.LazyFrame]] = (),
) -> Choice:
    """The choice completed from the ``first`` file's rows (the ``fit`` hook), which may
    also check every file's (``files``: name and scan, lazily)."""
    fit = _trainer(choice.preset.name).fit
    return choice if fit is None else fit(choice, first, user, files)


def finished(first: pl.LazyFrame, det: Detection) -> Detection:
    """The detection completed from the first file as read (the ``finish`` hook)."""
    finish = _trainer(det.source).finish
    return det if finish is None else finish(first, det)


def roles(det: Detection) -> dict[str, pl.Expr]:
    """The canonical columns the log's trainer derives itself (the ``roles`` hook)."""
    own = _trainer(det.source).roles
    return {} if own is None else own(det)


def located(source: Source, fmt: Format, row: int, det: Detection) -> str:
    """Where the ``row``-th row (1-based) of a file's frame comes from: the ``where``
    hook, else the row's line (:func:`~grpoflaw_cli.ingest.locate.row_location`)."""
    where = _trainer(det.source).where
    return row_location(source, fmt, row) if where is None else where(source, fmt, row, det)


def explain(path: object, fmt: Format, source: Source, det: Detection) -> InputError | None:
    """Why a file the log's trainer reshapes failed to read, if it is in the reshaped
    rows (an ART trajectory's number that is text, a NeMo-RL batch slice not of one)."""
    explainer = _trainer(det.source).explain
    return None if explainer is None else explainer(path, fmt, source, det)
