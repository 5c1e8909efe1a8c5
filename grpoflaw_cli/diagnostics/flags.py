"""What a check returns: a :class:`Flag` with a :class:`Severity`, and the
:class:`Thresholds` the checks compare against; helpers every check family shares.

>>> flag = Flag("zero_variance", Severity.INFO, 3, "2 of 8 groups have identical rewards")
>>> flag.to_dict()["severity"], Severity.ERROR.rank > Severity.WARNING.rank
('info', True)
>>> import polars as pl
>>> rows = pl.DataFrame({"step": [1, 1, 2], "group": ["a", "b", "c"], "ratio": [2.0, 5.0, 3.0]})
>>> worst_per_step(rows, "ratio").rows()
[(1, 'b', 5.0, 2), (2, 'c', 3.0, 1)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.errors import OPTIONS, UsageError, option, spell


class Severity(str, Enum):
    """Flag severities, ordered info < warning < error."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANKS[self]  # a look-up: ranking sorts thousands of per-step flags


_RANKS = {severity: i for i, severity in enumerate(Severity)}


ROUNDING = 1 - 1e-9
"""A ratio at a threshold counts although rounding left it a hair below (2 × 0.8165 vs
1.633 is 1.9999999999999998)."""


@dataclass(frozen=True)
class Thresholds:
    """Every threshold the diagnostics use (see the module docstring)."""

    collapse_ratio: float = 2.0
    collapse_error_ratio: float = 10.0
    magnitude_ratio: float = 3.0
    magnitude_error_ratio: float = 10.0
    grpo_tolerance: float = 1.5
    zero_variance_warning: float = 0.5
    noise_ratio: float = 0.05
    noise_grpo_scale: float = 0.5
    task_ratio: float = 3.0
    """task_reweighting: GRPO share / spread share (or its inverse) that counts."""
    component_ratio: float = 3.0
    """component_inflation: a component class's GRPO share / Dr. GRPO share that counts."""
    logged_tolerance: float = 1e-3
    """Relative RMS difference above which a trainer's logged advantage is a mismatch."""
    float32_noise: float = 1e-2
    """gdpo_float32_noise: how far verl's float32 moves a group's own advantages to count."""
    float32_shift: float = 1e-2
    """gdpo_float32_noise: how far it moves every other rollout's for a warning."""

    def __post_init__(self) -> None:
        for name in ("collapse_ratio", "magnitude_ratio", "grpo_tolerance", "component_ratio"):
            if not getattr(self, name) > 1.0:
                setting = option(name) if name in OPTIONS else name
                raise UsageError(f"{setting} must be > 1, got {getattr(self, name)}")
        if not 0.0 < self.noise_ratio < 1.0:
            raise UsageError(f"{option('noise_ratio')} must be in (0, 1), got {self.noise_ratio}")
        if not 0.0 < self.zero_variance_warning <= 1.0:
            raise UsageError(
                f"{option('zero_variance_warning')} must be in (0, 1], "
                f"got {self.zero_variance_warning}"
            )


@dataclass(frozen=True)
class Flag:
    """One finding. ``evidence`` holds the numbers behind the message (JSON-ready).

    :attr:`message` names a setting as the Python API spells it; :meth:`to_dict` spells it
    as a front end asks (the CLI gives its flags)."""

    code: str
    severity: Severity
    step: Any
    wording: str
    """The message, settings named by :func:`~grpoflaw_cli.errors.option`."""
    group: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    """How bad, comparable within a code (a ratio or a share): orders flags worst first."""

    def changed(self, **changes: Any) -> Flag:
        """This flag with ``changes``: ``dataclasses.replace`` without its introspection
        on every call (a run of thousands of steps relabels and weighs as many flags).
        The copy's fields are set directly: a frozen dataclass's ``__init__`` sets each
        through ``object.__setattr__`` (three times the cost), and ``Flag`` checks
        nothing on construction."""
        if not changes.keys() <= _FLAG_FIELDS:
            raise TypeError(f"Flag has no field {sorted(changes.keys() - _FLAG_FIELDS)}")
        new = object.__new__(Flag)
        values = new.__dict__
        values.update(self.__dict__)
        values.update(changes)
        return new

    @property
    def message(self) -> str:
        """What was found, settings named as the front end spells them."""
        return spell(self.wording)

    def to_dict(self) -> dict[str, Any]:
        """The flag as JSON-ready data."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "step": self.step,
            "message": self.message,
            "group": self.group,
            "evidence": dict(self.evidence),
            "score": self.score,
        }


_FLAG_FIELDS = frozenset(f.name for f in fields(Flag))


def plain(value: Any) -> Any:
    """NumPy / Polars scalars → plain Python for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def worst_per_step(
    rows: pl.DataFrame, by: str, *, descending: bool = True, also: Sequence[pl.Expr] = ()
) -> pl.DataFrame:
    """Per step, in step order: the row with the largest ``by`` (the smallest unless
    ``descending``), with ``_count``, the step's number of ``rows``, and the ``also``
    aggregates of them. ``by`` is compared to 9 significant digits (:func:`steady`) and
    ties go to the first group, so that last-bit noise in the sums never picks another
    row from one run to the next."""
    keys = [steady(pl.col(by)).alias("_steady"), *(["group"] if "group" in rows.columns else [])]
    return (
        rows.sort(keys, descending=[descending] + [False] * (len(keys) - 1), maintain_order=True)
        .group_by("step", maintain_order=True)
        .agg(pl.all().first(), pl.len().alias("_count"), *also)
        .sort("step")
    )


def steady(value: pl.Expr) -> pl.Expr:
    """``value`` to 9 significant digits where finite: values that differ only by the
    order their sums were added in (Polars' parallel sums) compare equal.

    >>> pl.select(steady(pl.lit(1.9999999999999998)) == steady(pl.lit(2.0000000000000004))).item()
    True
    """
    return pl.when(value.is_finite()).then(value.round_sig_figs(9)).otherwise(value)


def steady_score(score: float) -> float:
    """:func:`steady` for one Python float (a flag's score).

    >>> steady_score(1.9999999999999998) == steady_score(2.0000000000000004)
    True
    """
    return float(f"{score:.9g}") if math.isfinite(score) else score


def groups_per_step(a: Analysis) -> dict[Any, int]:
    """Each iteration's number of groups, by step."""
    return dict(zip(a.iterations["step"].to_list(), a.iterations["groups"].to_list(), strict=True))
