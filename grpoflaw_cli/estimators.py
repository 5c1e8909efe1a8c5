"""Advantage estimators: a registry of pure functions over per-group statistics.

Every estimator here is, for rollout ``i`` of group ``g`` in iteration ``s``,

    A_i = mult_s · ( scale_g · (r_i − center_g) − shift_s )

a per-group affine map of the reward, optionally followed by an affine whitening over
the iteration (``shift_s``/``mult_s``; identity for the group-only estimators). Each
registered function returns that :class:`Affine` from :class:`~grpoflaw_cli.groupstats.Groups`
and :class:`Conventions`. Per-rollout advantages (:func:`apply`) and per-group moments
(:func:`group_moments`) both follow from it, so the formula lives in one place.

Notation: ``n`` group size, ``μ`` group mean, ``σ`` group std with ``ddof`` from the
conventions, ``ε`` the conventions' epsilon, ``L`` response length in tokens.

>>> import numpy as np
>>> from grpoflaw_cli.groupstats import Groups
>>> g = Groups(step_index=np.array([0]), n_steps=1, n=np.array([7]), mean=np.array([0.0]),
...            m2=np.array([6.0]), n_nonzero=np.array([6]), len_sum=np.array([7.0]),
...            len_d1=np.array([0.0]), len_d2=np.array([6.0]), has_length=False)
>>> coef = REGISTRY["grpo"].fn(g, Conventions(ddof=0, eps=0.0))
>>> round(float(coef.scale[0]), 4)        # 1/σ with σ = sqrt(6/7)
1.0801
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import polars as pl

from grpoflaw_cli.groupstats import Extremes, Groups

VERL_WHITEN_EPS = 1e-8
"""``verl.utils.torch_functional.masked_whiten``: ``rsqrt(var + 1e-8)``."""


Framework = Literal["verl", "trl", "openrlhf"]
FRAMEWORKS: tuple[Framework, ...] = ("verl", "trl", "openrlhf")


@dataclass(frozen=True)
class Conventions:
    """Numerical conventions shared by the estimators.

    ``framework``: whose rules apply where the frameworks disagree: one-rollout groups
    (each estimator's docstring lists them) and batch whitening (:func:`whiten`).

    ``ddof``: the std denominator ``n - ddof`` (1 = unbiased, as ``torch.std`` in verl,
    TRL and OpenRLHF; 0 = population, as in the DeepSeekMath formula and the blog post).
    ``eps``: added to the std before dividing (verl 1e-6, TRL 1e-4, OpenRLHF 1e-9).
    ``whiten_eps``: inside the rsqrt of batch whitening (verl ``masked_whiten``: 1e-8).
    ``bessel_float32``: round the Bessel factor ``n/(n-1)`` to float32 before applying it,
    as TRL's ``nanstd`` does (``trl/trainer/utils.py``: an integer count divided by an
    integer count gives a float32 tensor even when the rewards are float64). Changes
    advantages by ~1e-8 relative; on in ``Conventions.of("trl")``. (verl's batch whitening
    rounds its token-count Bessel factor the same way, always: :func:`verl_whiten`.)
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
            raise ValueError(f"unknown framework {framework!r}; choose from {', '.join(defaults)}")
        base = defaults[framework]
        return replace(
            base,
            ddof=base.ddof if ddof is None else ddof,
            eps=base.eps if eps is None else eps,
            clip=base.clip if clip == "default" else clip,
        )

    def __post_init__(self) -> None:
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise ValueError(f"clip needs low < high, got {self.clip}")
        if self.ddof not in (0, 1):
            raise ValueError(f"ddof must be 0 or 1, got {self.ddof}")
        if not (self.eps >= 0 and np.isfinite(self.eps)):
            raise ValueError(f"eps must be a finite number >= 0, got {self.eps}")

    def describe(self) -> str:
        """One line for output headers."""
        kind = "unbiased" if self.ddof == 1 else "population"
        clip = f", clip [{self.clip[0]:g}, {self.clip[1]:g}]" if self.clip else ""
        whose = f"{self.framework} conventions"
        if self.trainer:
            whose = f"{self.trainer} conventions ({self.framework}'s rules where it has none)"
        return f"{whose}: std ddof={self.ddof} ({kind}), eps={self.eps:g}{clip}"


