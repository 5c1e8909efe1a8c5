"""Estimators: hand-computed values, the seed example, singleton rules, and the
vectorised code against a plain per-group loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import advantages, reference_loop

from grpoflaw_cli.errors import UsageError, spelled_as
from grpoflaw_cli.estimators import (
    LISTING,
    REGISTRY,
    Conventions,
    resolve,
    singleton_denominator,
)

SEED = [-1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0]


def seed_adv(estimator: str, scale: float, conv: Conventions | None = None) -> np.ndarray:
    return advantages([r * scale for r in SEED], [0] * 7, estimator, conv)


# --- the blog's table ----------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 5.0])
def test_seed_grpo_population_std_gives_blog_numbers(scale: float) -> None:
    adv = seed_adv("grpo", scale, Conventions(ddof=0, eps=0.0))
    k = 1 / math.sqrt(6 / 7)  # 1.0801234...
    np.testing.assert_allclose(adv, [-k, -k, -k, 0, k, k, k], rtol=1e-15)
    assert [round(a, 4) for a in adv] == [-1.0801, -1.0801, -1.0801, 0.0, 1.0801, 1.0801, 1.0801]


@pytest.mark.parametrize("scale", [1.0, 5.0])
def test_seed_grpo_unbiased_std_gives_one(scale: float) -> None:
    adv = seed_adv("grpo", scale, Conventions(ddof=1, eps=0.0))
    np.testing.assert_allclose(adv, [-1, -1, -1, 0, 1, 1, 1], rtol=1e-15)


def test_seed_grpo_default_eps_is_verls() -> None:
    # sigma = 1 (ddof 1) and 5; eps 1e-6 is added to sigma.
    np.testing.assert_allclose(seed_adv("grpo", 1.0)[-1], 1 / (1 + 1e-6), rtol=1e-15)
    np.testing.assert_allclose(seed_adv("grpo", 5.0)[-1], 5 / (5 + 1e-6), rtol=1e-15)


def test_seed_dr_grpo_keeps_magnitude() -> None:
    np.testing.assert_array_equal(seed_adv("dr_grpo", 1.0), SEED)
    np.testing.assert_array_equal(seed_adv("dr_grpo", 5.0), [5 * r for r in SEED])


def test_seed_rloo_is_seven_sixths() -> None:
    np.testing.assert_allclose(seed_adv("rloo", 1.0), [7 / 6 * r for r in SEED], rtol=1e-15)
    np.testing.assert_allclose(seed_adv("rloo", 5.0), [35 / 6 * r for r in SEED], rtol=1e-15)


def test_grpo_batch_uses_group_mean_and_iteration_std() -> None:
    # Two groups: [0, 2] (mean 1) and [10, 10] (mean 10); batch std of [0, 2, 10, 10].
    rewards = [0.0, 2.0, 10.0, 10.0]
    adv = advantages(rewards, [0, 0, 1, 1], "grpo_batch", Conventions(ddof=1, eps=0.0))
    sigma = float(np.std(rewards, ddof=1))
    np.testing.assert_allclose(adv, [-1 / sigma, 1 / sigma, 0.0, 0.0], rtol=1e-15)


def test_grpo_batch_statistics_are_per_iteration() -> None:
    # The same rewards in two iterations with different scales: each iteration's own std.
    rewards = [0.0, 2.0, 0.0, 20.0]
    adv = advantages(
        rewards, [0, 0, 1, 1], "grpo_batch", Conventions(ddof=1, eps=0.0), steps=[1, 1, 2, 2]
    )
    np.testing.assert_allclose(adv, [-1 / math.sqrt(2), 1 / math.sqrt(2)] * 2, rtol=1e-14)


def test_reinforce_pp_whitens_each_iteration_to_unit_scale() -> None:
    rewards = np.array([1.0, 2.0, 4.0, 8.0, 0.5, 0.25])
    adv = advantages(rewards, [0, 0, 1, 1, 2, 2], "reinforce_pp")
    # Unit weights: mean removed, sample variance (Bessel on the count) plus 1e-8.
    n = len(rewards)
    var = np.var(rewards) * float(np.float32(n / (n - 1)))
    np.testing.assert_allclose(adv, (rewards - rewards.mean()) / np.sqrt(var + 1e-8), rtol=1e-14)


def test_reinforce_pp_is_token_weighted_when_lengths_are_known() -> None:
    rewards = np.array([1.0, 0.0, 0.0])
    lengths = np.array([10.0, 1.0, 1.0])
    adv = advantages(rewards, [0, 1, 2], "reinforce_pp", lengths=lengths)
    mu = (lengths * rewards).sum() / lengths.sum()  # 10/12
    var = (lengths * (rewards - mu) ** 2).sum() / 12 * float(np.float32(12 / 11))
    np.testing.assert_allclose(adv, (rewards - mu) / np.sqrt(var + 1e-8), rtol=1e-14)


def test_reinforce_pp_baseline_subtracts_group_mean_before_whitening() -> None:
    rewards = np.array([0.0, 2.0, 10.0, 14.0])
    adv = advantages(rewards, [0, 0, 1, 1], "reinforce_pp_baseline")
    x = np.array([-1.0, 1.0, -2.0, 2.0])
    var = np.var(x) * float(np.float32(4 / 3))
    np.testing.assert_allclose(adv, (x - x.mean()) / np.sqrt(var + 1e-8), rtol=1e-14)


# --- edge rules ----------------------------------------------------------------------------


def test_singleton_rules_follow_verl() -> None:
    rewards, groups = [3.0, 1.0, 2.0], ["solo", "pair", "pair"]
    np.testing.assert_allclose(
        advantages(rewards, groups, "grpo")[0], 3.0 / singleton_denominator(1e-6), rtol=1e-15
    )
    assert singleton_denominator(1e-6) == 1 + 2**-20  # float32(1 + 1e-6), as verl computes it
    assert advantages(rewards, groups, "dr_grpo")[0] == 3.0
    assert advantages(rewards, groups, "rloo")[0] == 3.0
    assert advantages(rewards, groups, "grpo_batch")[0] == 0.0


@pytest.mark.parametrize("estimator", ["grpo", "grpo_batch", "dr_grpo", "rloo"])
@pytest.mark.parametrize("value", [0.1, 0.7, 1 / 3, -2.2])
def test_constant_non_dyadic_group_gives_exact_zero(estimator: str, value: float) -> None:
    adv = advantages([value] * 8 + [0.0, 1.0], [0] * 8 + [1, 1], estimator)
    assert np.all(adv[:8] == 0.0)


def test_no_nan_from_zero_variance_iteration() -> None:
    for name in REGISTRY:
        adv = advantages(
            [1.0, 1.0, 1.0, 1.0], [0, 0, 1, 1], name, lengths=[3, 4, 5, 6], baseline=[1, 1, 1, 1]
        )
        assert np.all(np.isfinite(adv)), name


def test_gpg_scales_by_the_nonzero_share() -> None:
    # 6 rollouts, 3 nonzero rewards: alpha = 2
    rewards = [0.0, 1.0, 0.0, 2.0, 0.0, 3.0]
    adv = advantages(rewards, [0, 0, 1, 1, 2, 2], "gpg")
    np.testing.assert_allclose(adv, [-1.0, 1.0, -2.0, 2.0, -3.0, 3.0])


def test_opo_uses_the_length_weighted_mean() -> None:
    adv = advantages([1.0, 0.0], [0, 0], "opo", lengths=[3.0, 1.0])
    np.testing.assert_allclose(adv, [1 - 0.75, -0.75])  # b = (3·1 + 1·0) / 4


def test_remax_subtracts_the_greedy_reward() -> None:
    adv = advantages([1.0, 0.0, 5.0], [0, 0, 1], "remax", baseline=[0.5, 0.5, 2.0])
    np.testing.assert_allclose(adv, [0.5, -0.5, 3.0])


def test_estimators_refuse_missing_inputs() -> None:
    with pytest.raises(ValueError, match="remax needs"):
        advantages([1.0, 0.0], [0, 0], "remax")


# --- grpo_loo (NeMo-RL's default) ----------------------------------------------------------


def nemo_loo(rewards: np.ndarray, prompts: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """NeMo-RL's leave-one-out baseline and std as its code evaluates them (a 0/1 mask
    matrix times the rewards and their squares, per prompt; ``E[r²] − E[r]²`` with a
    Bessel factor; NaN → 0), then ``(r − b) / (std + eps)`` where std > 0. In float64."""
    baseline, std = np.zeros_like(rewards), np.zeros_like(rewards)
    for prompt in np.unique(prompts):
        idx = np.flatnonzero(prompts == prompt)
        if idx.size <= 1:
            baseline[idx] = rewards[idx]  # "set baseline equal to reward to ignore it"
            continue
        others = 1.0 - np.eye(idx.size)
        k = np.float64(idx.size - 1)  # torch: 1/0 is inf, not an error
        b = others @ rewards[idx] / k
        sq = others @ rewards[idx] ** 2 / k
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.sqrt((sq - b * b) * (k / (k - 1.0)))
        baseline[idx], std[idx] = b, np.nan_to_num(s, nan=0.0)
    adv = rewards - baseline
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, adv / (std + eps), adv)


def test_grpo_loo_by_hand() -> None:
    eps = 1e-6
    # [1, 2, 3, 4]: for 4 the others are 1, 2, 3 (mean 2, sample std 1); for 3 they are
    # 1, 2, 4 (mean 7/3, sample std sqrt(7/3))
    adv = advantages([1.0, 2.0, 3.0, 4.0], [0] * 4, "grpo_loo")
    s3 = math.sqrt(7 / 3)
    np.testing.assert_allclose(
        adv, [-2 / (1 + eps), -(2 / 3) / (s3 + eps), (2 / 3) / (s3 + eps), 2 / (1 + eps)]
    )
    # one success in four: its others are all 0 (std 0), so it keeps its raw gap of 1;
    # the failures see others 1, 0, 0 (mean 1/3, sample std sqrt(1/3))
    adv = advantages([1.0, 0.0, 0.0, 0.0], [0] * 4, "grpo_loo")
    fail = -(1 / 3) / (math.sqrt(1 / 3) + eps)
    np.testing.assert_allclose(adv, [1.0, fail, fail, fail], rtol=1e-12)
    # so magnitude survives there: the same group on a 0/5 scale gets 5, not 1
    assert advantages([5.0, 0.0, 0.0, 0.0], [0] * 4, "grpo_loo")[0] == pytest.approx(5.0)
    # two rollouts: one other, no std: r − r_other; one rollout: 0; a constant group: 0
    adv = advantages([3.0, 1.0, 7.0, 2.0, 2.0], [0, 0, 1, 2, 2], "grpo_loo")
    np.testing.assert_allclose(adv, [2.0, -2.0, 0.0, 0.0, 0.0])


def test_grpo_loo_counts_equal_non_dyadic_others_as_zero_std() -> None:
    # 0.3 is not dyadic: m2 − n/(n−1)·d² is a rounding residue, not a std to divide by
    rewards = [0.3] * 7 + [1.0]
    adv = advantages(rewards, [0] * 8, "grpo_loo")
    assert adv[7] == pytest.approx(0.7, rel=1e-12)
    # each 0.3 sees six 0.3s and a 1.0: mean 0.4, sample std sqrt(0.42 / 6)
    np.testing.assert_allclose(adv[:7], -0.1 / (math.sqrt(0.07) + 1e-6), rtol=1e-12)


@pytest.mark.parametrize(
    ("base", "top", "n"), [(1e6, 0.7, 4), (12345.678, 0.3, 8), (1e8 + 0.7, 2.2, 16)]
)
def test_grpo_loo_equal_others_far_from_zero(base: float, top: float, n: int) -> None:
    """Rewards far from zero are known to an ulp of their size, so ``d = r − μ`` carries
    that error and ``m2 − n/(n−1)·d²`` a residue: the others are still equal (a fixed
    1e-12·m2 cut-off took these residues for a std and divided by ~1e-5)."""
    rewards = [base + top] + [base] * (n - 1)
    adv = advantages(rewards, [0] * n, "grpo_loo")
    gap = rewards[0] - base  # top, as the floats hold it
    # each of the others sees one top among n − 2 equals
    others = np.array([gap] + [0.0] * (n - 2))
    fail = (0.0 - others.mean()) / (others.std(ddof=1) + 1e-6)
    ulps = 8 * np.spacing(base) / gap  # the relative error the inputs themselves carry
    assert adv[0] == pytest.approx(gap, rel=ulps)
    np.testing.assert_allclose(adv[1:], fail, rtol=ulps)


def loo_by_removal(rewards: list[float], eps: float = 1e-6) -> list[float]:
    """Each rollout against the others, taken out of the list (two-pass mean and std)."""
    out = []
    for i, r in enumerate(rewards):
        others = np.delete(np.array(rewards), i)
        std = others.std(ddof=1) if others.size > 1 else 0.0
        gap = r - others.mean()
        out.append(gap / (std + eps) if std > 0 else gap)
    return out


@pytest.mark.parametrize(
    "rewards",
    [[1.0, 0.0, 0.0, 1e-7], [1.0, 0.0, 0.0, 1e-6], [1000.0, 0.0, 0.001, 0.0], [1e8, 0.0, 1.0, 0.0]],
)
def test_grpo_loo_when_one_rollout_holds_nearly_all_the_spread(rewards: list[float]) -> None:
    """Its others' spread is tiny next to the group's: subtracting it from the group's m2
    would leave rounding noise (1.0 instead of 945416 for the first group)."""
    got = advantages(rewards, [0] * len(rewards), "grpo_loo")
    np.testing.assert_allclose(got, loo_by_removal(rewards), rtol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_grpo_loo_matches_nemo_rl_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 10, size=60)
    prompts = np.repeat(np.arange(60), sizes)
    rng.shuffle(prompts)
    # half-integers: exact in binary, so NeMo's E[r²] − E[r]² has no rounding residue and
    # its "std > 0" test means what it says; many groups have equal others
    rewards = rng.integers(-3, 4, size=prompts.size) * 0.5 * rng.choice([1.0, 8.0])
    got = advantages(rewards, prompts, "grpo_loo")
    np.testing.assert_allclose(got, nemo_loo(rewards, prompts), rtol=1e-10, atol=1e-12)
    rewards = rng.normal(size=prompts.size) * 3.0  # generic values: no equal others
    got = advantages(rewards, prompts, "grpo_loo", Conventions(eps=0.0))
    np.testing.assert_allclose(got, nemo_loo(rewards, prompts, eps=0.0), rtol=1e-9)


# --- framework variants (on request) -------------------------------------------------------


def test_variants_by_hand() -> None:
    # pass@k: only the unique best rollout learns, by its lead over the runner-up
    r, g = [1.0, 3.0, 2.0, 0.0, 5.0, 5.0, 4.0], [0, 0, 0, 0, 1, 1, 1]
    std = float(np.std([1.0, 3.0, 2.0, 0.0], ddof=1))
    np.testing.assert_allclose(
        advantages(r, g, "grpo_passk"), [0, 1 / (std + 1e-6), 0, 0, 0, 0, 0]
    )  # group 1 ties at the top: all 0
    np.testing.assert_allclose(advantages(r, g, "grpo_passk_nostd"), [0, 1, 0, 0, 0, 0, 0])
    # flash_reinforce: the iteration's mean reward as baseline, groups ignored
    np.testing.assert_allclose(
        advantages([1.0, 2.0, 3.0, 10.0], [0, 0, 1, 1], "flash_reinforce"), [-3.0, -2.0, -1.0, 6.0]
    )
    # rloo_norm (TRL conventions): RLOO, then (x − mean)/(std + 1e-4) over the batch
    rewards, groups = [1.0, 0.0, 4.0, 0.0], [0, 0, 1, 1]
    x = np.array([1.0, -1.0, 4.0, -4.0])  # r − the other's reward
    std = math.sqrt(((x - x.mean()) ** 2).mean() * float(np.float32(4 / 3)))  # TRL's nanstd
    got = advantages(rewards, groups, "rloo_norm", Conventions.of("trl"))
    np.testing.assert_allclose(got, (x - x.mean()) / (std + 1e-4), rtol=1e-12)
    # no_std_norm: the batch mean subtracted, no division
    np.testing.assert_allclose(
        advantages([1.0, 2.0, 6.0], [0, 0, 1], "reinforce_pp_nostd"), [-2.0, -1.0, 3.0]
    )
    # x = r − μ_group = (−1, 1) and, for verl's one-rollout group, x = r = 6: mean 2
    np.testing.assert_allclose(
        advantages([1.0, 3.0, 6.0], [0, 0, 1], "reinforce_pp_baseline_nostd"), [-3.0, -1.0, 4.0]
    )


# --- MaxRL ---------------------------------------------------------------------------------


def test_max_rl_by_hand() -> None:
    """(r − μ)/μ per group. One success in four: μ = 1/4, the success gets 1/μ − 1 = 3 and
    each failure −1 (prime-rl's r/μ − 1); three in four: μ = 3/4, +1/3 and −1. A group
    without success (μ = 0), one with a negative mean, a constant group and a one-rollout
    group give 0; a mean of 1e-9 > 0 is clamped to 1e-8: r/1e-8 − 1."""
    rewards = [0, 0, 0, 1, 1, 1, 0, 1, 0, 0, -2, 1, 0.7, 0.7, 5, 4e-9, -2e-9]
    groups = ["a"] * 4 + ["b"] * 4 + ["c"] * 2 + ["d"] * 2 + ["e"] * 2 + ["f"] + ["g"] * 2
    assert len(groups) == len(rewards)
    adv = advantages(rewards, groups, "max_rl")
    np.testing.assert_allclose(adv[:4], [-1, -1, -1, 3], rtol=1e-15)
    np.testing.assert_allclose(adv[4:8], [1 / 3, 1 / 3, -1, 1 / 3], rtol=1e-15)
    assert np.all(adv[8:15] == 0.0)  # μ = 0, μ = −0.5, constant 0.7, singleton 5
    np.testing.assert_allclose(adv[15:], [4e-9 / 1e-8 - 1, -2e-9 / 1e-8 - 1], rtol=1e-12)


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 0, 1], [1, 2, 0]])
def test_max_rl_mean_zero_by_rounding_gives_zero_in_any_row_order(order: list[int]) -> None:
    """[0.1, 0.2, −0.3] sums to +2.8e-17, +5.6e-17 or 0 by the order of its rows: a mean
    that small against the spread is rounding, so every order gives 0 (not ±1e7)."""
    rewards = np.array([0.1, 0.2, -0.3])[order]
    assert np.all(advantages(rewards, [0, 0, 0], "max_rl") == 0.0)


def test_max_rl_erases_magnitude_like_grpo() -> None:
    """Scale invariance: rewards ×10 give the same advantages, as GRPO's (and unlike
    Dr. GRPO's, which grow ×10)."""
    base = advantages([0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 1, 1], "max_rl")
    np.testing.assert_allclose(
        advantages([0, 0, 0, 10, 0, 10], [0, 0, 0, 0, 1, 1], "max_rl"), base, rtol=1e-15
    )
    assert REGISTRY["max_rl"].keeps == "nowhere" and not REGISTRY["max_rl"].by_default


# --- vectorised vs plain loop --------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("estimator", ["grpo", "grpo_batch", "dr_grpo", "rloo"])
@pytest.mark.parametrize("ddof", [0, 1])
def test_vectorised_matches_plain_loop(seed: int, estimator: str, ddof: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, size=40)
    groups = np.repeat(np.arange(40), sizes)
    rng.shuffle(groups)  # rows of a group need not be contiguous
    rewards = rng.normal(size=groups.size) * rng.choice([0.01, 1.0, 100.0], size=groups.size)
    got = advantages(rewards, groups, estimator, Conventions(ddof=ddof, eps=1e-6))
    want = reference_loop(rewards, groups, estimator, ddof=ddof, eps=1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# --- registry ------------------------------------------------------------------------------


def test_registry_holds_the_core_estimators_with_full_docstrings() -> None:
    assert set(REGISTRY) >= {
        "grpo",
        "grpo_batch",
        "dr_grpo",
        "rloo",
        "reinforce_pp",
        "reinforce_pp_baseline",
    }
    for est in REGISTRY.values():
        doc = est.fn.__doc__ or ""
        assert "A =" in doc or "A_i" in doc or "whitened" in doc, est.name  # the formula
        sources = ("arXiv", "verl", "trl", "OpenRLHF", "nemo_rl")
        assert any(s in doc for s in sources), est.name  # the source
        assert "ingleton" in doc or "No groups" in doc, est.name  # the singleton rule


def test_resolve_lists_valid_names_on_error() -> None:
    with pytest.raises(UsageError, match="choose from: grpo") as raised:
        resolve("grpo,nope")
    # the setting named as each front end spells it, with the same hint in both
    assert raised.value.message.startswith("estimators: unknown estimator 'nope'")
    with spelled_as({"estimators": "--estimators"}):
        assert raised.value.message.startswith("--estimators: unknown estimator 'nope'")
    assert raised.value.hint == "see `grpoflaw estimators`"
    with pytest.raises(UsageError, match="no estimator chosen"):
        resolve(" , ")
    # variants and second-pass estimators run on request
    on_request = {
        "grpo_loo",
        "rloo_norm",
        "flash_reinforce",
        "reinforce_pp_nostd",
        "reinforce_pp_baseline_nostd",
        "grpo_passk",
        "grpo_passk_nostd",
        "max_rl",
    }
    assert resolve(None) == [n for n in REGISTRY if n not in on_request]
    assert resolve("all") == list(REGISTRY)
    assert resolve("rloo,grpo,rloo") == ["rloo", "grpo"]


def test_registry_lists_every_estimator_in_listing_order() -> None:
    """Outputs list estimators in LISTING order, whichever catalogue module defines them."""
    assert tuple(REGISTRY) == LISTING


def test_conventions_reject_bad_values() -> None:
    with pytest.raises(UsageError, match="ddof must be 0 or 1"):
        Conventions(ddof=2)
    with pytest.raises(UsageError, match="eps must be a finite number >= 0"):
        Conventions(eps=-1.0)


def test_gdpo_over_several_components_honors_the_clip() -> None:
    """OpenRLHF's clip applies to GDPO's per-rollout sum before the batch whitening."""
    import polars as pl

    from grpoflaw_cli.analysis import analyze_groups
    from grpoflaw_cli.passes import group_stats_query, row_variable_query
    from grpoflaw_cli.rollout_advantages import with_advantages

    values = np.array([1.0] + [0.3] * 10 + [0.0] * 117)  # the outlier's sum exceeds 10
    df = pl.DataFrame({"step": [1] * 128, "group": [0] * 128, "a": values, "b": values})
    df = df.with_columns(pl.col("a").alias("reward"))

    def run(conv: Conventions) -> np.ndarray:
        table = group_stats_query(df.lazy(), has_length=False, components=["a", "b"]).collect()
        keys = table.select("step", "group")
        a = analyze_groups(
            table,
            ["gdpo"],
            conv,
            row_stats=lambda v: row_variable_query(df.lazy(), keys, v, False).collect(),
            components=["a", "b"],
        )
        return with_advantages(df, a)["adv_gdpo"].to_numpy()

    z = (values - values.mean()) / (values.std(ddof=1) + 1e-9)
    y = np.clip(2 * z, -10, 10)  # the sum of the two (identical) normalized components
    want = (y - y.mean()) / np.sqrt(max(y.var(), 1e-8))  # OpenRLHF's population whitening
    np.testing.assert_allclose(run(Conventions.of("openrlhf")), want, rtol=1e-9)
    unclipped = run(Conventions.of("openrlhf", clip=None))
    assert not np.allclose(unclipped, want)


def test_gdpo_has_no_nan_under_openrlhf_singletons() -> None:
    adv = advantages([1.0, 0.0, 1.0, 5.0], [0, 0, 0, 1], "gdpo", Conventions.of("openrlhf"))
    assert np.all(np.isfinite(adv))


def test_no_negative_zero_in_written_advantages(tmp_path) -> None:
    """max_rl's 0 for a group of mean ≤ 0 is 0 · (r − 0): -0.0 for a negative reward, which
    a CSV shows as '-0.0'. Both the in-memory and the streamed writes give 0.0."""
    import polars as pl
    from typer.testing import CliRunner

    from grpoflaw_cli.cli import app

    log = tmp_path / "log.jsonl"
    pl.DataFrame({"step": [1] * 3, "uid": ["a"] * 3, "score": [-1.0, 0.0, -2.0]}).write_ndjson(log)
    for out in (tmp_path / "a.csv", tmp_path / "a.parquet"):
        result = CliRunner().invoke(
            app, ["advantages", str(log), "--estimators", "max_rl", "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
    assert "-0.0" not in (tmp_path / "a.csv").read_text()
    signs = pl.read_parquet(tmp_path / "a.parquet")["adv_max_rl"].to_numpy()
    import numpy as np

    assert not np.signbit(signs).any()
