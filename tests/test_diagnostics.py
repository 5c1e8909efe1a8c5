"""Diagnostics: for every flag, a true positive and a true negative."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from helpers import analyze

from grpoflaw_cli.diagnostics import Severity, Thresholds, diagnose
from grpoflaw_cli.diagnostics.pairs import _shared
from grpoflaw_cli.errors import UsageError, spelled_as
from grpoflaw_cli.estimators import Conventions, applicable, defaults

ALL = applicable(defaults(), set())[0]  # what a log with no extra columns gets


def log(groups: list[tuple[int, str, list[float]]]) -> pl.DataFrame:
    """Rows from (step, group, rewards) triples."""
    cols: dict[str, list[object]] = {"step": [], "group": [], "reward": []}
    for step, group, rewards in groups:
        for r in rewards:
            cols["step"].append(step)
            cols["group"].append(group)
            cols["reward"].append(float(r))
    return pl.DataFrame(cols)


def codes(df: pl.DataFrame, thresholds: Thresholds | None = None) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for flag in diagnose(analyze(df, ALL), thresholds):
        out.setdefault(flag.code, []).append(flag.step)
    return out


SEED = [-1, -1, -1, 0, 1, 1, 1]


def test_seed_is_flagged_as_collapsed_pair() -> None:
    flags = diagnose(analyze(log([(1, "g", SEED), (1, "h", [5 * r for r in SEED])]), ALL))
    pairs = [f for f in flags if f.code == "collapsed_pair"]
    assert [f.step for f in pairs] == [1]
    assert all(f.severity is Severity.WARNING for f in pairs)
    assert pairs[0].evidence["spread_ratio"] == pytest.approx(5.0)
    assert pairs[0].evidence["partner_step"] == 1


def test_collapsed_pair_twins_in_different_steps_are_not_matched() -> None:
    """Step 2's update never saw step 1's group: no twin across iterations."""
    assert "collapsed_pair" not in codes(log([(1, "g", SEED), (2, "g", [5 * r for r in SEED])]))
    across = log([(1, "a", SEED), (1, "b", [r + 2 for r in SEED]), (2, "c", [5 * r for r in SEED])])
    assert "collapsed_pair" not in codes(across)


def test_collapsed_pair_negative_translation_only() -> None:
    # Same spread, shifted rewards: GRPO identical, but no magnitude was lost.
    assert "collapsed_pair" not in codes(log([(1, "g", SEED), (2, "g", [r + 3 for r in SEED])]))


def test_collapsed_pair_negative_different_shapes() -> None:
    assert "collapsed_pair" not in codes(log([(1, "g", SEED), (2, "g", [0, 0, 0, 0, 0, 0, 10])]))


def test_collapsed_pair_severity_grows_with_the_ratio() -> None:
    flags = diagnose(analyze(log([(1, "a", [0, 1, 1]), (1, "b", [0, 20, 20])]), ALL))
    pair = next(f for f in flags if f.code == "collapsed_pair")
    assert pair.severity is Severity.ERROR and pair.evidence["spread_ratio"] == pytest.approx(20)


def multi_step_run(odd_scale: float) -> pl.DataFrame:
    """Ten iterations of varied groups; step 5 rescaled by ``odd_scale``."""
    rng = np.random.default_rng(0)
    groups = []
    for step in range(1, 11):
        scale = odd_scale if step == 5 else 1.0
        for g in range(6):
            groups.append((step, f"p{g}", list(scale * rng.normal(size=8))))
    return log(groups)


def test_shared_keeps_every_repeated_signature() -> None:
    """The collapsed-pair pre-filter may keep extra rows, never drop a repeated tuple."""
    rng = np.random.default_rng(0)
    size = 600_000  # more than one part (see _shared)
    n = rng.integers(2, 9, size).astype(np.uint32)
    z = rng.normal(size=size)  # no chance repeats
    planted = rng.choice(size, 400, replace=False)
    n[planted[200:]], z[planted[200:]] = n[planted[:200]], z[planted[:200]]
    z[planted[0]], z[planted[200]] = 0.0, -0.0  # equal, though their bits differ
    kept = _shared([n, z])
    assert kept[planted].all()
    assert kept.sum() < 2 * len(planted)  # and few others
    assert not _shared([np.array([1.0])]).any()


def test_magnitude_collapse_positive() -> None:
    flags = diagnose(analyze(multi_step_run(20.0), ALL))
    hit = [f for f in flags if f.code == "magnitude_collapse"]
    assert [f.step for f in hit] == [5]
    assert hit[0].severity is Severity.ERROR
    assert hit[0].evidence["factor"] == pytest.approx(20, rel=0.3)
    assert "shrunk" in hit[0].message


def test_magnitude_collapse_inflated_direction() -> None:
    hit = [f for f in diagnose(analyze(multi_step_run(0.2), ALL)) if f.code == "magnitude_collapse"]
    assert [f.step for f in hit] == [5] and "inflated" in hit[0].message


def test_magnitude_collapse_negative() -> None:
    found = codes(multi_step_run(1.0))
    assert "magnitude_collapse" not in found and "magnitude_collapse_groups" not in found


def test_magnitude_collapse_groups_positive_and_threshold_override() -> None:
    groups = [(1, f"p{g}", [0, 1, 2, 3]) for g in range(5)] + [(1, "big", [0, 10, 20, 30])]
    assert codes(log(groups))["magnitude_collapse_groups"] == [1]
    assert "magnitude_collapse_groups" not in codes(log(groups), Thresholds(magnitude_ratio=20))


def test_magnitude_collapse_groups_needs_grpo_to_have_kept_the_typical_scale() -> None:
    """With eps = 1, GRPO's scale follows the spread (0.09 ... 0.74): nothing collapsed."""
    groups = [(1, f"p{g}", [0, 0, m, m]) for g, m in enumerate([0.2, 1, 1, 1, 1, 10])]
    assert codes(log(groups))["magnitude_collapse_groups"] == [1]
    flags = diagnose(analyze(log(groups), ALL, Conventions(ddof=1, eps=1.0)))
    assert "magnitude_collapse_groups" not in {f.code for f in flags}


