"""The contract every estimator returns: an :class:`Affine` map of a per-rollout value.

For rollout ``i`` of group ``g`` in iteration ``s``::

    A_i = mult_s · ( scale_g · (x_i − center_g) − shift_s )

Per-rollout advantages (:func:`apply`) and per-group moments (:func:`group_moments`) both
follow from it, so each estimator's formula lives in one place.

>>> import numpy as np
>>> a = Affine(scale=np.array([2.0]), center=np.array([1.0]))
>>> apply(a, np.array([1.0, 3.0]), np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64))
array([0., 4.])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from grpoflaw_cli.group_stats import Groups


@dataclass(frozen=True)
class Affine:
    """``A = mult[step] · (scale[g] · (x − center[g]) − shift[step])``.

    ``x`` is the reward, with ``variable="gap"`` the reward minus its baseline (ReMax's
    greedy-rollout reward), or a per-rollout value computed in a second pass
    (:class:`~grpoflaw_cli.estimators.rows.RowVariable`: clipped values, GDPO's
    per-component sum).
    """

    scale: np.ndarray
    center: np.ndarray
    shift: np.ndarray | None = None
    mult: np.ndarray | None = None
    variable: str = "reward"
    """``reward``, ``gap`` (reward − baseline) or the name of a row variable."""


def constant(g: Groups, value: float) -> np.ndarray:
    """A per-group array holding one value, as a read-only view (no memory per group)."""
    return np.broadcast_to(np.float64(value), (g.size,))


def identity(g: Groups, variable: str = "reward") -> Affine:
    """``A = x``: the advantage is the variable itself (the reward minus its baseline for
    ReMax, a second-pass row value such as ``grpo_loo``'s)."""
    return Affine(scale=constant(g, 1.0), center=constant(g, 0.0), variable=variable)


def group_moments(g: Groups, a: Affine) -> tuple[np.ndarray, np.ndarray]:
    """Per-group ``Σ A`` and ``Σ A²`` over the rollouts, without touching them.

    With ``d = scale·(μ − center) − shift``: ``A_i = mult·(scale·(r_i − μ) + d)``, so
    ``Σ A = mult·n·d`` and ``Σ A² = mult²·(scale²·m2 + n·d²)``.
    """
    nf = g.n.astype(np.float64)
    d = _offset(g, a)
    sum_sq = _sum_sq(g, a, nf, d)
    total = nf * d
    if a.mult is not None:
        total *= g.broadcast(a.mult)
    return total, sum_sq


def group_sum_sq(g: Groups, a: Affine) -> np.ndarray:
    """:func:`group_moments`' ``Σ A²`` alone (the same numbers), for the advantage scales,
    which need no ``Σ A``: two passes fewer over every group."""
    return _sum_sq(g, a, g.n.astype(np.float64), _offset(g, a))


def _offset(g: Groups, a: Affine) -> np.ndarray:
    """``d = scale·(μ − center) − shift`` per group (see :func:`group_moments`)."""
    mean = g.gap_mean if a.variable == "gap" else g.mean
    assert mean is not None
    d: np.ndarray = mean - a.center
    d *= a.scale
    if a.shift is not None:
        d -= g.broadcast(a.shift)
    return d


def _sum_sq(g: Groups, a: Affine, nf: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``Σ A² = mult²·(scale²·m2 + n·d²)`` per group, given ``n`` and ``d``."""
    m2 = g.gap_m2 if a.variable == "gap" else g.m2
    assert m2 is not None
    sum_sq: np.ndarray = a.scale * a.scale
    sum_sq *= m2
    sum_sq += nf * d * d
    if a.mult is not None:
        mult = g.broadcast(a.mult)
        sum_sq *= mult * mult
    return sum_sq


def apply(
    a: Affine,
    reward: np.ndarray,
    group_index: np.ndarray,
    step_index: np.ndarray,
    baseline: np.ndarray | None = None,
) -> np.ndarray:
    """Per-rollout advantages, given each rollout's group and iteration index."""
    x = reward - baseline if a.variable == "gap" and baseline is not None else reward
    adv = a.scale[group_index] * (x - a.center[group_index])
    if a.shift is not None:
        adv = adv - a.shift[step_index]
    if a.mult is not None:
        adv = adv * a.mult[step_index]
    return np.asarray(adv)
