"""Reward magnitude GRPO erased: spreads far from typical under a typical GRPO scale.

``magnitude_collapse``
    An iteration whose reward spread differs from the run's typical (median) iteration
    spread by at least ``magnitude_ratio`` (default 3×) in either direction while its
    GRPO advantage scale stays within ``grpo_tolerance`` (default 1.5×) of typical:
    GRPO shrank (or inflated) its magnitude by the ratio of the two. warning; error from
    ``magnitude_error_ratio`` (default 10×).
``magnitude_collapse_groups``
    The group version (the steady state of a multi-task run): per iteration, the groups
    whose spread is that far from the run's typical group spread (geometric median over
    non-constant groups) while their GRPO scale stays within ``grpo_tolerance`` of the
    typical group's. warning.
``noise_amplification``
    Non-constant groups whose spread is below ``noise_ratio`` (default 1/20) of the run's
    typical group spread yet whose GRPO advantages are unit scale (RMS ≥ 0.5): shaping
    noise turned into full-size advantages. warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.diagnostics.flags import (
    Flag,
    Severity,
    Thresholds,
    groups_per_step,
    plain,
    worst_per_step,
)
from grpoflaw_cli.formatting import count, num
from grpoflaw_cli.magnitude import geometric_median


def magnitude_collapse(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations (and groups) whose reward spread is far from typical while GRPO's scale is not."""
    flags: list[Flag] = []
    if "scale_grpo" not in a.iterations.columns:
        return flags
    it = a.iterations.filter((pl.col("spread") > 0) & (pl.col("scale_grpo") > 0))
    if it.height >= 2:
        typical = geometric_median(it["spread"])
        typical_grpo = geometric_median(it["scale_grpo"])
        # The candidates, found a column at a time (the same divisions; Polars orders NaN
        # above all, so this keeps a superset of the rows the test below keeps).
        by_spread, by_grpo = pl.col("spread") / typical, pl.col("scale_grpo") / typical_grpo
        candidates = it.filter(
            (pl.max_horizontal(by_spread, 1 / by_spread) >= t.magnitude_ratio)
            & (pl.max_horizontal(by_grpo, 1 / by_grpo) <= t.grpo_tolerance)
        )
        for row in candidates.iter_rows(named=True):
            spread_ratio = row["spread"] / typical
            grpo_ratio = row["scale_grpo"] / typical_grpo
            factor = spread_ratio / grpo_ratio
            far = max(spread_ratio, 1 / spread_ratio) >= t.magnitude_ratio
            flat = max(grpo_ratio, 1 / grpo_ratio) <= t.grpo_tolerance
            if not (far and flat):
                continue
            size = max(factor, 1 / factor)
            shrunk = factor > 1
            flags.append(
                Flag(
                    code="magnitude_collapse",
                    severity=Severity.ERROR
                    if size >= t.magnitude_error_ratio
                    else Severity.WARNING,
                    step=plain(row["step"]),
                    wording=(
                        f"reward spread {num(row['spread'])} is {num(spread_ratio)}× the run's "
                        f"typical {num(typical)}, yet GRPO advantages keep the typical scale "
                        f"({num(grpo_ratio)}×): magnitude {'shrunk' if shrunk else 'inflated'} "
                        f"{num(size)}×"
                    ),
                    evidence={
                        "spread": row["spread"],
                        "typical_spread": typical,
                        "spread_ratio": spread_ratio,
                        "grpo_scale": row["scale_grpo"],
                        "typical_grpo_scale": typical_grpo,
                        "factor": factor,
                    },
                    score=size,
                )
            )
    flags.extend(_group_magnitude(a, t))
    return flags


