"""The verdict (grpoflaw_cli.verdict): hand-checked reallocations and its invariants."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grpoflaw_cli import api as gf
from grpoflaw_cli.analysis import Analysis, analyze_groups
from grpoflaw_cli.diagnostics import diagnose
from grpoflaw_cli.estimators import Conventions
from grpoflaw_cli.passes import group_stats_query
from grpoflaw_cli.verdict import LITTLE, per_iteration, recommendation, verdict

EXACT = Conventions(ddof=1, eps=0.0)


def _analysis(rows: dict[str, list[object]]) -> Analysis:
    has_task = "task" in rows
    table = group_stats_query(pl.LazyFrame(rows), has_length=False, has_task=has_task).collect()
    return analyze_groups(table, ["grpo", "dr_grpo"], EXACT)


def test_seed_hand_checked() -> None:
    # GRPO: both groups Σ A² = n − 1 = 6; Dr. GRPO: Σ (r − μ)² = 6 and 150.
    result = gf.compare(SAMPLES / "seed.jsonl")
    report = result.report()
    v = verdict(result.analysis)
    assert v["reallocated"] == pytest.approx(0.5 - 6 / 156, abs=1e-5)
    assert v["zero_signal"] == 0.0
    assert "46.2%" in v["text"]
    assert "most at" not in v["text"]  # both of the run's two steps: naming them says nothing
    assert v["recommendation"] is not None
    # One group per iteration: nothing moves inside an iteration.
    assert per_iteration(result.analysis) == {1: 0.0, 2: 0.0}
    assert report  # the report still builds


def test_two_tasks_hand_checked() -> None:
    # Pairs (0, a): GRPO gives each Σ A² = 1, Dr. GRPO a²/2 = 0.5, 4.5, 2, 2 (total 9).
    # p = ¼ each, q = (1, 9, 4, 4)/18. reallocated = ½(7/36 + 9/36 + 2/36) = ¼.
    # Task a: P = ½, Q = 10/18; across = ½(1/18 + 1/18) = 1/18.
    # Within a: p̂ = (½, ½), q̂ = (0.1, 0.9): ½(0.4 + 0.4) = 0.4, weight ½(½ + 5/9) = 19/36.
    a = _analysis(
        {
            "step": [1] * 8,
            "group": [0, 0, 1, 1, 2, 2, 3, 3],
            "task": ["a", "a", "a", "a", "b", "b", "b", "b"],
            "reward": [0.0, 1, 0, 3, 0, 2, 0, 2],
        }
    )
    v = verdict(a)
    assert v["reallocated"] == pytest.approx(0.25)
    assert v["reallocated_across_tasks"] == pytest.approx(1 / 18)
    assert v["reallocated_within_tasks"] == pytest.approx(0.4 * 19 / 36)
    assert v["dominant"] == "within"
    assert v["reallocated_across_tasks"] <= v["reallocated"]
    assert v["reallocated"] <= v["reallocated_across_tasks"] + v["reallocated_within_tasks"]


def test_zero_signal_counts_rollouts() -> None:
    # 3 of 7 rollouts are in a constant group.
    a = _analysis(
        {"step": [1] * 7, "group": [0, 0, 0, 1, 1, 1, 1], "reward": [1.0] * 3 + [0, 1, 2, 3]}
    )
    v = verdict(a)
    assert v["zero_signal"] == pytest.approx(3 / 7)
    assert "42.9%" in v["text"]


def test_equal_spreads_need_no_recommendation() -> None:
    a = _analysis({"step": [1] * 6, "group": [0, 0, 1, 1, 2, 2], "reward": [0.0, 1, 5, 6, 2, 3]})
    v = verdict(a)
    assert v["reallocated"] == pytest.approx(0.0, abs=1e-12)
    assert v["recommendation"] is None and LITTLE > 0
    assert v["text"].startswith("Little of the update moved")


@pytest.mark.parametrize(
    ("source", "framework", "expect"),
    [
        ("trl", "trl", 'scale_rewards="none"'),
        ("verl", "verl", "algorithm.norm_adv_by_std_in_grpo=False"),
        ("generic", "openrlhf", "advantage_estimator=dr_grpo"),
    ],
)
def test_recommendation_speaks_the_trainers_words(source: str, framework: str, expect: str) -> None:
    result = gf.compare(SAMPLES / "seed.jsonl")
    rec = verdict(result.analysis, source, framework)["recommendation"]
    assert expect in rec["settings"]


def test_centering_trainers_are_told_so() -> None:
    rec = verdict(gf.compare(SAMPLES / "seed.jsonl").analysis, "prime-rl")["recommendation"]
    assert rec["settings"] == [] and "already centers" in rec["text"]


@pytest.mark.parametrize(
    ("trainer", "settings", "words"),
    [
        ("prime_rl", [], "match Dr. GRPO"),  # its logged advantages keep magnitude
        ("trl_scale_none", [], "match Dr. GRPO"),  # run with scale_rewards="none"
        (  # two reward functions: their weights and aggregation too
            "trl",
            [
                'scale_rewards="none"',
                'scale_rewards="batch"',
                "reward_weights",
                'multi_objective_aggregation="normalize_then_sum"',
            ],
            "scale_rewards",
        ),
        ("nemo_rl", ["grpo.normalize_rewards=false"], "normalize_rewards"),
    ],
)
def test_recommendation_follows_the_logged_advantages(
    trainer: str, settings: list[str], words: str
) -> None:
    rec = gf.compare(SAMPLES / "trainers" / trainer).report()["summary"]["verdict"]
    assert rec["recommendation"]["settings"] == settings
    assert words in rec["recommendation"]["text"]


groups_st = st.lists(
    st.lists(st.integers(-20, 20).map(float), min_size=2, max_size=6), min_size=1, max_size=6
)


def _rows(groups: list[list[float]], scale: float = 1.0) -> dict[str, list[object]]:
    step, group, reward = [], [], []
    for i, g in enumerate(groups):
        step += [1 + i % 2] * len(g)
        group += [i] * len(g)
        reward += [scale * r for r in g]
    return {"step": step, "group": group, "reward": reward}


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups_st, st.sampled_from([0.01, 3.0, 1000.0]))
def test_reallocated_bounded_and_scale_invariant(groups: list[list[float]], c: float) -> None:
    v = verdict(_analysis(_rows(groups)))["reallocated"]
    if v is None:  # no group with a signal: nothing to reallocate, under any scale
        assert all(len(set(g)) < 2 for g in groups)
        assert verdict(_analysis(_rows(groups, c)))["reallocated"] is None
        return
    assert -1e-12 <= v <= 1 + 1e-12
    assert verdict(_analysis(_rows(groups, c)))["reallocated"] == pytest.approx(v, abs=1e-9)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(-5, 5).map(float), min_size=2, max_size=6, unique=True), st.integers(1, 5)
)
def test_same_spread_everywhere_moves_nothing(base: list[float], copies: int) -> None:
    groups = [[r + 7.0 * i for r in base] for i in range(copies)]  # shifted: same spread
    assert verdict(_analysis(_rows(groups)))["reallocated"] == pytest.approx(0.0, abs=1e-12)


def _independent(path: str) -> tuple[float, float, float, dict[int, float]]:
    """reallocated, across and within tasks, per step, from the rows (ddof 1, eps 1e-6)."""
    rows = pl.read_ndjson(SAMPLES / path)
    centered = pl.col("reward") - pl.col("reward").mean().over("step", "prompt_id")
    std = pl.col("reward").std(ddof=1).over("step", "prompt_id").fill_null(0.0)
    g = (
        rows.with_columns(dr=centered**2, grpo=(centered / (std + 1e-6)) ** 2)
        .group_by("step", "prompt_id", "task")
        .agg(pl.col("dr").sum(), pl.col("grpo").sum())
        .with_columns(p=pl.col("grpo") / pl.col("grpo").sum(), q=pl.col("dr") / pl.col("dr").sum())
    )
    total = 0.5 * float((g["p"] - g["q"]).abs().sum())
    t = g.group_by("task").agg(pl.col("p").sum().alias("P"), pl.col("q").sum().alias("Q"))
    across = 0.5 * float((t["P"] - t["Q"]).abs().sum())
    g = g.join(t, on="task")
    inner = g.group_by("task", "P", "Q").agg(
        (0.5 * (pl.col("p") / pl.col("P") - pl.col("q") / pl.col("Q")).abs().sum()).alias("tv")
    )
    within = float((0.5 * (inner["P"] + inner["Q"]) * inner["tv"]).sum())
    steps = {}
    for (step,), part in g.group_by("step"):
        p, q = part["grpo"], part["dr"]
        steps[step] = 0.5 * float((p / p.sum() - q / q.sum()).abs().sum())
    return total, across, within, steps


def test_multitask_recomputed_from_rows() -> None:
    report = gf.compare(SAMPLES / "multitask.jsonl").report()
    v = report["summary"]["verdict"]
    total, across, within, steps = _independent("multitask.jsonl")
    assert v["reallocated"] == pytest.approx(total, abs=1e-9)
    assert v["reallocated_across_tasks"] == pytest.approx(across, abs=1e-9)
    assert v["reallocated_within_tasks"] == pytest.approx(within, abs=1e-9)
    assert v["dominant"] == "across" and v["recommendation"]["trainer"] == "verl"
    assert v["recommendation"]["assumed"]  # a generic log: verl's conventions are assumed
    for row in report["iterations"]:
        assert row["reallocated"] == pytest.approx(steps[row["step"]], abs=1e-9)
        assert list(row)[-1] == "flags"


def test_verdict_on_every_screen() -> None:
    from rich.console import Console

    from grpoflaw_cli.render.html import render_html
    from grpoflaw_cli.render.terminal import render_compare

    result = gf.compare(SAMPLES / "seed.jsonl")
    report = result.report()
    console = Console(width=120, color_system=None)
    with console.capture() as shown:
        console.print(render_compare(report))
    screen = shown.get()
    assert screen.index("grpoflaw compare") < screen.index("Verdict") < screen.index("Per iter")
    page = render_html(report, result.analysis, None)
    assert "<h2>Verdict</h2>" in page and page.index("Verdict") < page.index("How much reward")


def test_a_log_with_no_signal_has_nothing_to_reallocate() -> None:
    """Every group constant: both estimators give no update, so the share is 0/0 (None),
    not a reassuring 0 %."""
    v = verdict(_analysis({"step": [1, 1, 2, 2], "group": [0, 0, 1, 1], "reward": [1.0, 1, 0, 0]}))
    assert v["reallocated"] is None and v["zero_signal"] == 1.0
    assert v["text"].startswith("No update") and v["recommendation"] is None


def test_verl_gdpo_advice_names_the_weights_it_needs() -> None:
    text = recommendation("verl", "verl", components=True)["text"]
    assert "algorithm.gdpo_reward_weights" in text


def test_open_instruct_advice_follows_todays_default() -> None:
    """The bundled open-instruct dump logs today's default (centered: Dr. GRPO's
    advantage), so there is nothing to change; without logged advantages the advice is
    open-instruct's own flag and claims nothing about the run."""
    rec = gf.compare(SAMPLES / "trainers" / "open_instruct").report()["summary"]["verdict"]
    assert rec["recommendation"]["settings"] == []
    assert "match Dr. GRPO" in rec["recommendation"]["text"]
    plain = recommendation("open-instruct", "verl")
    assert plain["settings"] == ["--advantage_normalization_type centered"]
    assert "default today" in plain["text"] and "logged" not in plain["text"]


