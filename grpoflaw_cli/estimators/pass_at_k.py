"""GRPO for pass@k: only each group's best rollout learns, by its lead over the runner-up.

Not affine in the reward (the lead depends on which rollout is best), so both estimators
are a second pass over the rows with each group's top two rewards gathered in the first.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from grpoflaw_cli.estimators.affine import Affine, identity
from grpoflaw_cli.estimators.conventions import Conventions, group_std
from grpoflaw_cli.estimators.registry import RowVariableFn, register, require_extremes
from grpoflaw_cli.estimators.rows import RowVariable, group_column
from grpoflaw_cli.group_stats import Groups


def _passk_values(name: str, normalized: bool) -> RowVariableFn:
    """The per-rollout value of a pass@k estimator: the group's best rollout (if unique)
    gets its lead over the runner-up, optionally divided by ``σ + ε``; the others 0."""

    def values(g: Groups, c: Conventions) -> RowVariable:
        x = require_extremes(g, name)
        top, n_top, below = x.top, x.n_top, x.below_top
        if normalized:
            with np.errstate(divide="ignore"):
                scale = 1.0 / (np.nan_to_num(group_std(g, c)) + c.eps)
        else:
            scale = np.ones(g.size)

        def col(key: str) -> pl.Expr:
            return pl.col(group_column(name, key))

        best = (pl.col("reward") == col("top")) & (col("n_top") == 1)
        gap = (col("top") - col("below")) * col("scale")
        per_group = {"top": top, "n_top": n_top, "below": below, "scale": scale, "n": g.n}
        return RowVariable(
            name=name,
            per_group={k: np.asarray(v, dtype=np.float64) for k, v in per_group.items()},
            expr=pl.when(best & (col("n") >= 2)).then(gap).otherwise(0.0),
        )

    return values


@register(
    "grpo_passk",
    "GRPO pass@k",
    "pass@k",
    keeps="nowhere",
    requires=("extremes",),
    row_variable=_passk_values("grpo_passk", normalized=True),
)
def grpo_passk(g: Groups, c: Conventions) -> Affine:
    """GRPO for pass@k: only the group's best rollout learns, ``A = (r_max − r_2nd) / (σ + ε)``
    for it and 0 for the others; a tie at the top gives every rollout 0.

    verl ``compute_grpo_passk_outcome_advantage`` (``torch.topk(r, 2)``), with
    ``norm_adv_by_std_in_grpo`` (its default; it reads the flag itself): σ the group std
    with ``ddof`` from the conventions (verl: ``torch.std``, 1), ``ε`` the conventions'
    eps (1e-6). Singleton group: verl raises ("Pass@k requires at least 2 samples per
    group"); 0 here. Constant group: 0. Needs each group's top two rewards, which the
    group pass gathers only when asked (several times its plain cost), and a second pass.
    """
    return identity(g, "grpo_passk")


@register(
    "grpo_passk_nostd",
    "GRPO pass@k, no std division",
    "pass@k0",
    keeps="groups and iterations",
    requires=("extremes",),
    row_variable=_passk_values("grpo_passk_nostd", normalized=False),
)
def grpo_passk_nostd(g: Groups, c: Conventions) -> Affine:
    """GRPO for pass@k without the std division: ``A = r_max − r_2nd`` for the group's
    best rollout, 0 for the others (a tie at the top: 0 for all).

    verl ``compute_grpo_passk_outcome_advantage`` with ``norm_adv_by_std_in_grpo=False``.
    std, eps: not used. Singleton group: verl raises; 0 here. Constant group: 0.
    """
    return identity(g, "grpo_passk_nostd")