@dataclass(frozen=True)
class Affine:
    """``A = mult[step] · (scale[g] · (x − center[g]) − shift[step])``.

    ``x`` is the reward, with ``variable="gap"`` the reward minus its baseline (ReMax's
    greedy-rollout reward), or a per-rollout value computed in a second pass
    (:class:`RowVariable`: clipped values, GDPO's per-component sum).
    """

    scale: np.ndarray
    center: np.ndarray
    shift: np.ndarray | None = None
    mult: np.ndarray | None = None
    variable: str = "reward"
    """``reward``, ``gap`` (reward − baseline) or the name of a :class:`RowVariable`."""


EstimatorFn = Callable[[Groups, Conventions], Affine]


@dataclass(frozen=True)
class RowVariable:
    """A per-rollout value that group statistics cannot give: computed row by row in a
    second streaming pass, then summarised per group like the reward.

    ``per_group`` arrays are joined onto the rows (as :func:`group_column`); ``expr`` builds
    the value from the canonical columns and those. A ``centre`` among them (a value near
    each group's mean of the variable) is what its token-weighted sums are taken about, so
    that they do not cancel when the variable sits far from zero.
    """

    name: str
    per_group: dict[str, np.ndarray]
    expr: pl.Expr

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The per-group numbers under the names ``expr`` reads them by."""
        return {group_column(self.name, key): arr for key, arr in self.per_group.items()}


def group_column(variable: str, key: str) -> str:
    """The column a row variable's per-group number ``key`` is joined onto the rows as.

    >>> group_column("grpo_loo", "mean")
    '__grpo_loo_mean'
    """
    return f"__{variable}_{key}"


def clipped(name: str, a: Affine, bounds: tuple[float, float], x_mean: np.ndarray) -> RowVariable:
    """OpenRLHF's clamp of the shaped value ``scale·(x − center)`` to ``bounds``
    (``x_mean``: each group's mean of ``x``, whose shaped value is the sums' centre)."""
    x = pl.col("reward") - pl.col("baseline") if a.variable == "gap" else pl.col("reward")
    shaped = pl.col(group_column(name, "scale")) * (x - pl.col(group_column(name, "center")))
    with np.errstate(invalid="ignore"):
        centre = np.clip(np.nan_to_num(a.scale * (x_mean - a.center)), bounds[0], bounds[1])
    return RowVariable(
        name=name,
        per_group={"scale": a.scale, "center": a.center, "centre": centre},
        expr=shaped.clip(bounds[0], bounds[1]),
    )


@dataclass(frozen=True)
class Estimator:
    """A registered estimator: its function and what it does to reward magnitude."""

    name: str
    title: str
    short: str
    """Column header in narrow terminal tables."""
    fn: EstimatorFn
    keeps: str
    """Where reward magnitude survives: "groups and iterations", "within an iteration" or
    "nowhere"."""
    requires: tuple[str, ...] = ()
    """Canonical columns it needs beyond step, group and reward (``length``, ``baseline``)."""
    by_default: bool = True
    """Computed when no estimators are chosen. Off for a framework's variants of another
    estimator and for those that need a second pass over the rows: they run on request
    (``--estimators``, ``all``) or for the trainer whose default they are."""
    row_variable: Callable[[Groups, Conventions], RowVariable] | None = None
    """For an estimator that is no affine map of the reward: its per-rollout value, which
    ``fn``'s :class:`Affine` then maps (an identity, for the value *is* the advantage)."""


REGISTRY: dict[str, Estimator] = {}

NEEDS = {
    "length": "needs response lengths (--length-col)",
    "baseline": "needs the greedy rollout's reward (--baseline-col)",
}
ON_DEMAND = ("extremes",)
"""Inputs no log lacks: group statistics the pass gathers only for estimators that
require them (they cost several times the plain aggregation)."""


def register(
    name: str,
    title: str,
    short: str,
    keeps: str,
    requires: tuple[str, ...] = (),
    row_variable: Callable[[Groups, Conventions], RowVariable] | None = None,
    by_default: bool | None = None,
) -> Callable[[EstimatorFn], EstimatorFn]:
    """Add an estimator to :data:`REGISTRY` under ``name`` (:attr:`Estimator.by_default`
    unless it needs a ``row_variable``)."""

    def deco(fn: EstimatorFn) -> EstimatorFn:
        if name in REGISTRY:
            raise ValueError(f"estimator {name!r} registered twice")
        REGISTRY[name] = Estimator(
            name=name,
            title=title,
            short=short,
            fn=fn,
            keeps=keeps,
            requires=requires,
            by_default=row_variable is None if by_default is None else by_default,
            row_variable=row_variable,
        )
        return fn

    return deco


def defaults() -> list[str]:
    """The estimators computed when none are chosen.

    >>> "grpo" in defaults() and "grpo_loo" not in defaults()
    True
    """
    return [name for name, est in REGISTRY.items() if est.by_default]


