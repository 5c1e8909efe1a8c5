"""Hypothesis property tests for the estimator invariants."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from helpers import advantages, analyze
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grpoflaw_cli.estimators import REGISTRY, Conventions, group_moments, group_sum_sq
from grpoflaw_cli.group_stats import PerStep
from grpoflaw_cli.rollout_advantages import with_advantages

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXACT = Conventions(ddof=1, eps=0.0)

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def grouped_rewards(draw: st.DrawFn, min_size: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Rewards and group ids: 1-6 groups of ``min_size``-8 rollouts, rows shuffled."""
    sizes = draw(st.lists(st.integers(min_size, 8), min_size=1, max_size=6))
    groups = np.repeat(np.arange(len(sizes)), sizes)
    rewards = np.array(draw(st.lists(finite, min_size=len(groups), max_size=len(groups))))
    perm = np.array(draw(st.permutations(range(len(groups)))))
    return rewards[perm], groups[perm]


def extras(rewards: np.ndarray) -> dict[str, np.ndarray]:
    """Response lengths and greedy baselines, so that every estimator applies."""
    k = np.arange(len(rewards))
    return {"lengths": 5.0 + (k * 7919) % 40, "baseline": np.round(np.sin(k) * 3, 2)}


def spread_ok(rewards: np.ndarray, groups: np.ndarray) -> bool:
    """Every group has a spread well above rounding (invariances are exact only then)."""
    return all(np.ptp(rewards[groups == g]) > 1e-3 for g in np.unique(groups))


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards(), st.floats(0.01, 100), st.floats(-100, 100))
def test_grpo_is_invariant_to_positive_affine_rescaling(data, a, b) -> None:
    rewards, groups = data
    assume(spread_ok(rewards, groups))  # a skipped example is not a passed one
    base = advantages(rewards, groups, "grpo", EXACT)
    scaled = advantages(a * rewards + b, groups, "grpo", EXACT)
    np.testing.assert_allclose(scaled, base, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards(min_size=1), st.floats(0.01, 100))
def test_dr_grpo_scales_linearly(data, a) -> None:
    rewards, groups = data
    base = advantages(rewards, groups, "dr_grpo")
    np.testing.assert_allclose(
        advantages(a * rewards, groups, "dr_grpo"),
        a * base,
        rtol=1e-9,
        atol=1e-9 * a * (1 + np.abs(rewards).max()),
    )


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards())
def test_rloo_is_k_over_k_minus_1_times_dr_grpo(data) -> None:
    rewards, groups = data
    sizes = np.bincount(groups)[groups].astype(float)
    dr = advantages(rewards, groups, "dr_grpo")
    np.testing.assert_allclose(
        advantages(rewards, groups, "rloo"),
        sizes / (sizes - 1) * dr,
        rtol=1e-9,
        atol=1e-9 * (1 + np.abs(rewards).max()),
    )


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards(), st.sampled_from(["grpo", "grpo_batch", "dr_grpo", "rloo"]))
def test_group_baseline_advantages_sum_to_zero_per_group(data, estimator) -> None:
    rewards, groups = data
    adv = advantages(rewards, groups, estimator)
    sums = np.bincount(groups, weights=adv)
    scale = np.bincount(groups, weights=np.abs(adv)) + 1e-12
    assert np.all(np.abs(sums) <= 1e-9 * scale + 1e-9)


nonnegative = st.floats(min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False)


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards(), st.floats(0.01, 100), st.data())
def test_max_rl_is_scale_invariant_and_sums_to_zero(data, a, draw) -> None:
    """On MaxRL's domain (rewards ≥ 0): (c·r − c·μ)/(c·μ) = (r − μ)/μ, so rescaling the
    rewards changes nothing (no magnitude kept), and each group's advantages sum to 0
    (Σ (r − μ) = 0), or are all 0 where no rollout succeeded."""
    _, groups = data
    rewards = np.array(draw.draw(st.lists(nonnegative, min_size=len(groups), max_size=len(groups))))
    means = np.bincount(groups, weights=rewards) / np.bincount(groups)
    assume(np.all((means == 0) | (means > 1e-3)))  # clear of the 1e-8 clamp after scaling
    base = advantages(rewards, groups, "max_rl")
    np.testing.assert_allclose(
        advantages(a * rewards, groups, "max_rl"), base, rtol=1e-9, atol=1e-9
    )
    sums = np.bincount(groups, weights=base)
    assert np.all(np.abs(sums) <= 1e-9 * (np.bincount(groups, weights=np.abs(base)) + 1))
    assert np.all(base[means[groups] == 0] == 0.0)


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards(), st.sampled_from(["reinforce_pp", "reinforce_pp_baseline"]))
def test_whitened_estimators_have_zero_mean_per_iteration(data, estimator) -> None:
    rewards, groups = data
    adv = advantages(rewards, groups, estimator)
    assert abs(adv.sum()) <= 1e-7 * (1 + np.abs(adv).sum())


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards(min_size=1), st.sampled_from(sorted(REGISTRY)), st.randoms())
def test_row_order_does_not_matter(data, estimator, rnd) -> None:
    rewards, groups = data
    perm = np.arange(len(rewards))
    rnd.shuffle(perm)
    ex = extras(rewards)
    base = advantages(rewards, groups, estimator, **ex)
    shuffled = advantages(
        rewards[perm],
        groups[perm],
        estimator,
        lengths=ex["lengths"][perm],
        baseline=ex["baseline"][perm],
    )
    np.testing.assert_allclose(shuffled, base[perm], rtol=1e-9, atol=1e-9)


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards(min_size=1), st.sampled_from(sorted(REGISTRY)))
def test_no_nan_from_finite_rewards(data, estimator) -> None:
    rewards, groups = data
    assert np.all(np.isfinite(advantages(rewards, groups, estimator, **extras(rewards))))