def test_open_instruct_dump_of_an_older_version_is_told_apart(tmp_path) -> None:
    """An older open-instruct (Args default "standard") logged GRPO advantages with the
    population std and eps 1e-8: the advice names the flag and what the logs show, and the
    logged-advantage check names GRPO as the match."""
    rows = pl.read_ndjson(SAMPLES / "trainers" / "open_instruct" / "run_rollouts_000000.jsonl")
    by = ["step", "prompt_idx"]
    std = (pl.col("reward") - pl.col("reward").mean().over(by)) / (
        pl.col("reward").std(ddof=0).over(by) + 1e-8
    )
    old = tmp_path / "run_rollouts_000000.jsonl"
    rows.with_columns(std.alias("advantage")).write_ndjson(old)
    report = gf.compare(old).report()
    rec = report["summary"]["verdict"]["recommendation"]
    assert rec["settings"] == ["--advantage_normalization_type centered"]
    assert "logged advantages show the std division: an older version" in rec["text"]
    mismatch = [f for f in report["flags"] if f["code"] == "logged_advantage_mismatch"]
    assert mismatch and mismatch[0]["evidence"]["best_match"] == "grpo"
    assert mismatch[0]["evidence"]["expected"] == "dr_grpo"


def test_the_mass_is_that_of_the_advantages_the_trainer_computes(tmp_path) -> None:
    """OpenRLHF clips the shaped value (after the baseline) to [-10, 10]: Dr. GRPO's
    advantages for rewards [0, 40] are ±20 → ±10, Σ A² = 200 (not 800); for [0, 2] ±1,
    Σ A² = 2. GRPO's are about ±0.707 each, so reallocated = ½(|½ − 200/202| + |½ − 2/202|)
    = 0.5 − 2/202: the same Σ A² the attribution counts."""
    rows = [(0, 0.0), (0, 40.0), (1, 0.0), (1, 2.0)]
    log = tmp_path / "clip.jsonl"
    log.write_text("".join(f'{{"step": 1, "group": {g}, "reward": {r}}}\n' for g, r in rows))
    clipped = gf.compare(log, ["grpo", "dr_grpo"], framework="openrlhf")
    assert verdict(clipped.analysis)["reallocated"] == pytest.approx(0.5 - 2 / 202, abs=1e-6)
    raw = gf.compare(log, ["grpo", "dr_grpo"], framework="openrlhf", clip=None)
    assert verdict(raw.analysis)["reallocated"] == pytest.approx(0.5 - 2 / 802, abs=1e-6)