def applicable(names: list[str], have: set[str]) -> tuple[list[str], dict[str, str]]:
    """Split ``names`` into those the log has the inputs for, and the others with a reason.

    >>> applicable(["grpo", "opo"], set())
    (['grpo'], {'opo': 'needs response lengths (--length-col)'})
    """
    kept: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        missing = [r for r in REGISTRY[name].requires if r not in (*have, *ON_DEMAND)]
        if missing:
            skipped[name] = "; ".join(NEEDS[m] for m in missing)
        else:
            kept.append(name)
    return kept, skipped


def resolve(names: str | None) -> list[str]:
    """Parse ``--estimators a,b``; ``None`` selects :func:`defaults`, ``"all"`` every
    registered one.

    >>> resolve("grpo, rloo")
    ['grpo', 'rloo']
    """
    if names is None:
        return defaults()
    if names.strip() == "all":
        return list(REGISTRY)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    if not chosen:
        raise KeyError("no estimator chosen; choose from: all, " + ", ".join(REGISTRY))
    unknown = [n for n in chosen if n not in REGISTRY]
    if unknown:
        raise KeyError(
            f"unknown estimator {', '.join(map(repr, unknown))}; choose from: "
            + ", ".join(REGISTRY)
        )
    return list(dict.fromkeys(chosen))


# --------------------------------------------------------------------------- helpers


def _variance(ss: np.ndarray, count: np.ndarray, ddof: int, bessel_float32: bool) -> np.ndarray:
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
    return np.asarray(np.sqrt(_variance(g.m2, g.n, c.ddof, c.bessel_float32)))


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
        np.nan_to_num(np.sqrt(_variance(ss, total, c.ddof, c.bessel_float32)), nan=0.0)
    )


def singleton_denominator(eps: float) -> float:
    """verl's stand-in std for a one-rollout group, ``1.0 + eps``, rounded as verl rounds it.

    verl sets ``std = torch.tensor(1.0)`` (float32) and adds ``eps`` before dividing, so
    even on float64 input the sum is float32: ``1 + 1e-6`` becomes ``1 + 2**-20``.
    """
    return float(np.float32(1.0) + np.float32(eps))