def test_zero_variance_share_and_severity() -> None:
    df = log([(1, "a", [1, 1, 1]), (1, "b", [0, 1, 0]), (2, "a", [0, 0]), (2, "b", [1, 1])])
    df = pl.concat([df, log([(3, "a", [0, 1])])])  # not every iteration: flagged per step
    flags = {f.step: f for f in diagnose(analyze(df, ALL)) if f.code == "zero_variance"}
    assert flags[1].severity is Severity.WARNING and flags[1].evidence["share"] == 0.5
    assert flags[2].severity is Severity.ERROR and flags[2].evidence["share"] == 1.0


def test_zero_variance_negative() -> None:
    assert "zero_variance" not in codes(log([(1, "a", [0, 1]), (1, "b", [1, 3])]))


def test_noise_amplification_positive() -> None:
    groups = [(1, f"p{g}", [0, 1, 0, 1]) for g in range(6)] + [(1, "tiny", [0, 0.01, 0, 0.01])]
    flags = [f for f in diagnose(analyze(log(groups), ALL)) if f.code == "noise_amplification"]
    assert len(flags) == 1 and flags[0].group == "tiny"
    assert flags[0].evidence["grpo_scale"] > 0.5


def test_noise_amplification_negative() -> None:
    groups = [(1, f"p{g}", [0, 1, 0, 1]) for g in range(6)] + [(1, "small", [0, 0.3, 0, 0.3])]
    assert "noise_amplification" not in codes(log(groups))


def test_mostly_singleton_groups_warn_about_the_group_column() -> None:
    found = diagnose(analyze(log([(1, "a", [1]), (1, "b", [0]), (1, "c", [0, 1])]), ALL))
    single = next(f for f in found if f.code == "singleton_groups")
    assert single.severity is Severity.WARNING and "group_col" in single.message
    with spelled_as({"group_col": "--group-col"}):
        assert "--group-col" in single.to_dict()["message"]


def test_singleton_groups_info() -> None:
    found = diagnose(analyze(log([(1, "a", [1]), (1, "b", [0, 1]), (1, "c", [2, 3])]), ALL))
    single = [f for f in found if f.code == "singleton_groups"]
    assert len(single) == 1 and single[0].severity is Severity.INFO
    assert "singleton_groups" not in codes(log([(1, "a", [0, 1])]))


def test_flags_are_sorted_worst_first() -> None:
    flags = diagnose(analyze(log([(1, "a", [1]), (1, "b", [0, 1, 1]), (1, "c", [0, 20, 20])]), ALL))
    ranks = [f.severity.rank for f in flags]
    assert ranks == sorted(ranks, reverse=True)


