"""verl's GDPO in float32: where its rounding reaches the advantages.

``gdpo_float32_noise``
    Under verl's conventions with ``gdpo`` computed: iterations where verl's float32
    arithmetic would give advantages grpoflaw's float64 does not. verl's
    ``compute_gdpo_outcome_advantage`` casts each reward key to float32 whatever its
    dtype, so a constant group whose float32 sum can round (0.1, 0.7, 16.1: any value
    whose significand is long; never 0, 0.5, 1 or 3) gets a mean an ulp ``u`` off its
    value, ``torch.std`` measures that offset, and every rollout of the group gets
    ``±u / (u·√(n/(n−1)) + ε)`` instead of 0: about 7e-3 for 0.1, 0.06 for 0.7, 0.63
    for 16.1, up to ±√((n−1)/n) for large rewards. A group whose spread is tiny against
    its mean loses precision the same way (``ulp(μ) / σ``). GDPO then whitens the whole
    iteration, so the offset moves its mean and variance and every other rollout's
    advantage with it. With several reward keys, each cast and normalized apart, a
    group's offset is the weighted sum of its keys' (their signs taken alike). info when a
    group's own advantages move by ``float32_noise`` (1e-2) or more; warning when the
    other rollouts move by ``float32_shift`` (1e-2), or every group of the iteration is
    such a group.

The sizes are estimates of one ulp (two happen: twice the size), with the sign that moves
the others most; whether a given group rounds depends on torch's summation order, so
the check names the groups that *can* (some of them come out exact in verl).

>>> import numpy as np
>>> can_round(np.array([0.1, 0.5, 3.0, 0.1]), np.array([8, 8, 8, 2]))
array([ True, False, False, False])
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from grpoflaw_cli.analysis import Analysis, GdpoParts
from grpoflaw_cli.diagnostics.flags import Flag, Severity, Thresholds, plain
from grpoflaw_cli.estimators import Affine, Conventions, whiten
from grpoflaw_cli.estimators import constant as constant_of
from grpoflaw_cli.formatting import count, num
from grpoflaw_cli.group_stats import Groups

SIGNIFICAND = 24
"""float32's significand bits: a sum of float32 values is exact while it fits."""

Setup = tuple[Groups, Affine, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]
"""What the check works on: the groups verl whitens over, the value before whitening,
each group's offset, the groups whose constant reward rounds, and each group's extremes."""

RISK_FLOOR = 1e-4
"""A group's float32 offset before whitening below which it is left out (too small to
matter, however many such groups add up)."""


def float32_ulp(values: np.ndarray) -> np.ndarray:
    """The spacing of float32 numbers at each value (0 at 0).

    >>> float32_ulp(np.array([0.1, 1.0, 16.1, 0.0])).tolist()
    [7.450580596923828e-09, 1.1920928955078125e-07, 1.9073486328125e-06, 0.0]
    """
    _, exponent = np.frexp(values.astype(np.float32))
    return np.where(values != 0, np.ldexp(1.0, exponent - SIGNIFICAND), 0.0)


def can_round(values: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per group of ``n`` copies of ``values``: whether some float32 summation order of them
    rounds. Every partial sum is ``j·x`` for a ``j ≤ n``; ``x = M·2^e`` (``M`` odd) times
    ``j`` is exact while the odd part of ``j`` times ``M`` fits in 24 bits, so the sums are
    all exact iff (the largest odd ``j ≤ n``)·``M`` < 2²⁴, and then the mean is ``x``."""
    mantissa, _ = np.frexp(values.astype(np.float32))
    whole = np.abs(np.ldexp(mantissa.astype(np.float64), SIGNIFICAND)).astype(np.int64)
    odd = whole // np.maximum(whole & -whole, 1)  # the significand without trailing zeros
    largest_odd = n - 1 + n % 2
    return np.asarray((whole > 0) & (n >= 2) & (largest_odd * odd >= 2**SIGNIFICAND))


def float32_offsets(g: Groups, constant: np.ndarray, eps: float) -> np.ndarray:
    """Each group's offset before whitening in verl's float32 GRPO step, one ulp's worth
    (0 where there is none, or it is below :data:`RISK_FLOOR`): ``u/(u·√(n/(n−1)) + ε)``
    for a constant group that can round, ``ulp(μ)/(σ + ε)`` for the others (σ with ddof 1,
    as ``torch.std``). Worked out on the candidates only: a large log has millions of
    groups, nearly all of them neither."""
    offset = np.zeros(g.size)
    flat = np.flatnonzero(constant & (g.n >= 2))
    flat = flat[can_round(g.mean[flat], g.n[flat])]
    u, nf = float32_ulp(g.mean[flat]), g.n[flat].astype(np.float64)
    offset[flat] = u / (u * np.sqrt(nf / (nf - 1.0)) + eps)
    # ulp(μ) ≤ |μ|·2⁻²³, so a group reaches the floor only if σ ≤ |μ|·2⁻²³ / RISK_FLOOR
    with np.errstate(invalid="ignore"):
        var = g.m2 / np.maximum(g.n - 1.0, 1.0)
        tight = np.flatnonzero(
            ~constant & (g.n >= 2) & (var * RISK_FLOOR**2 <= (g.mean * 2.0**-23) ** 2)
        )
    offset[tight] = float32_ulp(g.mean[tight]) / (np.sqrt(var[tight]) + eps)
    return np.where(offset >= RISK_FLOOR, offset, 0.0)


def moved(
    g: Groups,
    x: Affine,
    offset: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    conv: Conventions,
) -> np.ndarray:
    """Per group, how far verl's whitened advantages move from those of ``x`` (the value
    before whitening, over groups ``g``) when each group's value is off by ``offset``: the
    largest move of its rollouts, bounded at the group's extreme values (``bounds``, in
    reward units: the move is linear in the value), with the sign of the offsets that
    moves them most (both tried)."""
    base = whiten(g, x.scale, x.center, conv)
    worst = np.zeros(g.size)
    for sign in (1.0, -1.0):
        delta = np.where(offset > 0, sign * offset, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            off = whiten(g, x.scale, x.center - np.where(offset > 0, delta / x.scale, 0.0), conv)
        assert base.mult is not None and base.shift is not None
        assert off.mult is not None and off.shift is not None
        for r in bounds:
            value = x.scale * (r - x.center)
            before = g.broadcast(base.mult) * (value - g.broadcast(base.shift))
            after = g.broadcast(off.mult) * (value + delta - g.broadcast(off.shift))
            worst = np.maximum(worst, np.abs(np.nan_to_num(after - before)))
    return worst


def _one_reward(a: Analysis, gdpo: Affine) -> Setup:
    """GDPO on the reward itself: its groups, value before whitening, offsets, the groups
    whose constant value rounds, and each group's extreme rewards."""
    g, eps = a.stats, a.conventions.eps
    constant = a.groups["zero_variance"].to_numpy()
    offset = float32_offsets(g, constant, eps)
    flat = (offset > 0) & constant
    bounds = (a.groups["min"].to_numpy(), a.groups["max"].to_numpy())
    return g, replace(gdpo, shift=None, mult=None), offset, flat, bounds


