"""REINFORCE-style estimators: a batch baseline, whitened over the iteration or not.

REINFORCE++ whitens the reward (or, with its baseline, the reward minus the group mean)
over the iteration; OpenRLHF's ``no_std_norm`` variants only subtract the mean, and
``flash_reinforce`` subtracts the iteration's mean reward.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from grpoflaw_cli.estimators.affine import Affine, constant
from grpoflaw_cli.estimators.conventions import Conventions, where_single
from grpoflaw_cli.estimators.registry import register
from grpoflaw_cli.estimators.whitening import whiten
from grpoflaw_cli.group_stats import Groups


@register("reinforce_pp", "REINFORCE++", "R++", keeps="within an iteration")
def reinforce_pp(g: Groups, c: Conventions) -> Affine:
    """REINFORCE++: the reward whitened over the iteration, ``A = (r − m) / sqrt(v + 1e-8)``.

    Hu, "REINFORCE++" (arXiv 2501.03262); verl
    ``compute_reinforce_plus_plus_outcome_advantage`` with γ = 1 (every valid token of a
    rollout has the outcome reward) followed by ``masked_whiten``: ``m`` and ``v`` are
    token-weighted by response length when the log has one, with a Bessel correction on
    the token count (:func:`verl_whiten`). OpenRLHF ``reinforce``: population variance
    (:func:`population_whiten`). TRL has no REINFORCE++: its RLOO normalization is used
    (:func:`trl_normalize`). No groups, so no singleton rule.
    """
    return whiten(g, constant(g, 1.0), constant(g, 0.0), c)


@register("reinforce_pp_baseline", "REINFORCE++ baseline", "R++b", keeps="within an iteration")
def reinforce_pp_baseline(g: Groups, c: Conventions) -> Affine:
    """REINFORCE++-baseline: ``x = r − μ``, then whitened over the iteration.

    verl ``compute_reinforce_plus_plus_baseline_outcome_advantage``: group mean
    subtracted, then ``masked_whiten`` over the batch (token-weighted, Bessel on the
    token count, ``rsqrt(var + 1e-8)``; :func:`verl_whiten`); OpenRLHF
    ``reinforce_baseline`` (population variance, :func:`population_whiten`). Singleton
    group: verl μ := 0, so ``x = r`` before whitening; TRL and OpenRLHF ``x = 0``.
    Constant group: ``x = 0``, whitened to ``−m/√v``.
    """
    single = (g.n == 1) & (c.framework == "verl")
    return whiten(g, constant(g, 1.0), where_single(single, 0.0, g.mean), c)


@register(
    "flash_reinforce",
    "REINFORCE, batch-mean baseline",
    "R-bm",
    keeps="groups and iterations",
    by_default=False,
)
def flash_reinforce(g: Groups, c: Conventions) -> Affine:
    """REINFORCE with the iteration's mean reward as baseline: ``A = r − mean(batch)``.

    OpenRLHF ``experience_maker.py`` ``flash_reinforce`` (step 3 of
    ``compute_advantages_and_returns``: ``r − rewards.mean()`` over the whole batch, one
    weight per rollout; no whitening), then its ±10 clip. std, eps: not used. No groups,
    so no singleton rule.
    """
    nf = g.n.astype(np.float64)
    total = g.per_step(nf)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(total > 0, g.per_step(nf * g.mean) / total, 0.0)
    return Affine(scale=constant(g, 1.0), center=g.broadcast(mu))


def _mean_only(a: Affine) -> Affine:
    """A whitening without its division: OpenRLHF's ``--algo.advantage.no_std_norm``."""
    return replace(a, mult=None)


@register(
    "reinforce_pp_nostd",
    "REINFORCE++, no std division",
    "R++0",
    keeps="groups and iterations",
    by_default=False,
)
def reinforce_pp_nostd(g: Groups, c: Conventions) -> Affine:
    """REINFORCE++ with the batch mean subtracted but no division: ``A = r − m``.

    OpenRLHF ``reinforce`` with ``--algo.advantage.no_std_norm``: ``m`` is the
    token-weighted mean of the iteration (by response length when the log has one).
    std, eps: not used. No groups, so no singleton rule.
    """
    return _mean_only(reinforce_pp(g, c))


@register(
    "reinforce_pp_baseline_nostd",
    "REINFORCE++ baseline, no std division",
    "R++b0",
    keeps="groups and iterations",
    by_default=False,
)
def reinforce_pp_baseline_nostd(g: Groups, c: Conventions) -> Affine:
    """REINFORCE++-baseline with no division: ``x = r − μ``, then ``A = x − m``.

    OpenRLHF ``reinforce_baseline`` with ``--algo.advantage.no_std_norm``: ``m`` is the
    token-weighted mean of ``x`` over the iteration. std, eps: not used. Singleton group:
    as :func:`reinforce_pp_baseline` (verl ``x = r``; TRL and OpenRLHF ``x = 0``).
    """
    return _mean_only(reinforce_pp_baseline(g, c))