def test_thresholds_validate() -> None:
    with pytest.raises(UsageError, match="collapse_ratio must be > 1"):
        Thresholds(collapse_ratio=1.0)
    with pytest.raises(UsageError, match=r"noise_ratio must be in \(0, 1\)"):
        Thresholds(noise_ratio=2.0)


def test_ragged_groups_positive_and_negative() -> None:
    ragged = diagnose(analyze(log([(1, "a", [0, 1, 2]), (1, "b", [0, 1])]), ALL))
    flag = next(f for f in ragged if f.code == "ragged_groups")
    assert (flag.evidence["min"], flag.evidence["max"]) == (2, 3)
    even = diagnose(analyze(log([(1, "a", [0, 1]), (1, "b", [0, 1]), (1, "c", [5])]), ALL))
    assert not any(f.code == "ragged_groups" for f in even)  # a singleton is not ragged


def test_step_in_several_files(write_jsonl) -> None:
    from grpoflaw_cli.analysis import analyze_groups
    from grpoflaw_cli.ingest import FILE_COL, load
    from grpoflaw_cli.passes import group_stats_query

    a = write_jsonl(
        [{"step": 1, "uid": "a", "reward": 1.0}, {"step": 1, "uid": "a", "reward": 0.0}],
        name="run1/1.jsonl",
    )
    b = write_jsonl(
        [
            {"step": 1, "uid": "b", "reward": 1.0},
            {"step": 1, "uid": "b", "reward": 0.5},
            {"step": 2, "uid": "c", "reward": 0.5},
            {"step": 2, "uid": "c", "reward": 0.0},
        ],
        name="run2/1.jsonl",
    )
    log_ = load([a, b])
    table = group_stats_query(log_.frame, has_length=False, source_col=FILE_COL).collect()
    flags = diagnose(analyze_groups(table, ALL), files=[str(a), str(b)])
    hits = [f for f in flags if f.code == "step_in_several_files"]
    assert [f.step for f in hits] == [1] and str(b) in hits[0].message


def _with_tasks(groups: list[tuple[int, str, str, list[float]]]) -> pl.DataFrame:
    cols: dict[str, list[object]] = {"step": [], "group": [], "task": [], "reward": []}
    for step, group, task, rewards in groups:
        for r in rewards:
            cols["step"].append(step)
            cols["group"].append(group)
            cols["task"].append(task)
            cols["reward"].append(float(r))
    return pl.DataFrame(cols)


def _analyze_tasks(df: pl.DataFrame) -> list:
    from grpoflaw_cli.analysis import analyze_groups
    from grpoflaw_cli.passes import group_stats_query

    table = group_stats_query(df.lazy(), has_length=False, has_task=True).collect()
    return diagnose(analyze_groups(table, ALL))


def test_task_reweighting_positive() -> None:
    # 'shaping' rewards differ by 0.01, 'agent' by 10: GRPO gives them the same say.
    df = _with_tasks(
        [(s, f"a{s}", "agent", [0, 10, 0, 10]) for s in (1, 2)]
        + [(s, f"s{s}", "shaping", [0, 0.01, 0, 0.01]) for s in (1, 2)]
    )
    flags = [f for f in _analyze_tasks(df) if f.code == "task_reweighting"]
    assert {f.group for f in flags} == {"shaping"}  # agent: 100% of spread, 50% of GRPO: 2x
    shaping = next(f for f in flags if f.group == "shaping")
    assert shaping.step is None and shaping.severity is Severity.ERROR
    assert shaping.evidence["share_grpo"] == pytest.approx(0.5, rel=1e-3)
    assert shaping.evidence["share_dr_grpo"] == pytest.approx(1e-6, rel=1e-3)


def test_task_reweighting_negative() -> None:
    df = _with_tasks(
        [(s, f"a{s}", "agent", [0, 1, 0, 1]) for s in (1, 2)]
        + [(s, f"m{s}", "math", [1, 0, 0, 1]) for s in (1, 2)]
    )
    assert not any(f.code == "task_reweighting" for f in _analyze_tasks(df))


def _components(rows: list[tuple[float, float]]) -> list:
    from grpoflaw_cli.analysis import analyze_groups
    from grpoflaw_cli.passes import group_stats_query

    df = pl.DataFrame(
        {
            "step": [1] * len(rows),
            "group": [0] * len(rows),
            "a": [r[0] for r in rows],
            "b": [r[1] for r in rows],
        }
    ).with_columns((pl.col("a") + pl.col("b")).alias("reward"))
    table = group_stats_query(df.lazy(), has_length=False, components=["a", "b"]).collect()
    return diagnose(analyze_groups(table, ALL))