def test_each_trainer_is_told_its_own_setting() -> None:
    """The bundled trainer dumps: the advice names the trainer that wrote the log, in its
    own spelling (ART's is a TrainConfig field, not verl's option), and a run whose logged
    advantages keep magnitude (TRL with scale_rewards="none") is told there is nothing to
    change."""
    expected = {
        "art": ("ART", ["_config=art.dev.TrainConfig(scale_rewards=False)"]),
        "nemo_rl": ("NeMo-RL", ["grpo.normalize_rewards=false"]),
        "trl_scale_none": ("TRL", []),
        "verl_v1": (
            "verl",
            ["algorithm.norm_adv_by_std_in_grpo=False", "algorithm.adv_estimator=rloo"],
        ),
    }
    for folder, (trainer, wanted) in expected.items():
        rec = gf.compare(SAMPLES / "trainers" / folder).report()["summary"]["verdict"]
        advice = rec["recommendation"]
        assert (advice["trainer"], advice["settings"]) == (trainer, wanted), folder
        assert advice["assumed"] is False


def test_closest_is_not_a_match(tmp_path) -> None:
    """A TRL dump whose logged advantages are all 0 matches no estimator: the verdict must
    not say they match Dr. GRPO (the closest) and drop the advice; it advises as for a run
    whose advantages it does not know."""
    src = SAMPLES / "trainers" / "trl" / "completions"
    out = tmp_path / "completions"
    out.mkdir()
    for path in sorted(src.iterdir()):
        frame = pl.read_parquet(path).with_columns(pl.lit(0.0).alias("advantage"))
        frame.write_parquet(out / path.name)
    report = gf.compare(out).report()["summary"]
    assert report["logged_advantage"]["matches"] is False
    advice = report["verdict"]["recommendation"]
    assert "match" not in advice["text"]
    assert advice["settings"][0] == 'scale_rewards="none"'


