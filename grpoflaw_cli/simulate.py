"""Does GRPO's normalization cost learning on a given kind of rewards? A seeded experiment.

The model, fixed before any result was looked at:

* **Tasks.** ``K`` tasks, each a prompt with ``A`` candidate responses (arms). Arm ``a`` of
  task ``t`` has a mean reward ``scale_t · q_ta``, where ``q_ta`` is the sum of ``S`` reward
  sources drawn once per seed from N(0, 1/S); a rollout's reward adds Gaussian noise of
  std ``noise · scale_t``. With ``binary=True`` there is one 0/1 verifier instead: arm
  ``a`` succeeds with probability ``p_ta`` ~ U(0, 1).
* **Policy.** A small linear softmax policy shared by all tasks, as an LLM's weights are:
  ``π(a | t) ∝ exp(w · φ_ta)`` with fixed random features ``φ_ta ∈ R^dim`` (drawn once per
  seed, ``dim`` smaller than tasks × arms, so the tasks compete for the same weights) and
  ``w`` starting at 0. A per-task softmax would let Adam normalize each task's gradient
  on its own, hiding exactly the cross-task weighting under test.
* **Training.** Each iteration samples ``prompts`` tasks uniformly, ``group`` rollouts of
  each, computes the advantages with grpoflaw's own estimator code (the iteration is the
  batch), and takes one Adam step (lr ``lr``, the same for every estimator) on the
  policy-gradient loss ``−Σ A_i log π(a_i)``. Every estimator gets the same budget,
  the same tasks and the same initial policy for a given seed.
* **Score.** The policy's expected reward per task, normalized to [0, 1] between the
  task's worst and best arm, averaged over tasks. Reported per iteration (the learning
  curve), at the end (mean of the last 10 % of iterations) and as the area under the curve.
* **Statistics.** ``seeds`` independent runs; mean and 95 % confidence interval (t
  quantile); each estimator against GRPO as a paired difference over seeds (same seed →
  same tasks and draws), whose 95 % interval decides the verdict: ahead or behind when
  it excludes 0 and the difference is at least 0.01 (1 % of the tasks' range), else no
  clear difference. The score weighs every task equally, which is GRPO's own implicit
  weighting; an objective that sums raw rewards would weigh tasks by their scale.

>>> result = run(Setting(seeds=2, iterations=3, prompts=2), ["grpo", "dr_grpo"])
>>> sorted(result.summary["estimator"])
['dr_grpo', 'grpo']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from math import sqrt
from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.errors import UsageError, option
from grpoflaw_cli.estimators import (
    REFERENCE,
    REGISTRY,
    Conventions,
    applicable,
    apply,
    defaults,
    evaluate,
)
from grpoflaw_cli.group_stats import Extremes, Groups

# Two-sided 95 % t quantiles for small samples (df = n - 1); normal beyond.
_T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    25: 2.060,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}


def t95(df: int) -> float:
    """The two-sided 95 % t quantile for ``df`` degrees of freedom; between tabulated values
    (and beyond 120) the next smaller df's (larger, so conservative) quantile.

    >>> t95(9), t95(29), t95(1000)
    (2.262, 2.06, 1.98)
    """
    return _T95[max(k for k in _T95 if k <= max(df, 1))]


@dataclass(frozen=True)
class Setting:
    """The experiment's knobs (defaults: the multi-task, multi-scale case)."""

    scales: tuple[float, ...] = (0.1, 1.0, 10.0, 50.0)
    """One reward scale per task: the tasks' rewards span very different ranges."""
    sources: int = 8
    """Reward sources summed per rollout."""
    arms: int = 6
    dim: int = 12
    """Size of the policy's shared weight vector."""
    noise: float = 0.5
    binary: bool = False
    """One 0/1 verifier reward instead of summed sources."""
    prompts: int = 16
    group: int = 8
    iterations: int = 150
    seeds: int = 30
    lr: float = 0.02
    seed: int = 0
    arm_means: tuple[tuple[float, ...], ...] | None = None
    """Fixed arm means per task (from a log) instead of drawn ones."""
    noise_std: tuple[float, ...] | None = None
    """Per-task rollout noise std (from a log)."""
    verifier: tuple[bool, ...] | None = None
    """Per task (from a log): 0/1 rewards, drawn with the arm mean as pass rate."""

    def __post_init__(self) -> None:
        if self.seeds < 2:
            raise ValueError("seeds must be at least 2 for a confidence interval")
        if self.group < 2 or self.arms < 2 or self.iterations < 1 or not self.scales:
            raise ValueError("group and arms need at least 2, iterations at least 1")

    @property
    def tasks(self) -> int:
        return len(self.arm_means) if self.arm_means is not None else len(self.scales)