def _token_moments(
    g: Groups, x_scale: np.ndarray, x_center: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per iteration, for ``x = x_scale·(r − x_center)`` with token weights ``L``: the
    total weight ``Σ L``, the weighted mean ``mu`` and ``Σ L (x − mu)²``, from the groups'
    centred sums (exact decomposition, no per-rollout pass)."""
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
    var = _variance(ss, wsum, 1, bessel_float32=True)
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
        scale=x_scale, center=x_center, shift=mu, mult=1.0 / np.sqrt(np.maximum(var, 1e-8))
    )


def trl_normalize(g: Groups, x_scale: np.ndarray, x_center: np.ndarray, c: Conventions) -> Affine:
    """TRL's batch normalisation (``RLOOTrainer`` with ``normalize_advantages=True``):
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
    std = np.nan_to_num(np.sqrt(_variance(ss, total, c.ddof, c.bessel_float32)), nan=0.0)
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


def constant(g: Groups, value: float) -> np.ndarray:
    """A per-group array holding one value, as a read-only view (no memory per group)."""
    return np.broadcast_to(np.float64(value), (g.size,))


def identity(g: Groups, variable: str = "reward") -> Affine:
    """``A = x``: the advantage is the variable itself (the reward minus its baseline for
    ReMax, a second-pass row value such as ``grpo_loo``'s)."""
    return Affine(scale=constant(g, 1.0), center=constant(g, 0.0), variable=variable)


def where_single(single: np.ndarray, value: float, other: np.ndarray) -> np.ndarray:
    """``other`` with ``value`` for one-rollout groups; ``other`` itself (no copy) when the
    log has none, the usual case, which keeps large logs' memory down."""
    return np.where(single, value, other) if single.any() else other


def _singleton(g: Groups, c: Conventions, verl: float, trl: float, openrlhf: float) -> np.ndarray:
    """Per group: the framework's value for one-rollout groups, NaN elsewhere (a marker)."""
    value = {"verl": verl, "trl": trl, "openrlhf": openrlhf}[c.framework]
    return np.where(g.n == 1, value, np.nan)


# --------------------------------------------------------------------------- estimators


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
    rule = _singleton(g, c, verl=np.nan, trl=0.0, openrlhf=np.nan)
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
        scale = np.where(single, _singleton(g, c, verl=1.0, trl=0.0, openrlhf=np.nan), scale)
        return Affine(scale=scale, center=g.mean)
    return Affine(scale=scale, center=where_single(single, 0.0, g.mean))


@register("reinforce_pp", "REINFORCE++", "R++", keeps="within an iteration")
def reinforce_pp(g: Groups, c: Conventions) -> Affine:
    """REINFORCE++: the reward whitened over the iteration, ``A = (r − m) / sqrt(v + 1e-8)``.

    Hu, "REINFORCE++" (arXiv 2501.03262); verl
    ``compute_reinforce_plus_plus_outcome_advantage`` with γ = 1 (every valid token of a
    rollout has the outcome reward) followed by ``masked_whiten``: ``m`` and ``v`` are
    token-weighted by response length when the log has one, with a Bessel correction on
    the token count (:func:`verl_whiten`). OpenRLHF ``reinforce``: population variance
    (:func:`population_whiten`). TRL has no REINFORCE++: its RLOO normalisation is used
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
    (``--baseline-col``). No group statistics, so no singleton rule.
    """
    return identity(g, "gap")


# --------------------------------------------------------------- framework variants


@register(
    "rloo_norm", "RLOO, batch-normalised", "RLOO-n", keeps="within an iteration", by_default=False
)
def rloo_norm(g: Groups, c: Conventions) -> Affine:
    """RLOO, then normalised over the iteration: ``A = (x − mean) / (std + ε)`` with
    ``x = r − mean of the others``.

    TRL ``trl/trainer/rloo_trainer.py`` with ``normalize_advantages=True``: mean and
    ``nanstd`` (ddof 1, float32 Bessel factor) over the batch's rollouts, eps 1e-4
    (:func:`trl_normalize`). Under verl or OpenRLHF conventions the iteration's
    whitening is theirs (:func:`whiten`). Singleton group: RLOO's rule for the framework,
    a NaN counted as 0 so it cannot void the iteration; under TRL a group with a single
    scorable rollout has a 0/0 baseline, so its NaN is left out of the batch's mean and
    std and becomes 0 only afterwards (TRL's final ``nan_to_num``).
    """
    a = _finite(rloo(g, c))
    if c.framework != "trl":
        return whiten(g, a.scale, a.center, c)
    lone = g.n == 1
    counted = replace(g, n=np.where(lone, 0, g.n), m2=np.where(lone, 0.0, g.m2))
    normalised = whiten(counted, a.scale, a.center, c)
    return replace(normalised, scale=np.where(lone, np.nan, normalised.scale))


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


@register("gdpo", "GDPO", "GDPO", keeps="nowhere")
def gdpo(g: Groups, c: Conventions) -> Affine:
    """GDPO: each reward component GRPO-normalised within its group, the weighted sum
    ``Σ_k w_k (r_k − μ_k)/(σ_k + ε)`` then whitened over the iteration.

    Liu et al., "GDPO" (arXiv 2601.05242); verl ``compute_gdpo_outcome_advantage``
    (``masked_whiten``, token-weighted) and TRL ``multi_objective_aggregation=
    "normalize_then_sum"`` (``(R − mean)/(std + 1e-4)`` over the batch). With one reward
    column this is GRPO followed by the whitening (this function); with several, the
    analysis computes the sum per rollout in a second pass (:func:`gdpo_components`).
    ddof, eps and the singleton rule: GRPO's for the framework. verl computes GDPO in
    float32 even for float64 rewards; grpoflaw in float64 (≈1e-7 apart, and verl's float32
    noise on constant non-dyadic groups is whitened up to O(1), which is not reproduced).
    """
    a = _finite(grpo(g, c))
    return whiten(g, a.scale, a.center, c)


def _passk_values(name: str, normalised: bool) -> Callable[[Groups, Conventions], RowVariable]:
    """The per-rollout value of a pass@k estimator: the group's best rollout (if unique)
    gets its lead over the runner-up, optionally divided by ``σ + ε``; the others 0."""

    def values(g: Groups, c: Conventions) -> RowVariable:
        x = _extremes(g, name)
        top, n_top, below = x.top, x.n_top, x.below_top
        if normalised:
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
    row_variable=_passk_values("grpo_passk", normalised=True),
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
    row_variable=_passk_values("grpo_passk_nostd", normalised=False),
)
def grpo_passk_nostd(g: Groups, c: Conventions) -> Affine:
    """GRPO for pass@k without the std division: ``A = r_max − r_2nd`` for the group's
    best rollout, 0 for the others (a tie at the top: 0 for all).

    verl ``compute_grpo_passk_outcome_advantage`` with ``norm_adv_by_std_in_grpo=False``.
    std, eps: not used. Singleton group: verl raises; 0 here. Constant group: 0.
    """
    return identity(g, "grpo_passk_nostd")


