"""simulate: deterministic by seed, statistics that are right, verdicts that follow the rule.
No test pins which estimator wins."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import SAMPLES
from typer.testing import CliRunner, Result

from grpoflaw_cli.cli import app
from grpoflaw_cli.simulate import Setting, run, setting_from_log, summarize, t95

SMALL = Setting(seeds=4, iterations=12, prompts=4, group=4)


def test_same_seed_same_curves_other_seed_other_curves() -> None:
    a, b = run(SMALL, ["grpo", "dr_grpo"]), run(SMALL, ["grpo", "dr_grpo"])
    for name in a.curves:
        np.testing.assert_array_equal(a.curves[name], b.curves[name])
    c = run(Setting(seeds=4, iterations=12, prompts=4, group=4, seed=1), ["grpo"])
    assert not np.array_equal(a.curves["grpo"], c.curves["grpo"])


def test_estimators_share_tasks_and_start() -> None:
    curves = run(SMALL, ["grpo", "rloo"]).curves
    np.testing.assert_array_equal(curves["grpo"][:, 0], curves["rloo"][:, 0])  # same start
    assert curves["grpo"].shape == (4, 12) and np.all((curves["grpo"] >= 0) & (curves["grpo"] <= 1))


def test_summary_statistics_by_hand() -> None:
    ref = np.tile(np.array([[0.5] * 10]), (5, 1))
    better = ref + np.array([0.10, 0.12, 0.08, 0.11, 0.09])[:, None]
    table = summarize({"grpo": ref, "x": better}).rows_by_key("estimator", named=True)
    x = table["x"][0]
    diffs = np.array([0.10, 0.12, 0.08, 0.11, 0.09])
    assert x["vs_grpo"] == pytest.approx(diffs.mean())
    assert x["vs_ci"] == pytest.approx(t95(4) * diffs.std(ddof=1) / np.sqrt(5))
    assert x["verdict"] == "ahead"
    assert table["grpo"][0]["verdict"] == "reference"


def test_verdict_needs_a_clear_and_large_enough_difference() -> None:
    ref = np.full((6, 4), 0.5)
    tiny = ref + 0.001  # excludes 0 but below the minimum effect
    noisy = ref + np.array([0.3, -0.3, 0.2, -0.2, 0.1, -0.1])[:, None]
    table = summarize({"grpo": ref, "tiny": tiny, "noisy": noisy}).rows_by_key(
        "estimator", named=True
    )
    assert table["tiny"][0]["verdict"] == "no clear difference"
    assert table["noisy"][0]["verdict"] == "no clear difference"


def test_t_quantiles() -> None:
    assert t95(1) == 12.706 and t95(30) == 2.042
    # between tabulated values and beyond the table, the larger (conservative) quantile of
    # the smaller df: never narrower than the exact interval (t(500) = 1.965)
    assert t95(500) == 1.980
    assert t95(11) == 2.228 and t95(29) == 2.060


def test_setting_from_a_log_fits_arms_and_noise_per_task() -> None:
    table = pl.DataFrame(
        {
            "task": ["a"] * 3 + ["b"] * 3 + ["a"],
            "n": [4] * 6 + [1],  # a group of one rollout says nothing about spread: left out
            "mean": [0.0, 1.0, 2.0, 0.2, 0.5, 0.8, 100.0],
            "min": [-3.0, -2.0, -1.0, 0.0, 0.0, 0.0, 100.0],
            "max": [3.0, 4.0, 5.0, 1.0, 1.0, 1.0, 100.0],
            "std": [2.0, 2.0, 2.0, 0.1, 0.1, 0.1, float("nan")],
        }
    )
    s = setting_from_log(table, Setting(arms=3))
    assert s.tasks == 2 and s.verifier == (False, True)
    assert s.arm_means is not None and s.noise_std is not None
    # arms: the 5/50/95 % quantiles of the group means
    assert s.arm_means[0] == pytest.approx((0.1, 1.0, 1.9))
    assert s.arm_means[1] == pytest.approx((0.23, 0.5, 0.77))
    # noise² = mean within-group variance − the arms' variance (uniform policy), by hand:
    # task a: 4 − (0.9² + 0 + 0.9²) / 3 = 3.46
    assert s.noise_std[0] == pytest.approx(np.sqrt(3.46))
    # task b: 0.01 − (0.27² + 0 + 0.27²) / 3 < 0 → no extra noise
    assert s.noise_std[1] == 0.0
    assert s.dim == 3  # one weight per two task-arm logits: the tasks share weights
    result = run(Setting(**{**vars(s), "seeds": 3, "iterations": 5}), ["grpo"])
    assert result.curves["grpo"].shape == (3, 5)


def test_verifier_tasks_draw_zero_one_rewards(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[np.ndarray] = []
    import grpoflaw_cli.simulate as sim

    real = sim.apply

    def spy(coef, reward, *rest):  # type: ignore[no-untyped-def]
        seen.append(reward.copy())
        return real(coef, reward, *rest)

    monkeypatch.setattr(sim, "apply", spy)
    s = Setting(
        seeds=2,
        iterations=3,
        arms=2,
        arm_means=((0.3, 0.7), (5.0, 9.0)),
        noise_std=(0.0, 0.0),
        verifier=(True, False),
    )
    run(s, ["grpo"])
    values = set(np.unique(np.concatenate(seen)))
    assert values <= {0.0, 1.0, 5.0, 9.0} and {0.0, 1.0} <= values


def test_empty_table_is_refused() -> None:
    with pytest.raises(ValueError, match="no group of two"):
        setting_from_log(
            pl.DataFrame({"n": [1], "mean": [1.0], "min": [1.0], "max": [1.0], "std": [None]}),
            Setting(),
        )


def test_cli_simulate_json_and_from_log() -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--seeds",
            "3",
            "--iterations",
            "8",
            "--format",
            "json",
            "--estimators",
            "grpo,dr_grpo",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [r["estimator"] for r in payload["summary"]] == ["grpo", "dr_grpo"]
    assert len(payload["curves"]["grpo"]) == 8
    fitted = CliRunner().invoke(
        app,
        [
            "simulate",
            "--seeds",
            "3",
            "--iterations",
            "5",
            "--estimators",
            "grpo,rloo",
            "--from-log",
            str(SAMPLES / "multitask.jsonl"),
        ],
    )
    assert fitted.exit_code == 0, fitted.output
    assert "fitted to a log" in fitted.output and "rloo" in fitted.output


def test_cli_simulate_html(tmp_path) -> None:
    out = tmp_path / "sim.html"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--seeds",
            "2",
            "--iterations",
            "5",
            "--setting",
            "binary",
            "--html",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "grpoflaw-simulation" in page
    assert "<th>vs GRPO (final)</th>" in page and page.count(" ± ") >= 3  # as the terminal


def _simulate(*args: str) -> Result:
    return CliRunner().invoke(app, ["simulate", "--seeds", "2", "--iterations", "3", *args])


def test_cli_simulate_always_has_its_grpo_reference() -> None:
    result = _simulate("--format", "json", "--estimators", "dr_grpo,rloo")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert [r["estimator"] for r in summary] == ["grpo", "dr_grpo", "rloo"]
    assert summary[0]["verdict"] == "reference"


def test_cli_simulate_runs_a_second_pass_estimator() -> None:
    result = _simulate("--format", "json", "--estimators", "grpo_loo,grpo_passk")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert [r["estimator"] for r in summary] == ["grpo", "grpo_loo", "grpo_passk"]
    assert all(np.isfinite(r["final"]) for r in summary)


def test_cli_simulate_refuses_what_it_cannot_run(tmp_path) -> None:
    opo = _simulate("--estimators", "grpo,opo")
    assert opo.exit_code == 2 and "cannot run opo" in opo.output
    both = _simulate("--setting", "binary", "--from-log", str(SAMPLES / "multitask.jsonl"))
    assert both.exit_code == 2 and "drop --setting binary" in both.output
    singles = tmp_path / "singles.jsonl"
    singles.write_text(
        "".join(f'{{"step": 1, "group": {i}, "reward": {i}.0}}\n' for i in range(10))
    )
    alone = _simulate("--from-log", str(singles))
    assert alone.exit_code == 2, alone.output
    assert "no group of two or more" in alone.output


def test_cli_simulate_all_runs_what_it_can_and_refuses_a_flat_log() -> None:
    every = _simulate("--estimators", "all", "--format", "json")
    assert every.exit_code == 0, every.output
    names = [r["estimator"] for r in json.loads(every.stdout)["summary"]]
    assert "grpo_loo" in names and "opo" not in names and "remax" not in names
    assert "Skipped estimator opo" in every.stderr
    flat = _simulate("--from-log", str(SAMPLES / "seed.jsonl"))  # both groups: mean 0
    assert flat.exit_code == 2 and "same mean reward" in flat.output, flat.output
    assert _simulate("--seed", "-5").exit_code == 2


def test_cli_simulate_from_log_takes_the_column_options(tmp_path) -> None:
    """``--from-log`` reads the log as ``compare`` does: a log with its own column names,
    mapped with the column options, fits the same setting as the same log with common names."""
    rewards = [(0, "a", 1.0), (0, "a", 0.0), (0, "b", 3.0), (0, "b", 0.5), (1, "a", 2.0)]
    rewards += [(1, "a", 0.0)]
    own = tmp_path / "own.jsonl"
    own.write_text("".join(json.dumps({"it": s, "pid": g, "pts": r}) + "\n" for s, g, r in rewards))
    common = tmp_path / "common.jsonl"
    common.write_text(
        "".join(json.dumps({"step": s, "group": g, "reward": r}) + "\n" for s, g, r in rewards)
    )
    mapped = ("--step-col", "it", "--group-col", "pid", "--reward-col", "pts")
    fitted = _simulate("--from-log", str(own), *mapped, "--format", "json")
    assert fitted.exit_code == 0, fitted.output
    expected = _simulate("--from-log", str(common), "--format", "json")
    assert json.loads(fitted.stdout) == json.loads(expected.stdout)
    assert _simulate("--from-log", str(own)).exit_code == 2  # no reward column without them
    alone = _simulate("--reward-col", "pts")
    assert alone.exit_code == 2 and "--from-log" in alone.output