def _components(a: Analysis, parts: GdpoParts) -> Setup:
    """GDPO over several reward keys, each cast to float32 apart: a group's offset is
    Σ_k |w_k|·offset_k (every key rounding the same way), on the weighted sum it whitens.
    The sum's rows lie within ``mean ± √m2`` of its group mean (its extremes)."""
    g, eps, total = a.stats, a.conventions.eps, parts.total
    offset = np.zeros(g.size)
    flat = np.zeros(g.size, dtype=bool)
    for (_, n, mean, m2), w in zip(parts.parts, parts.weights, strict=True):
        constant = (n >= 2) & (m2 == 0)
        part = float32_offsets(replace(g, n=n, mean=mean, m2=m2), constant, eps)
        offset += abs(w) * part
        flat |= constant & (part > 0)
    reach = np.sqrt(total.m2)
    x = Affine(scale=constant_of(g, 1.0), center=constant_of(g, 0.0))
    return total, x, offset, flat, (total.mean - reach, total.mean + reach)


def gdpo_float32_noise(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations where verl's float32 GDPO gives advantages grpoflaw's float64 does not."""
    if a.conventions.framework != "verl" or "gdpo" not in a.estimators:
        return []
    gdpo = a.coefficients["gdpo"]
    if gdpo.shift is None:
        return []
    if a.gdpo_parts is not None:
        g, x, offset, flat_mask, bounds = _components(a, a.gdpo_parts)
    elif gdpo.variable == "reward":
        g, x, offset, flat_mask, bounds = _one_reward(a, gdpo)
    else:
        return []
    if not offset.any():
        return []
    worst = moved(g, x, offset, bounds, a.conventions)
    at_risk = offset > 0
    own = _per_step_max(g, np.where(at_risk, worst, 0.0))
    others = _per_step_max(g, np.where(at_risk, 0.0, worst))
    groups = np.bincount(g.step_index[at_risk], minlength=g.n_steps)
    flat = np.bincount(g.step_index[flat_mask], minlength=g.n_steps)
    rest = np.bincount(g.step_index[~at_risk], minlength=g.n_steps)
    steps = a.iterations["step"].to_list()
    return [
        _flag(steps[s], int(groups[s]), int(flat[s]), int(rest[s]), own[s], others[s], t)
        for s in np.flatnonzero(own >= t.float32_noise)
    ]


def _flag(
    step: object, groups: int, flat: int, rest: int, own: float, others: float, t: Thresholds
) -> Flag:
    """One iteration's flag: ``groups`` at risk (``flat`` of them constant), ``rest`` not."""
    which = (
        f"{count(groups, 'group')} ({num(flat)} with a reward constant at a value whose "
        "float32 sum can round)"
    )
    if rest:
        effect = (
            f"{which} would get advantages off by about {num(own)}, and its batch whitening "
            f"would move every other rollout's by up to {num(others)}"
        )
        serious = others >= t.float32_shift
    else:  # the whole iteration is rounding noise, whitened
        effect = f"every group, {which}, would get advantages off by about {num(own)}"
        serious = own >= t.float32_shift
    return Flag(
        code="gdpo_float32_noise",
        severity=Severity.WARNING if serious else Severity.INFO,
        step=plain(step),
        wording=f"verl computes GDPO in float32: {effect}; grpoflaw's are exact",
        evidence={
            "groups": groups,
            "constant_groups": flat,
            "own_error": float(own),
            "others_shift": float(others),
        },
        score=float(own),
    )


def _per_step_max(g: Groups, values: np.ndarray) -> np.ndarray:
    return g.steps.reduce(np.fmax, values, 0.0)