def test_component_aliasing_positive_and_negative() -> None:
    hit = [f for f in _components([(0, 1), (1, 0), (0, 0)]) if f.code == "component_aliasing"]
    assert len(hit) == 1 and hit[0].evidence["component_patterns"] == 3
    assert hit[0].evidence["reward_values"] == 2
    assert not any(f.code == "component_aliasing" for f in _components([(0, 1), (1, 1), (0, 0)]))


def test_component_aliasing_with_sums_that_round() -> None:
    """0.1 + 0.2 and 0.3 + 0 differ in the last bit, yet GRPO gives them one advantage."""
    hit = [
        f for f in _components([(0.1, 0.2), (0.3, 0.0), (0, 0)]) if f.code == "component_aliasing"
    ]
    assert len(hit) == 1 and hit[0].evidence["reward_values"] == 2


def test_collapsed_pair_at_exactly_the_threshold_ratio() -> None:
    """Spreads 2·0.8165 and 0.8165 divide to 1.9999999999999998: still ≥ 2."""
    groups = [(s, f"g{g}", [0, g * s, 2 * g * s]) for s in (3, 1, 2) for g in (1, 2)]
    groups.append((4, "alone", [0, 1, 2]))  # not every iteration: flagged per step
    assert sorted(codes(log(groups))["collapsed_pair"]) == [1, 2, 3]


def test_groups_of_two_make_collapsed_pair_one_run_level_finding() -> None:
    """Every untied pair gets ±1/√2: one finding with its count and steps, not one a step."""
    groups = [(s, g, [0, m]) for s in (1, 2, 3) for g, m in (("a", 1), ("b", 4))]
    groups += [(4, "a", [0, 1]), (4, "b", [0, 1])]  # step 4: equal spreads, no twin
    pairs = [f for f in diagnose(analyze(log(groups), ALL)) if f.code == "collapsed_pair"]
    assert len(pairs) == 1 and pairs[0].step is None
    ev = pairs[0].evidence
    assert (ev["count"], ev["steps"], ev["first_step"], ev["last_step"]) == (3, [1, 2, 3], 1, 3)
    assert ev["structural"] == "groups of two" and len(ev["per_step"]) == 3
    assert "±1/√2" in pairs[0].message and "3 of 4 iterations" in pairs[0].message


def test_a_check_firing_on_every_iteration_is_one_run_level_finding() -> None:
    df = log([(s, g, [1, 1, 1] if g == "a" else [0, 1, 0]) for s in (1, 2, 3) for g in "ab"])
    zero = [f for f in diagnose(analyze(df, ALL)) if f.code == "zero_variance"]
    assert len(zero) == 1 and zero[0].step is None
    assert zero[0].evidence["structural"] == "every iteration"
    assert zero[0].evidence["steps"] == [1, 2, 3] and zero[0].evidence["share"] == 0.5
    one = log([(1, g, [1, 1, 1] if g == "a" else [0, 1, 0]) for g in "ab"])
    assert codes(one)["zero_variance"] == [1]  # one iteration: nothing to merge


def test_a_check_firing_on_nine_iterations_in_ten_is_one_run_level_finding() -> None:
    """Zero variance at steps 1–9 of 10: one finding saying 9 of 10; at 8 of 10, per step."""

    def run(quiet: set[int]) -> pl.DataFrame:
        return log(
            [
                (s, g, [0, 1, 0] if g == "b" or s in quiet else [1, 1, 1])
                for s in range(1, 11)
                for g in "ab"
            ]
        )

    zero = [f for f in diagnose(analyze(run({10}), ALL)) if f.code == "zero_variance"]
    assert len(zero) == 1 and zero[0].step is None
    assert zero[0].evidence["structural"] == "most iterations"
    assert zero[0].evidence["steps"] == list(range(1, 10))
    assert zero[0].message.startswith("9 of 10 iterations; worst, step")
    assert codes(run({9, 10}))["zero_variance"] == list(range(1, 9))


