"""Numerical conventions: whose ddof, epsilon, clip and singleton rules apply.

The frameworks disagree on the std denominator, the epsilon added to it, what a
one-rollout group gets and how a batch is whitened. :class:`Conventions` holds one
framework's choices; the helpers here compute the stds and singleton rules with them.

>>> Conventions.of("openrlhf").describe()
'openrlhf conventions: std ddof=1 (unbiased), eps=1e-09, clip [-10, 10]'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from grpoflaw_cli.errors import UsageError, option

if TYPE_CHECKING:
    from grpoflaw_cli.group_stats import Groups

VERL_WHITEN_EPS = 1e-8
"""``verl.utils.torch_functional.masked_whiten``: ``rsqrt(var + 1e-8)``."""
OPENRLHF_VAR_FLOOR = 1e-8
"""OpenRLHF's batch whitening: ``rsqrt(clamp(var, min=1e-8))`` (a floor, not an addend)."""


Framework = Literal["verl", "trl", "openrlhf"]
FRAMEWORKS: tuple[Framework, ...] = get_args(Framework)


@dataclass(frozen=True)
class Conventions:
    """Numerical conventions shared by the estimators.

    ``framework``: whose rules apply where the frameworks disagree: one-rollout groups
    (each estimator's docstring lists them) and batch whitening
    (:func:`~grpoflaw_cli.estimators.whitening.whiten`).

    ``ddof``: the std denominator ``n - ddof`` (1 = unbiased, as ``torch.std`` in verl,
    TRL and OpenRLHF; 0 = population, as in the DeepSeekMath formula and the blog post).
    ``eps``: added to the std before dividing (verl 1e-6, TRL 1e-4, OpenRLHF 1e-9).
    ``whiten_eps``: inside the rsqrt of batch whitening (verl ``masked_whiten``: 1e-8).
    ``bessel_float32``: round the Bessel factor ``n/(n-1)`` to float32 before applying it,
    as TRL's ``nanstd`` does (``trl/trainer/utils.py``: an integer count divided by an
    integer count gives a float32 tensor even when the rewards are float64). Changes
    advantages by ~1e-8 relative; on in ``Conventions.of("trl")``. (verl's batch whitening
    rounds its token-count Bessel factor the same way, always:
    :func:`~grpoflaw_cli.estimators.whitening.verl_whiten`.)
    """

    ddof: int = 1
    eps: float = 1e-6
    whiten_eps: float = VERL_WHITEN_EPS
    bessel_float32: bool = False
    framework: Framework = "verl"
    clip: tuple[float, float] | None = None
    """Clamp each rollout's shaped value (after the baseline and any std division, before
    batch whitening) to this range: OpenRLHF's ``reward.clip_range``, default (-10, 10)."""
    trainer: str | None = None
    """The trainer whose ddof and eps these are, when it is not one of the frameworks
    (open-instruct, NeMo-RL, ...): its rules elsewhere are the framework's."""

    @classmethod
    def of(
        cls,
        framework: Framework,
        ddof: int | None = None,
        eps: float | None = None,
        clip: tuple[float, float] | Literal["default"] | None = "default",
    ) -> Conventions:
        """A framework's own conventions, with optional ddof/eps/clip overrides.

        >>> Conventions.of("trl").describe()
        'trl conventions: std ddof=1 (unbiased), eps=0.0001'
        """
        defaults = {
            "verl": cls(ddof=1, eps=1e-6, framework="verl"),
            "trl": cls(ddof=1, eps=1e-4, bessel_float32=True, framework="trl"),
            "openrlhf": cls(ddof=1, eps=1e-9, framework="openrlhf", clip=(-10.0, 10.0)),
        }
        if framework not in defaults:
            raise UsageError(
                f"unknown {option('framework')} {framework!r}; choose from {', '.join(defaults)}"
            )
        base = defaults[framework]
        return replace(
            base,
            ddof=base.ddof if ddof is None else ddof,
            eps=base.eps if eps is None else eps,
            clip=base.clip if clip == "default" else clip,
        )

    def __post_init__(self) -> None:
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise UsageError(f"{option('clip')} needs low < high, got {self.clip}")
        if self.ddof not in (0, 1):
            raise UsageError(f"{option('ddof')} must be 0 or 1, got {self.ddof}")
        if not (self.eps >= 0 and np.isfinite(self.eps)):
            raise UsageError(f"{option('eps')} must be a finite number >= 0, got {self.eps}")

    def describe(self) -> str:
        """One line for output headers."""
        kind = "unbiased" if self.ddof == 1 else "population"
        clip = f", clip [{self.clip[0]:g}, {self.clip[1]:g}]" if self.clip else ""
        whose = f"{self.framework} conventions"
        if self.trainer:
            whose = f"{self.trainer} conventions ({self.framework}'s rules where it has none)"
        return f"{whose}: std ddof={self.ddof} ({kind}), eps={self.eps:g}{clip}"


