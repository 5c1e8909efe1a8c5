"""What a finding costs: each flag's **consequence**, the share of the run it affects,
and the order findings are shown in (largest consequence first, not check by check).

A flag's ``evidence["consequence"]`` is a share of the whole run, and
``evidence["consequence_of"]`` says of what:

* ``"rollouts"``: the rollouts it is about over all the run's rollouts: those in constant
  groups (``zero_variance``), in one-rollout groups (``singleton_groups``), or all of the
  step's (``ragged_groups``, ``step_in_several_files``, ``logged_advantage_mismatch``,
  ``gdpo_float32_noise``, whose batch whitening moves every rollout of the step);
* ``"update mass"``: its share of GRPO's update mass Σ A² over the run (Σ over groups of
  n·scale², scale the group's RMS GRPO advantage): the step's (``magnitude_collapse``),
  the step's times the share of its non-constant groups affected (``collapsed_pair``,
  ``magnitude_collapse_groups``, ``noise_amplification``), or the mass GRPO moves to or
  from a task, |share_grpo − spread_share| (``task_reweighting``).

Without a GRPO scale (GRPO not computed) update mass falls back to rollouts. Shares of
one check over several steps add up (a run-level finding carries their sum).

>>> import polars as pl
>>> from grpoflaw_cli.analysis import analyze_groups
>>> from grpoflaw_cli.diagnostics.flags import Flag, Severity
>>> from grpoflaw_cli.passes import group_stats_query
>>> rows = pl.LazyFrame({"step": [1] * 6, "group": [0, 0, 0, 1, 1, 1],
...                      "reward": [1.0, 1, 1, 0, 1, 0]})
>>> a = analyze_groups(group_stats_query(rows, has_length=False).collect(), ["grpo"])
>>> flag = Flag("zero_variance", Severity.WARNING, 1, "1 of 2 groups")
>>> [f.evidence["consequence"] for f in with_consequence([flag], a)]
[0.5]
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.diagnostics.flags import Flag

ROLLOUT_CODES = frozenset(
    {
        "zero_variance",
        "singleton_groups",
        "ragged_groups",
        "step_in_several_files",
        "logged_advantage_mismatch",
        "gdpo_float32_noise",
    }
)
GROUP_CODES = frozenset({"collapsed_pair", "magnitude_collapse_groups", "noise_amplification"})
COUNT_KEYS = ("groups_with_twin", "groups")
"""Where a group-level flag's evidence holds how many of the step's groups it is about."""


def _per_step(a: Analysis) -> pl.DataFrame:
    """Per step: rollouts, rollouts in constant and in one-rollout groups, GRPO mass and
    the number of non-constant groups, each rollout or mass figure as a share of the run."""
    g = a.groups
    mass = pl.Series(a.update_masses[0]) if "scale_grpo" in g.columns else g["n"].cast(pl.Float64)
    live = pl.Series("_live", a.live)
    per = (
        g.with_columns(live, mass.alias("_mass"))
        .group_by("step")
        .agg(
            pl.col("n").sum().alias("rollouts"),
            pl.col("n").filter(pl.col("zero_variance") & (pl.col("n") >= 2)).sum().alias("zero"),
            pl.col("n").filter(pl.col("n") == 1).sum().alias("single"),
            pl.col("_mass").sum().alias("mass"),
            pl.col("_live").sum().alias("live"),
        )
    )
    total_rollouts = max(float(per["rollouts"].sum()), 1.0)
    total_mass = float(per["mass"].sum())
    basis = "update mass" if total_mass > 0 and "scale_grpo" in g.columns else "rollouts"
    mass = pl.col("mass") / total_mass if basis == "update mass" else pl.col("rollouts")
    return per.with_columns(mass.alias("mass"), pl.lit(basis).alias("basis")).with_columns(
        (pl.col(c) / total_rollouts).alias(c)
        for c in ("rollouts", "zero", "single", *(() if basis == "update mass" else ("mass",)))
    )


def consequence(flag: Flag, step: dict[str, Any] | None) -> tuple[float, str]:
    """A flag's share of the run and what it is a share of (see the module docstring);
    ``step`` is its step's row of :func:`_per_step` (None for a run-level flag)."""
    ev = flag.evidence
    if flag.code == "task_reweighting" and "share_grpo" in ev:
        return abs(ev["share_grpo"] - ev.get("spread_share", 0.0)), "update mass"
    if flag.code in ("component_inflation", "reallocation"):  # its score: a share of mass
        return flag.score, "update mass"
    if flag.code == "mixed_task_groups":  # its score: a share of the rollouts
        return flag.score, "rollouts"
    if step is None:
        return 1.0, "rollouts"
    if flag.code == "zero_variance":
        return step["zero"], "rollouts"
    if flag.code == "singleton_groups":
        return step["single"], "rollouts"
    if flag.code in ROLLOUT_CODES:
        return step["rollouts"], "rollouts"
    share = step["mass"]
    if flag.code in GROUP_CODES:
        count = 1
        for k in COUNT_KEYS:  # the first count the evidence holds
            if isinstance(ev.get(k), (int, float)):
                count = ev[k]
                break
        share *= min(count / max(step["live"], 1), 1.0)
    return share, step["basis"]


def with_consequence(flags: list[Flag], a: Analysis) -> list[Flag]:
    """``flags``, each with ``consequence`` and ``consequence_of`` in its evidence."""
    if not flags:
        return flags
    steps = {row["step"]: row for row in _per_step(a).iter_rows(named=True)}
    out = []
    for flag in flags:
        value, of = consequence(flag, steps.get(flag.step) if flag.step is not None else None)
        value = float(value) if math.isfinite(value) else 0.0  # a Python float: no NumPy call
        out.append(
            flag.changed(evidence={**flag.evidence, "consequence": value, "consequence_of": of})
        )
    return out


def by_consequence(flags: list[Flag]) -> list[Flag]:
    """Findings ranked by consequence: the checks by the share of the run their flags
    affect together, largest first, notes (severity info) after every problem; within a
    check, worst severity, then largest consequence, then step."""
    total: dict[str, float] = {}
    problem: dict[str, bool] = {}
    for flag in flags:
        total[flag.code] = total.get(flag.code, 0.0) + flag.evidence.get("consequence", 0.0)
        problem[flag.code] = problem.get(flag.code, False) or flag.severity.rank > 0

    def key(f: Flag) -> tuple[Any, ...]:
        step = f.step
        order = (0, step) if isinstance(step, (int, float)) else (1, str(step))
        c = f.evidence.get("consequence", 0.0)
        return (
            not problem[f.code],
            -min(total[f.code], 1.0),
            f.code,
            -f.severity.rank,
            -c,
            -f.score,
            order,
        )

    return sorted(flags, key=key)