def test_groups_spanning_tasks_are_flagged_not_split() -> None:
    """One group per step holding two tasks (a wrong group column): the within/across split
    would assign the group to its first task, so the verdict gives none, and a
    mixed_task_groups flag says which share of the rollouts is concerned."""
    rows = {
        "step": [1] * 4 + [2] * 4,
        "group": [0] * 4 + [1] * 4,
        "task": ["code", "code", "chat", "chat"] * 2,
        "reward": [0.0, 50, 0.1, 0.4, 0, 40, 0.2, 0.3],
    }
    a = _analysis(rows)
    v = verdict(a)
    assert "reallocated_within_tasks" not in v and "dominant" not in v
    flags = [f for f in diagnose(a) if f.code == "mixed_task_groups"]
    assert [(f.step, f.evidence["groups"], f.evidence["rollouts_share"]) for f in flags] == [
        (None, 2, 1.0)
    ]
    clean = _analysis({**rows, "group": [0, 0, 1, 1, 2, 2, 3, 3]})
    assert "reallocated_within_tasks" in verdict(clean)
    assert not [f for f in diagnose(clean) if f.code == "mixed_task_groups"]


def test_a_missing_task_neither_hides_nor_makes_a_mixed_group() -> None:
    """A rollout without a task names none: [None, chat, code] spans two tasks (a
    comparison with the first row missed it) and is given the first one named,
    [None, code, code] is a code group, and [code, None] stays code."""
    rows = {
        "step": [1] * 7,
        "group": [0, 0, 0, 1, 1, 1, 2],
        "task": [None, "chat", "code", None, "code", "code", "code"],
        "reward": [0.0, 1, 2, 0, 1, 3, 1],
    }
    groups = _analysis(rows).groups
    assert groups.select("group", "task", "task_mixed").rows() == [
        (0, "chat", True),
        (1, "code", False),
        (2, "code", False),
    ]
    flags = [f for f in diagnose(_analysis(rows)) if f.code == "mixed_task_groups"]
    assert [f.evidence["groups"] for f in flags] == [1]