def test_findings_rank_by_consequence_not_by_severity() -> None:
    """Step 1: 15 of 16 groups constant; step 2: a twin pair 10× apart (an error).

    zero_variance affects 120 of 144 rollouts; the pair, all of step 2's GRPO mass: each
    live group of 8 gets Σ A² = 8·(7/8) (ddof 1), so step 2 holds 14 of the run's 21.
    """
    pair = [0, 1] * 4
    groups = [(1, f"c{g}", [1] * 8) for g in range(15)] + [(1, "live", pair)]
    groups += [(2, "a", pair), (2, "b", [10 * r for r in pair])]
    flags = diagnose(analyze(log(groups), ALL))
    order = list(dict.fromkeys(f.code for f in flags))
    assert order.index("zero_variance") < order.index("collapsed_pair")
    zero = next(f for f in flags if f.code == "zero_variance")
    twin = next(f for f in flags if f.code == "collapsed_pair")
    assert zero.severity is Severity.WARNING and twin.severity is Severity.ERROR
    assert zero.evidence["consequence"] == pytest.approx(120 / 144)
    assert zero.evidence["consequence_of"] == "rollouts"
    assert twin.evidence["consequence"] == pytest.approx(14 / 21, rel=1e-5)
    assert twin.evidence["consequence_of"] == "update mass"
    totals = [f.evidence["consequence"] for f in flags]
    assert totals[0] == max(totals)


def test_elasticity_across_iterations_ignores_constant_groups() -> None:
    """GRPO gives every live group the same scale, so across iterations it erases magnitude
    (0), whatever share of each step's groups is constant; Dr. GRPO keeps it (1).

    Step s: one live group [0, 1]·m_s and k_s constant groups of two. With constant
    groups in the fit, GRPO's iteration RMS, √(1/(1+k_s))·0.707…, tracked k_s.
    """
    groups = []
    for step, (m, k) in enumerate([(1, 0), (2, 3), (4, 7), (8, 1)], start=1):
        groups.append((step, "live", [0, m]))
        groups += [(step, f"c{i}", [1, 1]) for i in range(k)]
    mag = {
        r["estimator"]: r for r in analyze(log(groups), ["grpo", "dr_grpo"]).magnitude.to_dicts()
    }
    assert mag["grpo"]["elasticity_across"] == pytest.approx(0.0, abs=1e-5)  # eps
    assert mag["dr_grpo"]["elasticity_across"] == pytest.approx(1.0)


def test_notes_rank_after_problems_whatever_their_reach() -> None:
    """An info note that touches every rollout (ragged groups) does not bury a warning
    that touches a fifth of them (no gradient in those groups)."""
    from grpoflaw_cli.diagnostics.consequence import by_consequence
    from grpoflaw_cli.diagnostics.flags import Flag

    note = Flag("ragged_groups", Severity.INFO, 1, "sizes differ", evidence={"consequence": 1.0})
    dead = Flag("zero_variance", Severity.WARNING, 1, "no signal", evidence={"consequence": 0.2})
    assert [f.code for f in by_consequence([note, dead])] == ["zero_variance", "ragged_groups"]


def test_ties_but_for_last_bit_noise_pick_the_same_row_every_run() -> None:
    """Polars' parallel sums can end a 2× ratio in ...98 in one run and ...04 in the next:
    the worst row of a step, and a run-level finding's worst step, are chosen on 9
    significant digits with ties to the first group and step, so every run names the same."""
    from grpoflaw_cli.diagnostics.flags import Flag, Severity, worst_per_step
    from grpoflaw_cli.diagnostics.structure import run_level

    noisy = [2.0000000000000004, 1.9999999999999998]
    for ratios in (noisy, noisy[::-1]):
        rows = pl.DataFrame({"step": [1, 1], "group": ["b", "a"], "ratio": ratios})
        assert worst_per_step(rows, "ratio")["group"].to_list() == ["a"]
    for scores in (noisy, noisy[::-1]):
        flags = [
            Flag("zero_variance", Severity.WARNING, s, f"step {s}", score=x)
            for s, x in zip((2, 1), scores, strict=True)
        ]
        [merged] = run_level(flags, 2, False)
        assert merged.evidence["per_step"][0] is not None and "step 1" in merged.message


def test_flag_changed_copies_and_refuses_unknown_fields() -> None:
    """Flag.changed is dataclasses.replace without the introspection: the same copy, the
    original untouched, and a name that is no field refused."""
    import dataclasses

    from grpoflaw_cli.diagnostics.flags import Flag, Severity

    flag = Flag("zero_variance", Severity.INFO, 3, "x", group=1, evidence={"a": 1}, score=0.5)
    new = flag.changed(step=None, evidence={"b": 2})
    assert new == dataclasses.replace(flag, step=None, evidence={"b": 2})
    assert flag.step == 3 and flag.evidence == {"a": 1}
    with pytest.raises(TypeError):
        flag.changed(stepp=1)
