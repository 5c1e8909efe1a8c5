"""The GRPO family: a group-mean baseline, with or without a division by a std.

GRPO divides by the group's std, GRPO (batch std) by the iteration's, Dr. GRPO and GPG by
nothing (GPG scales by the share of nonzero rewards), MaxRL by the group mean; GDPO
normalizes each reward component within its group, then whitens the sum over the
iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import polars as pl

from grpoflaw_cli.estimators.affine import Affine, constant
from grpoflaw_cli.estimators.conventions import (
    Conventions,
    group_std,
    singleton_denominator,
    singleton_rule,
    step_std,
    where_single,
)
from grpoflaw_cli.estimators.registry import register
from grpoflaw_cli.estimators.rows import RowVariable, group_column
from grpoflaw_cli.estimators.whitening import finite_before_whitening, whiten
from grpoflaw_cli.group_stats import Groups


@register("grpo", "GRPO", "GRPO", keeps="nowhere")
def grpo(g: Groups, c: Conventions) -> Affine:
    """GRPO: ``A = (r − μ) / (σ + ε)``.

    Shao et al., DeepSeekMath (arXiv 2402.03300), eq. for outcome supervision; verl
    ``verl/trainer/ppo/core_algos.py::compute_grpo_outcome_advantage``.
    std: ``ddof`` from the conventions (default 1, as ``torch.std`` in verl/TRL).
    eps: the conventions' ``eps`` (default 1e-6, verl's), added to σ.
    TRL ``grpo_trainer.py`` (``scale_rewards="group"``), OpenRLHF ``group_norm``.
    Singleton group (n = 1): verl μ := 0 and σ := 1, so ``A = r / (1 + ε)`` with
    ``1 + ε`` rounded to float32 (:func:`singleton_denominator`); TRL 0 (its NaN std is
    zeroed by ``nan_to_num``); OpenRLHF NaN (``torch.std`` of one value).
    Constant group: σ = 0, so ``A = 0 / ε = 0``.
    """
    sigma = group_std(g, c)
    single = g.n == 1
    denom = np.where(single, singleton_denominator(c.eps), np.nan_to_num(sigma) + c.eps)
    with np.errstate(divide="ignore"):
        scale = np.where(denom > 0, 1.0 / np.where(denom > 0, denom, 1.0), 0.0)
    rule = singleton_rule(g, c, verl=np.nan, trl=0.0, openrlhf=np.nan)
    if c.framework != "verl":
        scale = np.where(single, rule, scale)
    return Affine(scale=scale, center=np.where(single & (c.framework == "verl"), 0.0, g.mean))


@register("grpo_batch", "GRPO (batch std)", "GRPO-b", keeps="within an iteration")
def grpo_batch(g: Groups, c: Conventions) -> Affine:
    """GRPO with the batch std: ``A = (r − μ_group) / (σ_batch + ε)``.

    TRL ``trl/trainer/grpo_trainer.py`` with ``scale_rewards="batch"`` (Lite PPO, arXiv
    2508.08221): the mean is still the group's, the std is over every reward of the
    iteration. std: ``ddof`` from the conventions; eps: the conventions' ``eps``
    (TRL itself uses 1e-4). Singleton group: ``r − μ = 0``, so ``A = 0`` (TRL's rule).
    A one-rollout iteration has batch std 0 and advantage 0.
    """
    sigma_batch = g.broadcast(step_std(g, c))
    denom = sigma_batch + c.eps
    with np.errstate(divide="ignore"):
        scale = np.where(denom > 0, 1.0 / np.where(denom > 0, denom, 1.0), 0.0)
    return Affine(scale=scale, center=g.mean)


@register("dr_grpo", "Dr. GRPO", "DrGRPO", keeps="groups and iterations")
def dr_grpo(g: Groups, c: Conventions) -> Affine:
    """Dr. GRPO: ``A = r − μ`` (no std division).

    Liu et al., "Understanding R1-Zero-Like Training" (arXiv 2503.20783); verl
    ``compute_grpo_outcome_advantage`` with ``norm_adv_by_std_in_grpo=False``.
    TRL ``scale_rewards="none"``, OpenRLHF ``dr_grpo``. std, eps: not used.
    Singleton group: verl μ := 0, so ``A = r``; TRL and OpenRLHF ``r − r = 0``.
    Constant group: 0.
    """
    single = (g.n == 1) & (c.framework == "verl")
    return Affine(scale=constant(g, 1.0), center=where_single(single, 0.0, g.mean))


@register("gpg", "GPG", "GPG", keeps="groups and iterations")
def gpg(g: Groups, c: Conventions) -> Affine:
    """GPG: ``A = α·(r − μ)``, ``α = N / max(#nonzero rewards in the iteration, 1)``.

    Chu et al., "GPG" (arXiv 2504.02546); verl ``compute_gpg_outcome_advantage`` with its
    defaults (``f_norm = 1``; the trainer overwrites ``alpha`` with the batch ratio, an
    integer division that torch evaluates as a float32 reciprocal times the batch size;
    reproduced here to the bit).
    std, eps: not used (verl computes the std but does not use it). Singleton group:
    μ := 0, so ``A = α·r``. Constant group: 0.
    """
    nf = g.n.astype(np.float64)
    total = g.per_step(nf)
    nonzero = g.per_step(g.n_nonzero.astype(np.float64))
    # verl computes `bsz / count_tensor`: torch's __rtruediv__ takes the float32 reciprocal
    # of the integer count and multiplies, in float32, even for float64 rewards.
    recip = (1.0 / np.maximum(nonzero, 1.0)).astype(np.float32)
    alpha = (recip * total.astype(np.float32)).astype(np.float64)
    single = g.n == 1
    return Affine(scale=g.broadcast(alpha), center=where_single(single, 0.0, g.mean))


MAXRL_EPS = 1e-8
"""The floor MaxRL's group mean is clamped to before dividing (``clamp_min(eps)``)."""
MAXRL_ROUNDING = 1e-6
"""A group mean below this fraction of the group's spread is rounding: MaxRL gives 0."""


@register("max_rl", "MaxRL", "MaxRL", keeps="nowhere", by_default=False)
def max_rl(g: Groups, c: Conventions) -> Affine:
    """MaxRL: ``A = (r − μ) / μ = r/μ − 1`` where ``μ > 0``; ``A = 0`` where ``μ ≤ 0``.

    Tajwar et al., "Maximum Likelihood Reinforcement Learning" (arXiv 2602.02710): with
    0/1 rewards ``μ`` is the group's success rate ``p``, and dividing by it gives each
    prompt the ``1/p`` weight of maximum likelihood. Read from prime-rl's
    ``maxrl_advantage_fn`` (``src/prime_rl/orchestrator/advantage.py``, as in the
    joanvelja/prime-rl fork at commit 108f467; the PrimeIntellect-ai/prime-rl versions
    we could read have no MaxRL): ``r / μ.clamp_min(1e-8) − 1``, then 0 wherever
    ``μ ≤ 0`` (a group without success, or with a negative mean, gives no gradient).
    std: none; eps: ``μ`` is clamped to at least :data:`MAXRL_EPS` (1e-8), so a group
    whose mean is positive but below it gets ``r/1e-8 − 1``. Singleton group: ``μ = r``,
    so 0 (``r/r − 1``). Constant group: 0. Scale-invariant like GRPO's std:
    ``(c·r − c·μ)/(c·μ) = (r − μ)/μ``, so it keeps no reward magnitude.
    A mean below :data:`MAXRL_ROUNDING` (1e-6) of the group's spread counts as 0: it is
    rounding (``[0.1, 0.2, −0.3]`` sums to ±1e-17 by the order of its rows), which prime-rl,
    computing in float32, cannot tell from 0 either. On MaxRL's domain (rewards ≥ 0) the
    mean is at least the spread / n, so the rule never applies there.
    """
    with np.errstate(invalid="ignore"):
        spread = np.sqrt(g.m2 / np.maximum(g.n, 1))
    positive = g.mean > MAXRL_ROUNDING * spread
    floor = np.maximum(g.mean, MAXRL_EPS)
    scale = np.where(positive, 1.0 / floor, 0.0)
    return Affine(scale=scale, center=np.where(positive, floor, 0.0))


@register("gdpo", "GDPO", "GDPO", keeps="nowhere")
def gdpo(g: Groups, c: Conventions) -> Affine:
    """GDPO: each reward component GRPO-normalized within its group, the weighted sum
    ``Σ_k w_k (r_k − μ_k)/(σ_k + ε)`` then whitened over the iteration.

    Liu et al., "GDPO" (arXiv 2601.05242); verl ``compute_gdpo_outcome_advantage``
    (``masked_whiten``, token-weighted) and TRL ``multi_objective_aggregation=
    "normalize_then_sum"`` (``(R − mean)/(std + 1e-4)`` over the batch). With one reward
    column this is GRPO followed by the whitening (this function); with several, the
    analysis computes the sum per rollout in a second pass (:func:`gdpo_components`).
    ddof, eps and the singleton rule: GRPO's for the framework. grpoflaw computes in
    float64 and keeps exact numbers. verl computes GDPO in float32 even for float64
    rewards (each reward key cast to float32): the two agree to float32 rounding (1e-6 of
    the batch's scale) except in an iteration with a constant group whose float32 sum
    rounds (0.1, 0.7, 16.1; not 0, 0.5, 1) or a group whose spread is tiny against its
    mean. There verl's group gets ``±ulp/(ulp·√(n/(n−1)) + ε)`` instead of 0 (up to
    ±0.97 for large rewards), and its batch whitening moves every other rollout of the
    iteration by 1e-2 to 3e-1: the ``gdpo_float32_noise`` check flags those iterations
    with the expected sizes (:mod:`grpoflaw_cli.diagnostics.float32`).
    """
    a = finite_before_whitening(grpo(g, c))
    return whiten(g, a.scale, a.center, c)


def gdpo_components(
    g: Groups,
    c: Conventions,
    stats: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    weights: Sequence[float],
) -> RowVariable:
    """GDPO's per-rollout sum ``Σ_k w_k (r_k − μ_k)/(σ_k + ε)`` over several components.

    ``stats`` holds, per component, its column name and per-group (count, mean, m2) over
    the rollouts where it is present. A missing component counts as 0 in the sum unless
    every component is missing (TRL's ``nansum``; the rollout then has no value).
    """
    per_group: dict[str, np.ndarray] = {}
    terms = []
    for k, ((column, n, mean, m2), w) in enumerate(zip(stats, weights, strict=True)):
        a = finite_before_whitening(grpo(replace(g, n=n, mean=mean, m2=m2), c))
        per_group[f"s{k}"], per_group[f"c{k}"] = a.scale, a.center
        center, scale = (pl.col(group_column("gdpo_sum", f"{p}{k}")) for p in ("c", "s"))
        z = (pl.col(column).cast(pl.Float64).fill_nan(None) - center) * scale
        terms.append(z * w if w != 1.0 else z)
    missing = pl.all_horizontal(t.is_null() for t in terms)
    value = pl.when(missing).then(None).otherwise(pl.sum_horizontal(terms))
    return RowVariable(name="gdpo_sum", per_group=per_group, expr=value)
