"""What a trainer's recognizer returns: a :class:`Preset` saying how to read its logs;
what its load-time hooks pass on (a :class:`Choice`); what its reshape reads (a
:class:`Shape`); and the small tests on column names and dtypes the recognizers share.
Pure: it sees file names and column names/types, never rows.

>>> is_numeric_type("f64"), is_numeric_type("str"), has_columns({"a": "i64", "b": "str"}, "a", "b")
(True, False, True)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from grpoflaw_cli.ingest.columns import ColumnMap

if TYPE_CHECKING:  # not at run time: reading a log needs no estimator (nor NumPy)
    from grpoflaw_cli.estimators import Framework


@dataclass(frozen=True)
class Preset:
    """How to read one trainer's logs. Its ``name`` and ``framework`` are the registry's
    (:data:`grpoflaw_cli.ingest.trainers.registry.TRAINERS`), filled in when it is
    chosen; ``explode``, ``reshape``, ``unpack`` and ``unpack_fields`` say what the
    trainer's ``reshape`` hook does to each file's rows (its :class:`Shape`)."""

    why: str
    name: str = "generic"
    framework: Framework = "verl"
    mapping: ColumnMap = field(default_factory=ColumnMap)
    logged_advantage: str | None = None
    """The column holding the trainer's own advantage, shown beside the recomputed ones."""
    logged_estimator: str = "grpo"
    """The estimator the trainer's default configuration computes."""
    assumes: str | None = None
    """Which version's defaults ``logged_estimator``, ``ddof`` and ``eps`` were read from
    (the trainer's source file and commit or release), for ``inspect`` to say."""
    blocks_from: str | None = None
    """Groups are consecutive blocks; infer the block size from runs of this column."""
    ddof: int | None = None
    eps: float | None = None
    explode: str | None = None
    """A column holding a list of rollouts per row (one row per group, as ART's JSONL)."""
    reshape: bool = False
    """The trainer's reshape makes new rows of the file's own, not only new columns
    (NeMo-RL: unwrap its batch slices of one and derive ``prompt``, ``reward``,
    ``advantage``)."""
    unpack: str | None = None
    """A JSON-string (or struct) column whose numeric fields are the reward's components
    (prime-rl's and ART's ``metrics``), read as ``<column>.<field>`` columns."""
    unpack_fields: tuple[str, ...] = ()
    """The ``unpack`` column's fields, found in the first file when the log is loaded
    (by the trainer's ``fit`` hook)."""
    same_keys: bool = False
    """The trainer writes every line of a file with the same keys (its rows from one dict
    of lists, as verl's dumps): a file's first lines show all its fields, so a large log
    is not searched for fields that first appear late."""


class Shape(Protocol):
    """What a trainer's ``reshape`` hook reads: a :class:`Preset` while the log is
    loaded, its :class:`~grpoflaw_cli.ingest.columns.Detection` at every read after."""

    @property
    def explode(self) -> str | None: ...
    @property
    def reshape(self) -> bool: ...
    @property
    def unpack(self) -> str | None: ...
    @property
    def unpack_fields(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Choice:
    """What the preset and the user decided before the columns are detected: the
    trainer's ``fit`` hook completes it from the first file's rows."""

    preset: Preset
    mapping: ColumnMap
    """The user's mapping over the preset's (:func:`~grpoflaw_cli.ingest.trainers.merge`)."""
    fitted: tuple[float, ...] | None = None
    """The components' weights in the reward, when a fit found them."""
    notes: tuple[str, ...] = ()
    """Reasons the fit gives (``inspect`` shows them)."""


def is_numeric_type(dtype: str) -> bool:
    return bool(re.match(r"^(i|u|f)\d+$|^(Int|UInt|Float)\d+$", dtype))


def column_if_present(columns: Mapping[str, str], name: str) -> str | None:
    """``name`` if the log has that column, else None (an optional role)."""
    return name if name in columns else None


def has_columns(columns: Mapping[str, str], *names: str) -> bool:
    return all(n in columns for n in names)


def lacking(columns: Mapping[str, str], needed: Sequence[str], layout: str) -> str:
    """What a log lacks of the columns a trainer's recognizer looks for (``needed``),
    and what the trainer's ``layout`` has instead: the text of a ``needs`` hook.

    >>> lacking({"input": "str", "reward": "f64"}, ("input", "output", "score"),
    ...         "verl's rollout_data_dir dump has input, output, score")
    "no columns 'output', 'score' (verl's rollout_data_dir dump has input, output, score)"
    """
    absent = [c for c in needed if c not in columns]
    names = ", ".join(f"'{c}'" for c in absent)
    return f"{'no column' if len(absent) == 1 else 'no columns'} {names} ({layout})"
