"""Batch whitening: an affine map of ``x`` normalized over each iteration, by framework.

The frameworks whiten differently: verl token-weighted with a Bessel correction on the
token count (:func:`verl_whiten`), OpenRLHF token-weighted with the population variance
(:func:`population_whiten`), TRL over rollouts with ``nanstd`` (:func:`trl_normalize`).
:func:`whiten` picks the conventions' one. All work from the groups' statistics, without
a pass over the rollouts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from grpoflaw_cli.estimators.affine import Affine
from grpoflaw_cli.estimators.conventions import OPENRLHF_VAR_FLOOR, Conventions, variance

if TYPE_CHECKING:
    from grpoflaw_cli.group_stats import Groups


def _token_moments(
    g: Groups, x_scale: np.ndarray, x_center: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per iteration, for ``x = x_scale·(r − x_center)`` with token weights ``L``: the
    total weight ``Σ L``, the weighted mean ``mu`` and ``Σ L (x − mu)²``, from the groups'
    centered sums (exact decomposition, no per-rollout pass)."""
    d = x_scale * (g.mean - x_center)  # mean of x over each group
    wsum = g.per_step(g.len_sum)
    sx = g.per_step(x_scale * g.len_d1 + d * g.len_sum)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(wsum > 0, sx / wsum, 0.0)
    off = d - g.broadcast(mu)
    ss = g.per_step(
        x_scale * x_scale * g.len_d2 + 2.0 * x_scale * off * g.len_d1 + off * off * g.len_sum
    )
    return wsum, mu, ss


def verl_whiten(g: Groups, x_scale: np.ndarray, x_center: np.ndarray, eps: float) -> Affine:
    """Token-weighted batch whitening of ``x = x_scale·(r − x_center)`` per iteration.

    Follows ``verl/utils/torch_functional.py::masked_whiten`` on an outcome reward that is
    constant over a rollout's ``L`` valid tokens, as it actually evaluates::

        mu  = Σ L x / Σ L
        var = Σ L (x − mu)² / Σ L · float32(Σ L / (Σ L − 1))    # Bessel on the token count
        A   = (x − mu) · rsqrt(var + eps)

    The source reads ``Σm + 1e-8`` in both denominators, but the mask is an integer tensor,
    so ``Σm + 1e-8`` and ``Σm / (Σm − 1)`` are float32 values: the ``1e-8`` rounds away and
    the Bessel factor is float32-rounded even on float64 rewards. This reproduces verl's
    float64 reference vectors to ~1e-16; the textbook formula is off by ~5e-9.

    Without response lengths every rollout weighs 1 token. An iteration of a single token
    has no spread (verl raises); its advantages are 0 here.
    """
    wsum, mu, ss = _token_moments(g, x_scale, x_center)
    var = variance(ss, wsum, 1, bessel_float32=True)
    with np.errstate(invalid="ignore"):
        mult = np.where(wsum > 1.0, 1.0 / np.sqrt(var + eps), 0.0)
    return Affine(scale=x_scale, center=x_center, shift=mu, mult=mult)


def population_whiten(g: Groups, x_scale: np.ndarray, x_center: np.ndarray) -> Affine:
    """OpenRLHF's batch whitening (``experience_maker.py``, step 6 of
    ``compute_advantages_and_returns``): token-weighted mean, **population** variance, and
    ``rsqrt(clamp(var, min=1e-8))``::

        mu = Σ L x / Σ L ;  var = Σ L (x − mu)² / Σ L ;  A = (x − mu) / sqrt(max(var, 1e-8))

    OpenRLHF runs this in float32 even for float64 rewards; grpoflaw stays in float64, so
    it matches OpenRLHF to float32 rounding (~3e-7 relative on the reference vectors).
    """
    wsum, mu, ss = _token_moments(g, x_scale, x_center)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(wsum > 0, ss / wsum, 0.0)
    return Affine(
        scale=x_scale,
        center=x_center,
        shift=mu,
        mult=1.0 / np.sqrt(np.maximum(var, OPENRLHF_VAR_FLOOR)),
    )


def trl_normalize(g: Groups, x_scale: np.ndarray, x_center: np.ndarray, c: Conventions) -> Affine:
    """TRL's batch normalization (``RLOOTrainer`` with ``normalize_advantages=True``):
    ``A = (x − mean) / (std + eps)`` over the iteration's rollouts (one weight each, not
    tokens), std with TRL's ``nanstd`` (ddof 1, float32 Bessel factor).
    """
    nf = g.n.astype(np.float64)
    d = x_scale * (g.mean - x_center)
    total = g.per_step(nf)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(total > 0, g.per_step(nf * d) / total, 0.0)
    off = d - g.broadcast(mu)
    ss = g.per_step(x_scale * x_scale * g.m2 + nf * off * off)
    std = np.nan_to_num(np.sqrt(variance(ss, total, c.ddof, c.bessel_float32)), nan=0.0)
    return Affine(scale=x_scale, center=x_center, shift=mu, mult=1.0 / (std + c.eps))


def whiten(g: Groups, x_scale: np.ndarray, x_center: np.ndarray, c: Conventions) -> Affine:
    """Batch-whiten ``x = x_scale·(r − x_center)`` over each iteration, by the framework's
    rule: verl :func:`verl_whiten`, OpenRLHF :func:`population_whiten`, TRL
    :func:`trl_normalize`.
    """
    if c.framework == "openrlhf":
        return population_whiten(g, x_scale, x_center)
    if c.framework == "trl":
        return trl_normalize(g, x_scale, x_center, c)
    return verl_whiten(g, x_scale, x_center, c.whiten_eps)


def finite_before_whitening(a: Affine) -> Affine:
    """``a`` with its NaN scales (OpenRLHF's one-rollout rule) as 0, so that a one-rollout
    group contributes 0 (TRL's rule) instead of voiding its iteration's whitening. For
    GDPO, which OpenRLHF does not have, and RLOO's batch normalization."""
    return replace(a, scale=np.nan_to_num(a.scale, nan=0.0))