def test_verl_scores_a_lone_rollout_so_it_is_not_zero_signal(tmp_path) -> None:
    """verl gives a one-rollout group mean 0 and std 1: its advantage is its reward (5 / (1
    + 1e-6)), not 0. Under verl's conventions it is no zero-signal rollout; under TRL's
    (NaN std: no advantage) it is, and the text says "(or alone)"."""
    rows = [(0, r) for r in (0.0, 1, 0, 1)] + [(1, 5.0)] + [(2, 3.0), (2, 3.0)]
    log = tmp_path / "alone.jsonl"
    log.write_text("".join(f'{{"step": 1, "group": {g}, "reward": {r}}}\n' for g, r in rows))
    under_verl = verdict(gf.compare(log, framework="verl").analysis)
    assert under_verl["zero_signal"] == pytest.approx(2 / 7)  # the constant pair only
    assert "(or alone)" not in under_verl["text"]
    under_trl = verdict(gf.compare(log, framework="trl").analysis)
    assert under_trl["zero_signal"] == pytest.approx(3 / 7)
    assert "(or alone)" in under_trl["text"]


def test_all_constant_names_the_estimator_that_still_moves() -> None:
    v = verdict(_analysis({"step": [1, 1, 2, 2], "group": [0, 0, 1, 1], "reward": [1.0, 1, 0, 0]}))
    assert "GRPO and Dr. GRPO give no gradient" in v["text"] and "REINFORCE++" in v["text"]


def test_the_seed_is_one_finding_a_gate_sees(tmp_path) -> None:
    """One group per step: no per-group check can fire, but the verdict's 46.2 % is the
    run-level reallocation warning, so --fail-on warning fails; the terminal's findings
    table leaves it to the verdict panel."""
    result = gf.compare(SAMPLES / "seed.jsonl")
    [flag] = result.flags
    assert (flag.code, flag.severity.value, flag.step) == ("reallocation", "warning", None)
    assert flag.score == pytest.approx(verdict(result.analysis)["reallocated"], abs=1e-12)
    within = gf.compare(SAMPLES / "multitask.jsonl")
    [multi] = [f for f in within.flags if f.code == "reallocation"]
    v = verdict(within.analysis)
    assert multi.score == pytest.approx(v["reallocated_within_tasks"], abs=1e-12)
    assert multi.severity.value == "info"  # 15.9 % within tasks: "some"
