"""simulate: deterministic by seed, statistics that are right, verdicts that follow the rule.
No test pins which estimator wins."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import SAMPLES
from typer.testing import CliRunner

from grpoflaw_cli.cli import app
from grpoflaw_cli.simulate import Setting, run, setting_from_log, summarise, t95

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
    table = summarise({"grpo": ref, "x": better}).rows_by_key("estimator", named=True)
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
    table = summarise({"grpo": ref, "tiny": tiny, "noisy": noisy}).rows_by_key(
        "estimator", named=True
    )
    assert table["tiny"][0]["verdict"] == "no clear difference"
    assert table["noisy"][0]["verdict"] == "no clear difference"


def test_t_quantiles() -> None:
    assert t95(1) == 12.706 and t95(30) == 2.042 and t95(500) == 1.96
    # between tabulated values, the larger (conservative) quantile of the smaller df
    assert t95(11) == 2.228 and t95(29) == 2.060


def test_setting_from_a_log_fits_arms_and_noise_per_task() -> None:
    table = pl.DataFrame(
        {
            "task": ["a"] * 3 + ["b"] * 3,
            "mean": [0.0, 1.0, 2.0, 10.0, 20.0, 30.0],
            "std": [0.5, 0.5, 0.5, 4.0, 5.0, 6.0],
        }
    )
    s = setting_from_log(table, Setting(arms=3))
    assert s.tasks == 2 and s.noise_std == (0.5, 5.0)
    assert s.arm_means is not None and s.arm_means[1][0] == pytest.approx(11.0)
    result = run(Setting(**{**vars(s), "seeds": 3, "iterations": 5}), ["grpo"])
    assert result.curves["grpo"].shape == (3, 5)


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
    assert "grpoflaw-simulation" in out.read_text()
