"""The groups themselves: constant, one-rollout or ragged.

``zero_variance``
    Groups of two or more rollouts whose rewards are all equal: no learning signal under
    any group baseline (DAPO filters them; TRL logs ``frac_reward_zero_std``). Reported
    per iteration with the share: info; warning from ``zero_variance_warning`` (default
    50 %); error when every group of the iteration is constant.
``singleton_groups``
    Groups of one rollout: every estimator falls back to its own rule (see each
    estimator's docstring). info; warning when half the groups or more are singletons
    (the group column probably identifies rollouts).
``ragged_groups``
    An iteration whose groups of two rollouts or more differ in size. info.
"""

from __future__ import annotations

import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.diagnostics.flags import Flag, Severity, Thresholds, plain
from grpoflaw_cli.errors import option
from grpoflaw_cli.formatting import count, num


def zero_variance(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations with constant groups (no signal under any group baseline)."""
    flags = []
    it = a.iterations.with_columns(
        (pl.col("groups") - pl.col("singleton_groups")).alias("_eligible")
    ).filter(pl.col("zero_variance_groups") > 0)
    for row in it.iter_rows(named=True):
        share = row["zero_variance_groups"] / max(row["_eligible"], 1)
        sev = (
            Severity.ERROR
            if share >= 1.0
            else Severity.WARNING
            if share >= t.zero_variance_warning
            else Severity.INFO
        )
        flags.append(
            Flag(
                code="zero_variance",
                severity=sev,
                step=plain(row["step"]),
                wording=(
                    f"{num(row['zero_variance_groups'])} of {count(row['_eligible'], 'group')} "
                    f"({share:.0%}) have identical rewards: no learning signal under any "
                    "group baseline"
                ),
                evidence={"groups": row["zero_variance_groups"], "share": share},
                score=share,
            )
        )
    return flags


SINGLETON_RULES = {
    "verl": "under verl's rules GRPO gives r/(1+ε), Dr. GRPO and RLOO the raw reward, grpo_batch 0",
    "trl": "under TRL's rules every group-baseline estimator gives 0",
    "openrlhf": "under OpenRLHF's rules GRPO (group_norm) and RLOO give NaN, Dr. GRPO 0; "
    "their scales leave those rollouts out",
}


def singleton_groups(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations with one-rollout groups (each estimator applies its singleton rule).

    info; warning when at least half the groups are singletons, which usually means the
    group column identifies rollouts, not prompts.
    """
    flags = []
    for row in a.iterations.filter(pl.col("singleton_groups") > 0).iter_rows(named=True):
        share = row["singleton_groups"] / row["groups"]
        mostly = share >= 0.5
        flags.append(
            Flag(
                code="singleton_groups",
                severity=Severity.WARNING if mostly else Severity.INFO,
                step=plain(row["step"]),
                wording=(
                    f"{num(row['singleton_groups'])} of {count(row['groups'], 'group')}"
                    + (" has" if row["singleton_groups"] == 1 else " have")
                    + " one rollout"
                    + (
                        ": the group column probably identifies rollouts, not prompts; "
                        f"map the prompt with {option('group_col')} or {option('group_size')} N"
                        if mostly
                        else ": " + SINGLETON_RULES[a.conventions.framework]
                    )
                ),
                evidence={"groups": row["singleton_groups"], "share": share},
                score=share,
            )
        )
    return flags


def ragged_groups(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations whose groups (of two rollouts or more) differ in size."""
    it = a.iterations.filter(
        (pl.col("group_size_min") >= 2) & (pl.col("group_size_min") < pl.col("group_size_max"))
    )
    return [
        Flag(
            code="ragged_groups",
            severity=Severity.INFO,
            step=plain(row["step"]),
            wording=(
                f"group sizes range from {row['group_size_min']} to {row['group_size_max']}: "
                "each group is normalized with its own size (RLOO's n/(n−1), GRPO's std); "
                "a partial group may be a truncated batch"
            ),
            evidence={"min": row["group_size_min"], "max": row["group_size_max"]},
            score=row["group_size_max"] / max(row["group_size_min"], 1),
        )
        for row in it.iter_rows(named=True)
    ]