def variance(ss: np.ndarray, count: np.ndarray, ddof: int, bessel_float32: bool) -> np.ndarray:
    """ss / (count − ddof), or TRL's (ss / count) · float32(count / (count − 1)) for ddof 1.

    NaN where ``count − ddof < 1``.
    """
    count = count.astype(np.float64)
    ok = count - ddof >= 1
    safe = np.where(ok, count, 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if bessel_float32 and ddof == 1:
            factor = (safe / (safe - 1.0)).astype(np.float32).astype(np.float64)
            var = ss / safe * factor
        else:
            var = ss / (safe - ddof)
    return np.where(ok, var, np.nan)


def group_std(g: Groups, c: Conventions) -> np.ndarray:
    """σ_g = sqrt(m2 / (n − ddof)); NaN where ``n − ddof < 1``."""
    return np.asarray(np.sqrt(variance(g.m2, g.n, c.ddof, c.bessel_float32)))


def step_std(g: Groups, c: Conventions) -> np.ndarray:
    """Std of all rewards of each iteration (the batch std), with ``ddof``.

    Exact decomposition: Σ(r − μ_s)² = Σ_g [m2_g + n_g (μ_g − μ_s)²]. Zero for a
    one-rollout iteration (TRL's ``nanstd`` convention for N == 1 is NaN → 0 after
    ``nan_to_num``; the advantages are 0 either way because r = μ_g there).
    """
    nf = g.n.astype(np.float64)
    total = g.per_step(nf)
    mu = g.per_step(nf * g.mean) / np.maximum(total, 1.0)
    ss = g.per_step(g.m2 + nf * (g.mean - g.broadcast(mu)) ** 2)
    return np.asarray(
        np.nan_to_num(np.sqrt(variance(ss, total, c.ddof, c.bessel_float32)), nan=0.0)
    )


def singleton_denominator(eps: float) -> float:
    """verl's stand-in std for a one-rollout group, ``1.0 + eps``, rounded as verl rounds it.

    verl sets ``std = torch.tensor(1.0)`` (float32) and adds ``eps`` before dividing, so
    even on float64 input the sum is float32: ``1 + 1e-6`` becomes ``1 + 2**-20``.
    """
    return float(np.float32(1.0) + np.float32(eps))


def where_single(single: np.ndarray, value: float, other: np.ndarray) -> np.ndarray:
    """``other`` with ``value`` for one-rollout groups; ``other`` itself (no copy) when the
    log has none, the usual case, which keeps large logs' memory down."""
    return np.where(single, value, other) if single.any() else other


def singleton_rule(
    g: Groups, c: Conventions, verl: float, trl: float, openrlhf: float
) -> np.ndarray:
    """Per group: the framework's value for one-rollout groups, NaN elsewhere (a marker)."""
    value = {"verl": verl, "trl": trl, "openrlhf": openrlhf}[c.framework]
    return np.where(g.n == 1, value, np.nan)