@pytest.mark.slow
@SETTINGS
@given(grouped_rewards(min_size=1), st.integers(1, 3))
def test_analytic_group_moments_match_the_rows(data, steps) -> None:
    """The summary never touches rows: its moments must equal the rows' own."""
    rewards, groups = data
    step = groups % steps
    ex = extras(rewards)
    df = pl.DataFrame(
        {
            "step": step,
            "group": groups,
            "reward": rewards,
            "length": ex["lengths"],
            "baseline": ex["baseline"],
        }
    )
    analysis = analyze(df, list(REGISTRY))
    rows = with_advantages(df, analysis)
    n = analysis.groups["n"].to_numpy()
    for name, coef in analysis.coefficients.items():
        by_group = (
            rows.group_by("step", "group")
            .agg((pl.col(f"adv_{name}") ** 2).sum().alias("ss"))
            .sort("step", "group")["ss"]
            .to_numpy()
        )
        reported = analysis.groups[f"scale_{name}"].to_numpy() ** 2 * n
        np.testing.assert_allclose(reported, by_group, rtol=1e-7, atol=1e-7)
        if coef.variable in ("reward", "gap"):  # an affine map: from the group statistics
            _, sum_sq = group_moments(analysis.stats, coef)
            np.testing.assert_allclose(sum_sq, by_group, rtol=1e-7, atol=1e-7)
            # the scales' Σ A² alone: the same bits
            np.testing.assert_array_equal(group_sum_sq(analysis.stats, coef), sum_sq)


@SETTINGS
@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=40),
    st.booleans(),
    st.integers(0, 2),
    st.data(),
)
@pytest.mark.slow
def test_per_step_reductions_agree_with_their_definitions(
    index: list[int], sort: bool, extra_steps: int, data: st.DataObject
) -> None:
    """Sorted (runs; every iteration present, or some without a group) or not, PerStep's
    sum, min/max and broadcast are bincount, ufunc.at and indexing."""
    steps = np.sort(np.array(index)) if sort else np.array(index)
    n_steps = int(steps.max()) + 1 + extra_steps
    values = np.array(
        data.draw(
            st.lists(finite | st.just(float("nan")), min_size=steps.size, max_size=steps.size)
        )
    )
    per = PerStep(steps, n_steps)
    finite_values = np.nan_to_num(values)
    np.testing.assert_allclose(
        per.sum(finite_values),
        np.bincount(steps, finite_values, n_steps),
        rtol=1e-12,
        atol=1e-9,
    )
    for op, empty in ((np.fmin, np.inf), (np.fmax, -np.inf)):  # NaN skipped
        expected = np.full(n_steps, empty)
        op.at(expected, steps, values)
        np.testing.assert_array_equal(per.reduce(op, values, empty), expected)
    per_step = np.random.default_rng(len(index)).normal(size=n_steps)
    np.testing.assert_array_equal(per.broadcast(per_step), per_step[steps])


def test_per_step_extremes_of_an_iteration_without_values() -> None:
    """Every iteration present, one of them all NaN (TRL groups with no scored rollout):
    its min is +inf and its max -inf, as if nothing had been seen; a wrong length is
    refused rather than folded into the last iteration."""
    per = PerStep(np.array([0, 0, 1, 1, 2]), 3)
    values = np.array([2.0, 1.0, np.nan, np.nan, 5.0])
    assert per.reduce(np.fmin, values, np.inf).tolist() == [1.0, np.inf, 5.0]
    assert per.reduce(np.fmax, values, -np.inf).tolist() == [2.0, -np.inf, 5.0]
    with pytest.raises(ValueError, match="expected 5 values"):
        per.sum(np.arange(6.0))
    with pytest.raises(ValueError, match="expected 3 values"):
        per.broadcast(np.arange(2.0))
