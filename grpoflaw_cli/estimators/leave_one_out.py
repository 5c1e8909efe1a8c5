"""Leave-one-out baselines: each rollout against the mean (and std) of the others.

RLOO / LOOP subtract the others' mean, an affine map of the reward; RLOO (batch-normalized)
then normalizes over the iteration; NeMo-RL's leave-one-out GRPO also divides by the
others' std, which depends on the rollout's own reward, so it is a second pass over the
rows (:func:`loo_values`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from grpoflaw_cli.estimators.affine import Affine, identity
from grpoflaw_cli.estimators.conventions import Conventions, singleton_rule, where_single
from grpoflaw_cli.estimators.registry import register, require_extremes
from grpoflaw_cli.estimators.rows import RowVariable, group_column
from grpoflaw_cli.estimators.whitening import finite_before_whitening, whiten
from grpoflaw_cli.group_stats import Groups


@register("rloo", "RLOO / LOOP", "RLOO", keeps="groups and iterations")
def rloo(g: Groups, c: Conventions) -> Affine:
    """RLOO / LOOP: ``A = r − mean of the others = n/(n−1) · (r − μ)``.

    Ahmadian et al. (arXiv 2402.14740); LOOP, Chen et al. (arXiv 2502.01600); verl
    ``compute_rloo_outcome_advantage`` (``s·n/(n−1) − μ·n/(n−1)``).
    TRL ``rloo_trainer.py``, OpenRLHF ``rloo``. std, eps: not used.
    Singleton group: verl's loop rule, the raw reward ``A = r`` (verl's
    ``rloo_vectorized`` gives 0); TRL 0; OpenRLHF NaN (0/0). Constant group: 0.
    """
    single = g.n == 1
    nf = g.n.astype(np.float64)
    scale = np.where(single, 1.0, nf / np.where(single, 1.0, nf - 1.0))
    if c.framework != "verl":
        scale = np.where(single, singleton_rule(g, c, verl=1.0, trl=0.0, openrlhf=np.nan), scale)
        return Affine(scale=scale, center=g.mean)
    return Affine(scale=scale, center=where_single(single, 0.0, g.mean))


@register(
    "rloo_norm", "RLOO, batch-normalized", "RLOO-n", keeps="within an iteration", by_default=False
)
def rloo_norm(g: Groups, c: Conventions) -> Affine:
    """RLOO, then normalized over the iteration: ``A = (x − mean) / (std + ε)`` with
    ``x = r − mean of the others``.

    TRL ``trl/trainer/rloo_trainer.py`` with ``normalize_advantages=True``: mean and
    ``nanstd`` (ddof 1, float32 Bessel factor) over the batch's rollouts, eps 1e-4
    (:func:`trl_normalize`). Under verl or OpenRLHF conventions the iteration's
    whitening is theirs (:func:`whiten`). Singleton group: RLOO's rule for the framework,
    a NaN counted as 0 so it cannot void the iteration; under TRL a group with a single
    scorable rollout has a 0/0 baseline, so its NaN is left out of the batch's mean and
    std and becomes 0 only afterwards (TRL's final ``nan_to_num``).
    """
    a = finite_before_whitening(rloo(g, c))
    if c.framework != "trl":
        return whiten(g, a.scale, a.center, c)
    lone = g.n == 1
    counted = replace(g, n=np.where(lone, 0, g.n), m2=np.where(lone, 0.0, g.m2))
    normalized = whiten(counted, a.scale, a.center, c)
    return replace(normalized, scale=np.where(lone, np.nan, normalized.scale))


def loo_values(g: Groups, c: Conventions) -> RowVariable:
    """The per-rollout value of :func:`grpo_loo`: the mean and Σ(r − mean)² of the others,
    from the group's by exact identities::

        d = r − μ ;  mean(others) = μ − d/(n−1) ;
        Σ_others (r_j − mean(others))² = m2 − n/(n−1)·d²

    except for a group's lone maximum or minimum, whose removal can take nearly all of
    ``m2`` (the identity would then cancel to rounding noise): those use the others'
    statistics taken without it (:class:`~grpoflaw_cli.group_stats.Extremes`). Every other
    rollout's others include both a maximum and a minimum, so their spread is no residue.
    """
    x = require_extremes(g, "grpo_loo")

    def col(key: str) -> pl.Expr:
        return pl.col(group_column("grpo_loo", key))

    r, n, mean, m2 = pl.col("reward"), col("n"), col("mean"), col("m2")
    top = (r == col("top")) & (col("n_top") == 1)
    bottom = (r == col("bottom")) & (col("n_bottom") == 1)
    d = r - mean
    k = n / (n - 1.0)
    others_mean = (
        pl.when(top)
        .then(col("mean_nt"))
        .when(bottom)
        .then(col("mean_nb"))
        .otherwise(mean - d / (n - 1.0))
    )
    others_m2 = (
        pl.when(top).then(col("m2_nt")).when(bottom).then(col("m2_nb")).otherwise(m2 - k * d * d)
    )
    gap = pl.when(top | bottom).then(r - others_mean).otherwise(k * d)
    std = (others_m2.clip(lower_bound=0.0) / (n - 2.0)).sqrt()
    value = pl.when(n < 2).then(0.0).when((n > 2) & (std > 0)).then(gap / (std + c.eps))
    per_group = {
        "n": g.n,
        "mean": g.mean,
        "m2": g.m2,
        "top": x.top,
        "n_top": x.n_top,
        "bottom": x.bottom,
        "n_bottom": x.n_bottom,
        "mean_nt": x.mean_without_top,
        "m2_nt": x.m2_without_top,
        "mean_nb": x.mean_without_bottom,
        "m2_nb": x.m2_without_bottom,
    }
    return RowVariable(
        name="grpo_loo",
        per_group={key: np.asarray(v, dtype=np.float64) for key, v in per_group.items()},
        expr=value.otherwise(gap),
    )


@register(
    "grpo_loo",
    "GRPO, leave-one-out (NeMo-RL)",
    "GRPO-loo",
    keeps="nowhere",
    requires=("extremes",),
    row_variable=loo_values,
)
def grpo_loo(g: Groups, c: Conventions) -> Affine:
    """GRPO over the others: ``A = (r − m₋ᵢ) / (s₋ᵢ + ε)``, or ``r − m₋ᵢ`` if ``s₋ᵢ = 0``.

    ``m₋ᵢ`` and ``s₋ᵢ`` are the mean and the sample std (ddof 1) of the *other* rewards of
    the group.

    NeMo-RL's default (``grpo.use_leave_one_out_baseline`` and ``normalize_rewards``):
    ``nemo_rl/algorithms/utils.py::calculate_baseline_and_std_per_prompt`` and the GRPO
    advantage estimator in ``nemo_rl/algorithms/``; eps 1e-6 there (older releases: none,
    ``eps=0``), the conventions' ``eps`` here. std: ddof 1 over the n − 1 others, so a
    two-rollout group has ``s₋ᵢ = 0`` (NeMo: ``0·inf`` → NaN → 0) and ``A = r − r_other``.
    Singleton group: NeMo sets the baseline to the reward, ``A = 0``. Constant group: 0.
    Not affine in the reward (``s₋ᵢ`` depends on ``r``), so it is a second pass over the
    rows (:func:`loo_values`), with each group's extremes gathered in the first (on
    demand); computed by default only on NeMo-RL logs.
    NeMo computes ``E[r²] − E[r]²`` over the others in float32: where the others are equal
    but not dyadic (0.3, 1/3, ...) that leaves a residue it divides by (``A`` ~10⁴× too
    large) or a NaN it zeroes. grpoflaw takes the others' statistics without the lone
    rollout, so equal others have std 0, NeMo's intent; the check of the logged
    advantages shows the steps where NeMo's rounding did otherwise.
    """
    return identity(g, "grpo_loo")
