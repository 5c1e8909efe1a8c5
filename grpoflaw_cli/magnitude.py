"""How much reward magnitude an estimator keeps: elasticities, verdicts, and the typical
value (a geometric median) spreads and scales are measured against.

The **elasticity** is the slope of log(scale) against log(spread): 1 means the estimator
passes reward magnitude through; 0 means it erases it (see :mod:`grpoflaw_cli.analysis`).

>>> import numpy as np
>>> spread = np.array([1.0, 2.0, 4.0])
>>> elasticity_across(spread, spread), elasticity_across(spread, np.ones(3))
(1.0, 0.0)
>>> verdict(1.0), verdict(0.0), verdict(float("nan"))
('keeps', 'erases', 'n/a')
>>> round(geometric_median([1.0, 10.0, 100.0]), 9), relative_to_typical(np.array([2.0, 8.0, 0.0]))
(10.0, array([0.5, 2. , 0. ]))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from grpoflaw_cli.estimators import REGISTRY
from grpoflaw_cli.group_stats import Groups, PerStep

KEEPS_THRESHOLD = 0.9
ERASES_THRESHOLD = 0.1


def geometric_median(values: pl.Series | np.ndarray | Sequence[float]) -> float:
    """exp(median(log x)): the typical value of a positive, multiplicative quantity."""
    return float(np.exp(np.median(np.log(np.asarray(values)))))


def relative_to_typical(values: np.ndarray) -> np.ndarray:
    """``values`` over their typical value: the geometric median of the positive, finite
    ones (1 if there are none)."""
    live = values[(values > 0) & np.isfinite(values)]
    return values / (geometric_median(live) if live.size else 1.0)


def live_groups(n: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Mask of the groups that carry a signal: two rollouts or more, not all equal."""
    return (n >= 2) & (spread > 0)


def _slope(x: np.ndarray, y: np.ndarray, sxx: float | None = None) -> float:
    """OLS slope of y on x (both already centered; ``sxx`` is x·x if known); NaN without
    spread in x."""
    sxx = float(np.dot(x, x)) if sxx is None else sxx
    if not np.isfinite(sxx) or sxx <= 1e-12 * max(len(x), 1):
        return float("nan")
    return float(np.dot(x, y) / sxx)


class WithinIterations:
    """Slope of log(scale) on log(spread) across the groups of each iteration (iteration
    fixed effects removed), for many estimators over the same groups: the spread side is
    prepared once.
    """

    def __init__(self, g: Groups, spread: np.ndarray) -> None:
        self.g = g
        self.spread = spread
        live = live_groups(g.n, spread)
        # Usually every group is live: then no subset is copied.
        self.rows = None if live.all() else np.flatnonzero(live)
        self.sides = self._sides(self.rows)
        self.sxx = float(np.dot(self.sides[1], self.sides[1]))

    def _sides(self, rows: np.ndarray | None) -> tuple[PerStep, np.ndarray, np.ndarray]:
        """Over ``rows`` (all if None): their iterations, the demeaned log spread and the
        divisor."""
        g = self.g
        steps = g.steps if rows is None else PerStep(g.step_index[rows], g.n_steps)
        count = np.bincount(steps.index, minlength=g.n_steps).astype(np.float64)
        denom = np.maximum(count, 1.0)
        spread = self.spread if rows is None else self.spread[rows]
        return steps, self._demean(np.log(spread), steps, denom), denom

    @staticmethod
    def _demean(v: np.ndarray, steps: PerStep, denom: np.ndarray) -> np.ndarray:
        """``v`` minus its iteration's mean, in place."""
        means = steps.sum(v) / denom
        v -= steps.broadcast(means)
        return v

    def slope(self, scale: np.ndarray) -> float:
        s = scale if self.rows is None else scale[self.rows]
        usable = (s > 0) & np.isfinite(s)
        if usable.all():
            if s.size < 2:
                return float("nan")
            steps, x, denom = self.sides
            return _slope(x, self._demean(np.log(s), steps, denom), self.sxx)
        # Some groups have no advantage (a NaN rule, say): drop them and redo the sides.
        if usable.sum() < 2:
            return float("nan")
        rows = np.flatnonzero(usable) if self.rows is None else self.rows[usable]
        steps, x, denom = self._sides(rows)
        return _slope(x, self._demean(np.log(s[usable]), steps, denom))