def _farthest_groups(
    a: Analysis, t: Thresholds, typical: float, typical_grpo: float
) -> list[dict[str, Any]]:
    """Per iteration of two groups or more, in step order: how many live groups have a
    spread ``magnitude_ratio`` or more from ``typical`` (not below ``noise_ratio`` of it)
    while their GRPO scale stays within ``grpo_tolerance`` of ``typical_grpo``, how many of
    them are larger (``_up``), and the farthest one's keys, spread, ``_ratio`` and
    ``_far``."""
    spread = a.groups["spread"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        grpo = a.groups["scale_grpo"].to_numpy() * (1 / typical_grpo)
        flat = np.maximum(grpo, 1 / grpo) <= t.grpo_tolerance  # NaN (no scale): False
        del grpo
        ratio = spread * (1 / typical)  # as Polars divides by a scalar
        far = np.divide(1, ratio)
        np.maximum(ratio, far, out=far)
    # Tiny groups are reported as noise amplification; a one-group iteration by the
    # iteration-level check.
    multi = a.iterations.filter(pl.col("groups") >= 2)["step"]
    in_multi = a.groups["step"].is_in(multi.implode()).fill_null(False).to_numpy()
    rows = np.flatnonzero(
        a.live & (far >= t.magnitude_ratio) & (ratio >= t.noise_ratio) & in_multi & flat
    )
    step = a.stats.step_index[rows]  # groups are sorted by step: this is step order
    top = np.full(a.stats.n_steps, -np.inf)
    np.maximum.at(top, step, far[rows])
    at_top = far[rows] == top[step]
    if np.bincount(step[at_top], minlength=a.stats.n_steps).max(initial=0) > 1:
        # A tie for the farthest: the one reported is whichever the sort puts first.
        g = a.groups.select("step", "group", "spread")[rows].with_columns(
            pl.Series("_ratio", ratio[rows]), pl.Series("_far", far[rows])
        )
        del spread, ratio, far
        larger = (pl.col("_ratio") > 1).sum().alias("_up")
        return list(worst_per_step(g, "_far", also=[larger]).iter_rows(named=True))
    count = np.bincount(step, minlength=a.stats.n_steps)
    up = np.bincount(step[ratio[rows] > 1], minlength=a.stats.n_steps)
    pick, steps = rows[at_top], step[at_top]
    keys = a.groups.select("step", "group")[pick]
    return [
        {"step": s, "group": g, "spread": v, "_ratio": r, "_far": f, "_count": c, "_up": u}
        for s, g, v, r, f, c, u in zip(
            keys["step"].to_list(),
            keys["group"].to_list(),
            spread[pick].tolist(),
            ratio[pick].tolist(),
            far[pick].tolist(),
            count[steps].tolist(),
            up[steps].tolist(),
            strict=True,
        )
    ]


def _group_magnitude(a: Analysis, t: Thresholds) -> list[Flag]:
    typical = a.typical_group_spread
    if typical is None or "scale_grpo" not in a.groups.columns:
        return []
    scales = a.groups["scale_grpo"].to_numpy()[a.live]
    scales = scales[scales > 0]  # NaN (a framework's NaN rule) and 0 are no typical scale
    if scales.size == 0:
        return []
    typical_grpo = geometric_median(scales)
    worst = _farthest_groups(a, t, typical, typical_grpo)
    if not worst:
        return []
    totals = groups_per_step(a)
    flags = []
    ratio, spread_text = num(t.magnitude_ratio), num(typical)  # the same in every flag
    within = f"within {num(t.grpo_tolerance)}× of {num(typical_grpo)}"
    for row in worst:
        flags.append(
            Flag(
                code="magnitude_collapse_groups",
                severity=Severity.WARNING,
                step=plain(row["step"]),
                group=plain(row["group"]),
                wording=(
                    f"{num(row['_count'])} of {count(totals[row['step']], 'group')} "
                    "have a reward spread "
                    f"≥{ratio}× away from the run's typical group spread "
                    f"{spread_text} ({row['_up']} larger, {row['_count'] - row['_up']} smaller) "
                    f"but GRPO advantages of the typical scale ({within}); worst: group "
                    f"{row['group']!r}, spread "
                    f"{num(row['spread'])} ({num(row['_ratio'])}×)"
                ),
                evidence={
                    "groups": row["_count"],
                    "groups_larger": row["_up"],
                    "typical_spread": typical,
                    "typical_grpo_scale": typical_grpo,
                    "worst_spread": row["spread"],
                    "worst_ratio": row["_ratio"],
                },
                score=row["_far"],
            )
        )
    return flags


def noise_amplification(a: Analysis, t: Thresholds) -> list[Flag]:
    """Groups with a tiny reward spread that GRPO blows up to unit-scale advantages."""
    typical = a.typical_group_spread
    if typical is None or "scale_grpo" not in a.groups.columns:
        return []
    spread = a.groups["spread"].to_numpy()
    tiny = (spread < t.noise_ratio * typical) & (
        a.groups["scale_grpo"].to_numpy() >= t.noise_grpo_scale
    )
    g = a.groups[np.flatnonzero(a.live & tiny)]
    if g.height == 0:
        return []
    worst = worst_per_step(g, "spread", descending=False)
    flags = []
    for row in worst.iter_rows(named=True):
        flags.append(
            Flag(
                code="noise_amplification",
                severity=Severity.WARNING,
                step=plain(row["step"]),
                group=plain(row["group"]),
                wording=(
                    f"{count(row['_count'], 'group')} "
                    f"{'differs' if row['_count'] == 1 else 'differ'} by a reward spread under "
                    f"{num(t.noise_ratio)}× the typical {num(typical)} yet get unit-scale "
                    f"GRPO advantages; worst: group {row['group']!r}, spread {num(row['spread'])}"
                    f" → GRPO scale {num(row['scale_grpo'])} "
                    f"({num(row['scale_grpo'] / row['spread'])}× amplification)"
                ),
                evidence={
                    "groups": row["_count"],
                    "typical_spread": typical,
                    "worst_spread": row["spread"],
                    "grpo_scale": row["scale_grpo"],
                },
                score=row["scale_grpo"] / row["spread"],
            )
        )
    return flags
