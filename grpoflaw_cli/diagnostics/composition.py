"""What the reward is made of: components summed into it, tasks mixed in the batch.

``component_aliasing``
    With several reward columns (components summed into the reward): groups holding
    rollouts whose component vectors differ while their sums are equal, e.g. (0, 1) and
    (1, 0): the summed reward, and so GRPO, cannot tell them apart (GDPO, arXiv
    2601.05242). Counted per iteration. warning.
``task_reweighting``
    With a task column: a task whose share of GRPO's advantage mass (Σ A²) differs from
    its share of the reward spread (what Dr. GRPO and RLOO give it) by ``task_ratio``
    (3×) or more, over the run (``step`` is null). warning; error from 10×.
``mixed_task_groups``
    With a task column: groups holding rollouts of several tasks, over the run. A prompt
    group has one task, so the group column is likely wrong (a fallback key, a step-wide
    group); the task figures take each group's first task, and the verdict does not split
    by task. Its consequence is the share of rollouts in such groups. warning.
"""

from __future__ import annotations

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
from grpoflaw_cli.errors import option
from grpoflaw_cli.formatting import count, num, percent


def mixed_task_groups(a: Analysis, t: Thresholds) -> list[Flag]:
    """Groups whose rollouts belong to several tasks: one run-level flag."""
    if "task_mixed" not in a.groups.columns:
        return []
    mixed = a.groups.filter(pl.col("task_mixed").fill_null(False))
    if mixed.height == 0:
        return []
    share = float(mixed["n"].sum()) / max(float(a.groups["n"].sum()), 1.0)
    first = mixed.row(0, named=True)
    return [
        Flag(
            code="mixed_task_groups",
            severity=Severity.WARNING,
            step=None,
            wording=(
                f"{count(mixed.height, 'group')} of {num(a.groups.height)} hold rollouts of "
                f"several tasks ({percent(share)} of the rollouts; first at step "
                f"{plain(first['step'])}): a prompt group has one task, so the group column "
                "is likely not the prompt's; the task figures take each group's first task "
                "and the verdict does not split by task. Map the prompt's id with "
                + option("group_col")
            ),
            evidence={"groups": mixed.height, "rollouts_share": share},
            score=share,
        )
    ]


def component_aliasing(a: Analysis, t: Thresholds) -> list[Flag]:
    """Groups where distinct reward-component vectors share a summed reward (GDPO's case)."""
    if "component_patterns" not in a.groups.columns:
        return []
    hit = a.groups.filter(pl.col("component_patterns") > pl.col("reward_values"))
    if hit.height == 0:
        return []
    lost = (pl.col("component_patterns") - pl.col("reward_values")).alias("_lost")
    worst = worst_per_step(hit.with_columns(lost), "_lost")
    totals = groups_per_step(a)
    return [
        Flag(
            code="component_aliasing",
            severity=Severity.WARNING,
            step=plain(row["step"]),
            group=plain(row["group"]),
            wording=(
                f"{num(row['_count'])} of {count(totals[row['step']], 'group')} have rollouts "
                "with different "
                "reward-component vectors but the same summed reward, so GRPO (and any "
                "sum-then-normalize estimator) gives them identical advantages; worst: group "
                f"{row['group']!r}, {row['component_patterns']} component patterns → "
                f"{row['reward_values']} reward values (GDPO normalizes each component first)"
            ),
            evidence={
                "groups": row["_count"],
                "component_patterns": row["component_patterns"],
                "reward_values": row["reward_values"],
            },
            score=float(row["_count"]),
        )
        for row in worst.iter_rows(named=True)
    ]


def task_reweighting(a: Analysis, t: Thresholds) -> list[Flag]:
    """Tasks whose say in GRPO's update is far from their share of the reward spread."""
    if a.tasks is None:
        return []
    run = a.tasks.filter(pl.col("step").is_null() & (pl.col("spread_share") > 0))
    flags = []
    for row in run.iter_rows(named=True):
        spread, grpo = row["spread_share"], row["share_grpo"]
        if max(spread, grpo) < 0.01:
            continue
        ratio = grpo / spread
        size = max(ratio, 1 / ratio) if ratio > 0 else float("inf")
        if size < t.task_ratio:
            continue
        flags.append(
            Flag(
                code="task_reweighting",
                severity=Severity.ERROR if size >= 10 * t.task_ratio / 3 else Severity.WARNING,
                step=None,
                group=row["task"],
                wording=(
                    f"task {row['task']!r} carries {percent(spread)} of the reward spread but "
                    f"{percent(grpo)} of GRPO's advantage mass ({num(size)}× "
                    f"{'more' if ratio > 1 else 'less'}): GRPO gives every group unit scale, "
                    "so tasks weigh by group count, not by reward magnitude"
                ),
                evidence={
                    "task": row["task"],
                    "spread_share": spread,
                    **{k: v for k, v in row.items() if k.startswith("share_")},
                },
                score=size,
            )
        )
    return flags