def elasticity_across(spread: np.ndarray, scale: np.ndarray) -> float:
    """Slope of log(scale) on log(spread) across iterations."""
    ok = (spread > 0) & (scale > 0) & np.isfinite(scale) & np.isfinite(spread)
    if ok.sum() < 2:
        return float("nan")
    x, y = np.log(spread[ok]), np.log(scale[ok])
    return _slope(x - x.mean(), y - y.mean())


def live_per_iteration(
    g: Groups, spread: np.ndarray, scale: np.ndarray, live: np.ndarray | None = None
) -> np.ndarray:
    """Per iteration, the RMS of ``scale`` over its non-constant groups (rollout-weighted):
    √(Σ_live n·scale² / Σ_live n); 0 for an iteration with none. Given the group
    ``spread`` itself, the iteration's reward spread over those groups. ``live``, the
    groups' :func:`live_groups` if already known.

    >>> from types import SimpleNamespace  # the Groups fields it reads
    >>> g = SimpleNamespace(step_index=np.array([0, 0, 1]), n=np.array([2, 2, 2]), n_steps=2)
    >>> live_per_iteration(g, np.array([1.0, 0.0, 3.0]), np.array([0.7, 0.0, 0.7])).tolist()
    [0.7, 0.7]
    """
    return LivePerIteration(g, spread, live).rms(scale)


class LivePerIteration:
    """:func:`live_per_iteration` for several scales of the same groups: the live groups'
    rollout counts and their sum per iteration computed once, not once per estimator."""

    def __init__(self, g: Groups, spread: np.ndarray, live: np.ndarray | None = None) -> None:
        self.g = g
        self.live = live_groups(g.n, spread) if live is None else live
        self.n = np.where(self.live, g.n, 0).astype(float)
        self.weight = np.bincount(g.step_index, weights=self.n, minlength=g.n_steps)

    def rms(self, scale: np.ndarray) -> np.ndarray:
        g, live, n = self.g, self.live, self.n
        ok = np.isfinite(scale)
        if ok.all():  # usually: no mask to apply (the same numbers either way)
            mass = np.bincount(g.step_index, weights=n * scale**2, minlength=g.n_steps)
            weight = self.weight
        else:
            mass = np.bincount(
                g.step_index, weights=np.where(live & ok, n * scale**2, 0.0), minlength=g.n_steps
            )
            weight = np.bincount(g.step_index, weights=np.where(ok, n, 0.0), minlength=g.n_steps)
        return np.sqrt(mass / np.maximum(weight, 1.0))


def verdict(elasticity: float) -> str:
    """Words for an elasticity: keeps / partly / erases / n/a."""
    if not np.isfinite(elasticity):
        return "n/a"
    if elasticity >= KEEPS_THRESHOLD:
        return "keeps"
    if elasticity <= ERASES_THRESHOLD:
        return "erases"
    return "partly"


def magnitude_frame(
    g: Groups,
    spread: np.ndarray,
    group_scales: dict[str, np.ndarray],
    iterations: pl.DataFrame,
    estimators: Sequence[str],
) -> pl.DataFrame:
    """One row per estimator: ``estimator, title, elasticity_within, elasticity_across,
    verdict_within, verdict_across``; ``group_scales`` holds the ``scale_<name>`` columns
    of the groups, whose ``spread`` is given.

    Both elasticities are fitted on the non-constant groups only: across iterations, each
    iteration's spread and scale are RMS over its non-constant groups
    (:func:`live_per_iteration`), so the share of constant groups per step (which scales
    every estimator's iteration RMS alike) does not move the fit."""
    rows = []
    within_iterations = WithinIterations(g, spread)
    per_iteration = LivePerIteration(g, spread)
    it_spread = per_iteration.rms(spread)  # non-constant groups only
    for name in estimators:
        scale = group_scales[f"scale_{name}"]
        within = within_iterations.slope(scale)
        across = elasticity_across(it_spread, per_iteration.rms(scale))
        rows.append(
            {
                "estimator": name,
                "title": REGISTRY[name].title,
                "elasticity_within": within,
                "elasticity_across": across,
                "verdict_within": verdict(within),
                "verdict_across": verdict(across),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "estimator": pl.String,
            "title": pl.String,
            "elasticity_within": pl.Float64,
            "elasticity_across": pl.Float64,
            "verdict_within": pl.String,
            "verdict_across": pl.String,
        },
    )
