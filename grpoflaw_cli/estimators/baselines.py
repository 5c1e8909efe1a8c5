"""Estimators whose baseline is not the group mean: OPO's length-weighted mean and
ReMax's greedy rollout."""

from __future__ import annotations

import numpy as np

from grpoflaw_cli.estimators.affine import Affine, constant, identity
from grpoflaw_cli.estimators.conventions import Conventions, where_single
from grpoflaw_cli.estimators.registry import register
from grpoflaw_cli.group_stats import Groups


@register("opo", "OPO", "OPO", keeps="groups and iterations", requires=("length",))
def opo(g: Groups, c: Conventions) -> Affine:
    """OPO: ``A = r − b``, ``b = Σ L r / Σ L`` (the length-weighted group mean).

    Hao et al., "On-Policy RL with Optimal Reward Baseline" (arXiv 2505.23585); verl
    ``compute_opo_outcome_advantage``. Needs response lengths ``L``. std, eps: not used.
    Singleton group: b := 0, so ``A = r``. Constant group: 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        b = g.mean + np.where(g.len_sum > 0, g.len_d1 / g.len_sum, 0.0)
    single = g.n == 1
    b = np.where(g.m2 == 0, g.mean, b)  # a constant group's weighted mean is its value
    return Affine(scale=constant(g, 1.0), center=where_single(single, 0.0, b))


@register("remax", "ReMax", "ReMax", keeps="groups and iterations", requires=("baseline",))
def remax(g: Groups, c: Conventions) -> Affine:
    """ReMax: ``A = r − r_greedy``, the reward minus the greedy (``do_sample=False``)
    rollout's reward for the same prompt.

    Li et al., "ReMax" (arXiv 2310.10505); verl ``compute_remax_outcome_advantage`` with
    ``reward_baselines`` from the trainer's REMAX branch. Needs the baseline per rollout
    (the ``baseline_col`` setting). No group statistics, so no singleton rule.
    """
    return identity(g, "gap")