@dataclass(frozen=True)
class Result:
    """Learning curves and the statistics over seeds."""

    setting: Setting
    curves: dict[str, np.ndarray]
    """Per estimator: score per (seed, iteration)."""
    summary: pl.DataFrame = field(repr=False)
    """Per estimator: final and AUC means with CIs, the paired difference vs GRPO, verdict."""

    def to_dict(self) -> dict[str, Any]:
        """The setting, the summary and the mean learning curves, as JSON data."""
        return {
            "setting": dict(vars(self.setting)),
            "summary": self.summary.to_dicts(),
            "curves": {k: v.mean(0).tolist() for k, v in self.curves.items()},
        }

    def band(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """An estimator's mean learning curve and its 95 % band's half-width over seeds."""
        mean, half = mean_ci(self.curves[name])
        return np.asarray(mean), np.asarray(half)


def preset(*, binary: bool = False, **knobs: Any) -> Setting:
    """The multi-task, multi-scale default, or (``binary``) one 0/1 verifier per rollout
    over four tasks.

    >>> preset(binary=True, seeds=3).sources
    1
    """
    if binary:
        return Setting(binary=True, scales=(1.0,) * 4, sources=1, **knobs)
    return Setting(**knobs)


def runnable(
    chosen: Sequence[str] | None, *, every: bool = False
) -> tuple[list[str], dict[str, str]]:
    """The estimators to simulate (``chosen``, else the defaults), GRPO first: the
    reference. Simulated rollouts have rewards only: naming an estimator that needs more
    is a :class:`UsageError`, unless ``every`` one was asked for; those are left out and
    returned with the reason.

    >>> runnable(["rloo", "grpo"])
    (['grpo', 'rloo'], {})
    """
    names, cannot = applicable(list(chosen or defaults()), set())
    left_out: dict[str, str] = {}
    if cannot and every:
        left_out = {n: f"{why}: simulated rollouts have rewards only" for n, why in cannot.items()}
    elif chosen is not None and cannot:
        raise UsageError(
            "simulate cannot run "
            + "; ".join(f"{n} (it {why})" for n, why in cannot.items())
            + ": its rollouts have rewards only",
            hint=f"leave it out of {option('estimators')}",
        )
    return [REFERENCE, *(n for n in names if n != REFERENCE)], left_out


def _environment(s: Setting, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Arm means (seeds, tasks, arms) and rollout noise std (tasks,)."""
    if s.arm_means is not None:
        means = np.broadcast_to(np.array(s.arm_means, float), (s.seeds, s.tasks, s.arms)).copy()
        noise = np.array(s.noise_std if s.noise_std is not None else [0.0] * s.tasks, float)
        return means, noise
    if s.binary:
        return rng.random((s.seeds, s.tasks, s.arms)), np.zeros(s.tasks)
    q = rng.normal(0.0, 1.0 / sqrt(s.sources), size=(s.seeds, s.tasks, s.arms, s.sources))
    scale = np.array(s.scales, float)
    return q.sum(-1) * scale[None, :, None], s.noise * scale


def _groups(reward: np.ndarray, n_steps: int) -> tuple[Groups, np.ndarray, np.ndarray]:
    """Group statistics for rewards shaped (seeds, prompts, group): one iteration per seed."""
    seeds, prompts, k = reward.shape
    flat = reward.reshape(seeds * prompts, k)
    mean = flat.mean(1)
    lo, hi = flat.min(1), flat.max(1)
    mean = np.where(lo == hi, lo, mean)
    m2 = ((flat - mean[:, None]) ** 2).sum(1)
    n = np.full(seeds * prompts, k, dtype=np.int64)
    step_index = np.repeat(np.arange(seeds), prompts)
    g = Groups(
        step_index=step_index,
        n_steps=n_steps,
        n=n,
        mean=mean,
        m2=m2,
        n_nonzero=(flat != 0).sum(1),
        len_sum=n.astype(float),
        len_d1=np.zeros(seeds * prompts),
        len_d2=m2,
        has_length=False,
        extremes=Extremes.of_rows(flat),
    )
    group_index = np.repeat(np.arange(seeds * prompts), k)
    return g, group_index, np.repeat(step_index, k)


def run(setting: Setting, estimators: list[str], conventions: Conventions | None = None) -> Result:
    """Train one policy per (estimator, seed) and summarize. Deterministic in ``setting.seed``."""
    conv = conventions or Conventions()
    s = setting
    rng = np.random.default_rng(s.seed)
    means, noise = _environment(s, rng)
    best, worst = means.max(-1), means.min(-1)
    span = np.where(best > worst, best - worst, 1.0)
    # Common random numbers: every estimator sees the same tasks, draws and noise.
    draw_seed = int(rng.integers(2**31))
    features = rng.normal(size=(s.seeds, s.tasks, s.arms, s.dim)) / sqrt(s.dim)
    seed_ix = np.arange(s.seeds)
    curves: dict[str, np.ndarray] = {}
    for name in estimators:
        draws = np.random.default_rng(draw_seed)
        w = np.zeros((s.seeds, s.dim))
        m, v = np.zeros_like(w), np.zeros_like(w)
        curve = np.zeros((s.seeds, s.iterations))
        for it in range(s.iterations):
            logits = np.einsum("stad,sd->sta", features, w)
            policy = np.exp(logits - logits.max(-1, keepdims=True))
            policy /= policy.sum(-1, keepdims=True)
            curve[:, it] = (((policy * means).sum(-1) - worst) / span).mean(-1)
            task = draws.integers(s.tasks, size=(s.seeds, s.prompts))
            pi = policy[seed_ix[:, None], task]  # (seeds, prompts, arms)
            u = draws.random((s.seeds, s.prompts, s.group, 1))
            action = np.minimum((u > np.cumsum(pi, -1)[:, :, None, :]).sum(-1), s.arms - 1)
            mu = means[seed_ix[:, None, None], task[:, :, None], action]
            if s.binary:
                reward = (draws.random(mu.shape) < mu).astype(float)
            else:
                reward = mu + draws.normal(size=mu.shape) * noise[task][:, :, None]
                if s.verifier is not None:
                    passed = (draws.random(mu.shape) < mu).astype(float)
                    reward = np.where(np.asarray(s.verifier)[task][:, :, None], passed, reward)
            g, group_index, step_index = _groups(reward, s.seeds)
            x, est = reward.ravel(), REGISTRY[name]
            if est.row_variable is not None:  # no affine map of the reward (grpo_loo)
                x = evaluate(est.row_variable(g, conv), x, group_index)
            adv = apply(est.fn(g, conv), x, group_index, step_index)
            adv = np.nan_to_num(adv).reshape(reward.shape)
            # ∇_w log π(a | t) = φ_ta − E_π[φ_t·]; ascend Σ A ∇ log π.
            phi = features[seed_ix[:, None], task]  # (seeds, prompts, arms, dim)
            chosen = np.take_along_axis(phi, action[..., None].repeat(s.dim, -1), axis=2)
            expected = np.einsum("spa,spad->spd", pi, phi)[:, :, None, :]
            grad = (adv[..., None] * (chosen - expected)).sum((1, 2)) / (s.prompts * s.group)
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            step = it + 1
            w += s.lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        curves[name] = curve
    return Result(setting=s, curves=curves, summary=summarize(curves))


def mean_ci(values: np.ndarray) -> tuple[Any, Any]:
    """Mean over the first axis (the seeds) and the half-width of its 95 % confidence
    interval: numbers for a vector, curves for a (seed, iteration) array.

    >>> [round(float(x), 3) for x in mean_ci(np.array([1.0, 2.0, 3.0]))]
    [2.0, 2.484]
    """
    n = values.shape[0]
    sd = values.std(axis=0, ddof=1) if n > 1 else np.zeros_like(values.mean(0))
    return values.mean(0), t95(n - 1) * sd / sqrt(n)


def _mean_ci(values: np.ndarray) -> tuple[float, float]:
    mean, half = mean_ci(values)
    return float(mean), float(half)


MIN_EFFECT = 0.01
"""A difference in final score below 1 % of the tasks' best-to-worst range is no verdict."""


def summarize(
    curves: dict[str, np.ndarray], reference: str = REFERENCE, min_effect: float = MIN_EFFECT
) -> pl.DataFrame:
    """Per estimator: final score and AUC (mean, 95 % CI over seeds), the paired difference
    in final score against ``reference`` and the verdict it supports: ``ahead``/``behind``
    when the 95 % interval excludes 0 and the difference is at least ``min_effect``."""
    rows = []
    ref = curves.get(reference)
    for name, curve in curves.items():
        tail = max(1, curve.shape[1] // 10)
        final = curve[:, -tail:].mean(1)
        auc = curve.mean(1)
        row: dict[str, object] = {"estimator": name}
        row["final"], row["final_ci"] = _mean_ci(final)
        row["auc"], row["auc_ci"] = _mean_ci(auc)
        if ref is not None and name != reference:
            diff = final - ref[:, -tail:].mean(1)
            d, ci = _mean_ci(diff)
            row["vs_" + reference], row["vs_ci"] = d, ci
            clear = abs(d) >= min_effect and abs(d) > ci
            row["verdict"] = ("ahead" if d > 0 else "behind") if clear else "no clear difference"
        else:
            row["vs_" + reference], row["vs_ci"], row["verdict"] = 0.0, 0.0, "reference"
        rows.append(row)
    return pl.DataFrame(rows)


def setting_from_log(groups: pl.DataFrame, base: Setting) -> Setting:
    """Fit the tasks to a log's own reward shapes.

    ``groups`` has one row per group (as :attr:`grpoflaw_cli.api.Comparison.groups`) with
    ``n``, ``task`` (or none: one task), ``mean``, ``min``, ``max`` and ``std`` (ddof 1);
    groups of one rollout say nothing about spread and are left out. Per task, the arms' mean
    rewards are quantiles of the task's group means (the spread of outcomes across
    prompts). Under the untrained (uniform) policy a group's reward variance is the arms'
    variance plus the noise variance, so the noise is the method-of-moments remainder
    ``sqrt(max(0, mean(std²) − var(arm means)))``. A task whose rewards are all 0 or 1 is
    simulated as a verifier (Bernoulli rewards, the arm means as pass rates). The policy
    keeps the default's ratio of one shared weight per two task-arm logits, so tasks
    still compete for the same weights.

    >>> t = pl.DataFrame({"n": [4, 4], "mean": [0.0, 1.0], "min": [0.0, 1.0], "max": [0.0, 1.0]})
    >>> s = setting_from_log(t.with_columns(std=pl.lit(0.0)), Setting(arms=2))
    >>> s.arm_means, s.noise_std, s.verifier, s.dim
    (((0.05, 0.95),), (0.0,), (True,), 2)
    """
    table = groups.filter(pl.col("n") >= 2)
    if table.is_empty():
        raise ValueError("the log has no group of two or more rollouts to fit the tasks to")
    if "task" not in table.columns:
        table = table.with_columns(pl.lit("all").alias("task"))
    qs = np.linspace(0.05, 0.95, base.arms)
    arms, noise, verifier = [], [], []
    for _, part in table.group_by("task", maintain_order=True):
        verifier.append(
            bool(part["min"].is_in([0.0, 1.0]).all() and part["max"].is_in([0.0, 1.0]).all())
        )
        levels = np.quantile(part["mean"].to_numpy(), qs)
        within = float(np.nan_to_num(np.mean(part["std"].to_numpy() ** 2)))
        arms.append(tuple(float(x) for x in levels))
        noise.append(sqrt(max(0.0, within - float(levels.var()))))
    if all(max(levels) == min(levels) for levels in arms):
        raise ValueError(
            "every group of the log has the same mean reward, so tasks fitted to it would "
            "leave a policy nothing to learn"
        )
    return replace(
        base,
        arm_means=tuple(arms),
        noise_std=tuple(noise),
        scales=(1.0,) * len(arms),
        verifier=tuple(verifier),
        dim=max(2, len(arms) * base.arms // 2),
    )