def _finite(a: Affine) -> Affine:
    """GDPO is not an OpenRLHF estimator: its NaN one-rollout rule for GRPO would void the
    whole iteration's whitening, so such a group contributes 0 instead (TRL's rule)."""
    return replace(a, scale=np.nan_to_num(a.scale, nan=0.0))


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
        a = _finite(grpo(replace(g, n=n, mean=mean, m2=m2), c))
        per_group[f"s{k}"], per_group[f"c{k}"] = a.scale, a.center
        center, scale = (pl.col(group_column("gdpo_sum", f"{p}{k}")) for p in ("c", "s"))
        z = (pl.col(column).cast(pl.Float64).fill_nan(None) - center) * scale
        terms.append(z * w if w != 1.0 else z)
    missing = pl.all_horizontal(t.is_null() for t in terms)
    value = pl.when(missing).then(None).otherwise(pl.sum_horizontal(terms))
    return RowVariable(name="gdpo_sum", per_group=per_group, expr=value)


def _extremes(g: Groups, name: str) -> Extremes:
    if g.extremes is None:
        raise ValueError(f"{name} needs the groups' extremes (group_stats_query(extremes=True))")
    return g.extremes


def loo_values(g: Groups, c: Conventions) -> RowVariable:
    """The per-rollout value of :func:`grpo_loo`: the mean and Σ(r − mean)² of the others,
    from the group's by exact identities::

        d = r − μ ;  mean(others) = μ − d/(n−1) ;
        Σ_others (r_j − mean(others))² = m2 − n/(n−1)·d²

    except for a group's lone maximum or minimum, whose removal can take nearly all of
    ``m2`` (the identity would then cancel to rounding noise): those use the others'
    statistics taken without it (:class:`~grpoflaw_cli.groupstats.Extremes`). Every other
    rollout's others include both a maximum and a minimum, so their spread is no residue.
    """
    x = _extremes(g, "grpo_loo")

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
    ``--eps 0``), the conventions' ``eps`` here. std: ddof 1 over the n − 1 others, so a
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


# --------------------------------------------------------------------------- application


def group_moments(g: Groups, a: Affine) -> tuple[np.ndarray, np.ndarray]:
    """Per-group ``Σ A`` and ``Σ A²`` over the rollouts, without touching them.

    With ``d = scale·(μ − center) − shift``: ``A_i = mult·(scale·(r_i − μ) + d)``, so
    ``Σ A = mult·n·d`` and ``Σ A² = mult²·(scale²·m2 + n·d²)``.
    """
    nf = g.n.astype(np.float64)
    mean, m2 = (g.gap_mean, g.gap_m2) if a.variable == "gap" else (g.mean, g.m2)
    assert mean is not None and m2 is not None
    d = mean - a.center
    d *= a.scale
    if a.shift is not None:
        d -= g.broadcast(a.shift)
    sum_sq = a.scale * a.scale
    sum_sq *= m2
    sum_sq += nf * d * d
    total = nf * d
    if a.mult is not None:
        mult = g.broadcast(a.mult)
        total *= mult
        sum_sq *= mult * mult
    return total, sum_sq


def evaluate(var: RowVariable, reward: np.ndarray, group_index: np.ndarray) -> np.ndarray:
    """A row variable's per-rollout values, for rewards already in memory.

    >>> w = pl.col(group_column("twice", "w"))
    >>> twice = RowVariable("twice", {"w": np.array([2.0])}, pl.col("reward") * w)
    >>> evaluate(twice, np.array([1.0, 3.0]), np.zeros(2, dtype=np.int64)).tolist()
    [2.0, 6.0]
    """
    joined = {column: arr[group_index] for column, arr in var.columns.items()}
    return pl.DataFrame({"reward": reward, **joined}).select(var.expr).to_series().to_numpy()


def apply(
    a: Affine,
    reward: np.ndarray,
    group_index: np.ndarray,
    step_index: np.ndarray,
    baseline: np.ndarray | None = None,
) -> np.ndarray:
    """Per-rollout advantages, given each rollout's group and iteration index."""
    x = reward - baseline if a.variable == "gap" and baseline is not None else reward
    adv = a.scale[group_index] * (x - a.center[group_index])
    if a.shift is not None:
        adv = adv - a.shift[step_index]
    if a.mult is not None:
        adv = adv * a.mult[step_index]
    return np.asarray(adv)
