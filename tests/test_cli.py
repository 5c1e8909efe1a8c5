"""The CLI through Typer's runner on real files: outputs, exit codes, errors, atomic writes,
and golden files for the report structure (set GRPOFLAW_UPDATE_GOLDEN=1 to rewrite them)."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import SAMPLES
from typer.testing import CliRunner

from grpoflaw_cli.cli import app

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("GRPOFLAW_UPDATE_GOLDEN") == "1"


def invoke(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "140", "NO_COLOR": "1"})


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {path} missing: run with GRPOFLAW_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


# --- compare -------------------------------------------------------------------------------


def test_compare_seed_table(runner: CliRunner) -> None:
    result = invoke(runner, "compare", SAMPLES / "seed.jsonl", "--std-ddof", "0")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "std ddof=0 (population), eps=1e-06" in out
    assert "Verdict" in out  # one group per step: no twins to flag, the verdict says it
    assert "4.63" in out and "0.926" in out  # the two iterations' reward spreads
    assert "erases" in out and "keeps" in out


def json_report(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = invoke(runner, "compare", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # nothing but JSON on stdout


def test_compare_json_contract(runner: CliRunner) -> None:
    report = json_report(runner, SAMPLES / "seed.csv")
    assert {"summary", "iterations", "flags"} <= set(report)
    summary = report["summary"]
    assert (summary["rollouts"], summary["iterations"], summary["groups"]) == (14, 2, 2)
    assert summary["conventions"] == {
        "framework": "verl",
        "std_ddof": 1,
        "eps": 1e-6,
        "text": "verl conventions: std ddof=1 (unbiased), eps=1e-06",
    }
    assert [it["step"] for it in report["iterations"]] == [1, 2]
    for flag in report["flags"]:
        assert {"code", "severity", "step", "message", "evidence"} <= set(flag)
    # One group per step: no twin within an iteration, and no per-group check fires; the
    # verdict's headline is the one finding: 0.5 − 6/156 of the mass moved, a warning.
    [flag] = report["flags"]
    assert (flag["code"], flag["severity"], flag["step"]) == ("reallocation", "warning", None)
    seed = np.array([-1.0, -1, -1, 0, 1, 1, 1])
    grpo = [(((m * seed) / (np.std(m * seed, ddof=1) + 1e-6)) ** 2).sum() for m in (1, 5)]
    p, q = np.array(grpo) / sum(grpo), np.array([6.0, 150.0]) / 156  # Σ (r − mean)²
    assert flag["evidence"]["reallocated"] == pytest.approx(0.5 * abs(p - q).sum(), abs=1e-12)
    assert 0.5 * abs(p - q).sum() == pytest.approx(0.5 - 6 / 156, abs=1e-6)  # eps aside
    grpo = [it["scale_grpo"] for it in report["iterations"]]
    assert grpo[0] == pytest.approx(grpo[1], rel=1e-6)  # the flaw, in numbers
    dr = [it["scale_dr_grpo"] for it in report["iterations"]]
    assert dr[1] / dr[0] == pytest.approx(5.0)


def test_reward_weights_are_in_the_header_and_json(runner: CliRunner, write_jsonl) -> None:
    """``--reward-weights`` change every number: the header and the JSON summary say so."""
    rows = [
        {"step": 1, "group": g, "acc": a, "fmt": f}
        for g in range(2)
        for a, f in ((0, 0), (1, 1), (1, 0))
    ]
    path = write_jsonl(rows)
    weighted = ("--reward-col", "acc", "--reward-col", "fmt", "--reward-weights", "4,0.5")
    shown = invoke(runner, "compare", path, *weighted)
    assert shown.exit_code == 0, shown.output
    assert "reward=4·acc + 0.5·fmt" in shown.output
    found = json.loads(invoke(runner, "compare", path, *weighted, "--format", "json").stdout)
    assert found["summary"]["reward_weights"] == {"acc": 4.0, "fmt": 0.5}
    assert found["summary"]["columns"]["reward"] == "4·acc + 0.5·fmt"
    plain = invoke(runner, "compare", path, "--reward-col", "acc", "--format", "json")
    assert "reward_weights" not in json.loads(plain.stdout)["summary"]


def test_compare_json_golden(runner: CliRunner) -> None:
    report = json_report(runner, SAMPLES / "seed.parquet", "--std-ddof", "0")
    report.pop("grpoflaw_version")
    report["summary"]["files"] = ["<seed>"]
    check_golden("seed_compare.json", json.dumps(report, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize(
    ("log", "golden"),
    [
        ("sample_data/multitask.jsonl", "multitask_compare.txt"),
        ("sample_data/trainers/verl_multi_reward", "verl_multi_reward_compare.txt"),
    ],
)
def test_compare_screen_golden(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, log: str, golden: str
) -> None:
    """The whole ``compare`` screen at 120 columns: the answer first (header, verdict,
    findings by consequence, attribution), then the evidence, in about 100 lines."""
    monkeypatch.chdir(SAMPLES.parent)
    result = runner.invoke(app, ["compare", log], env={"COLUMNS": "120", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) <= 100, f"{len(lines)} lines"
    titles = [i for i, line in enumerate(lines) if line.startswith(("╭─ Verdict", "Findings"))]
    assert len(titles) == 2 and titles[1] < 40  # the verdict, then the findings, first
    check_golden(golden, "\n".join(line.rstrip() for line in lines) + "\n")


def test_compare_csv_is_the_iteration_table(runner: CliRunner) -> None:
    result = invoke(runner, "compare", SAMPLES / "seed.jsonl", "--format", "csv")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("step,rollouts,groups,reward_mean")
    assert "scale_grpo" in lines[0] and lines[0].endswith("flags")
    assert len(lines) == 3


def test_compare_all_formats_agree(runner: CliRunner) -> None:
    reports = [json_report(runner, SAMPLES / f"seed.{ext}") for ext in ("jsonl", "csv", "parquet")]
    assert reports[0]["iterations"] == reports[1]["iterations"] == reports[2]["iterations"]


def test_compare_multitask_shows_every_flag(runner: CliRunner) -> None:
    report = json_report(runner, SAMPLES / "multitask.jsonl")
    found = {f["code"] for f in report["flags"]}
    assert found == {
        "collapsed_pair",
        "magnitude_collapse",
        "magnitude_collapse_groups",
        "zero_variance",
        "noise_amplification",
        "singleton_groups",
        "task_reweighting",
        "reallocation",
    }
    collapse = {f["step"] for f in report["flags"] if f["code"] == "magnitude_collapse"}
    assert collapse == {12, 13, 30}  # the math-only curriculum steps
    assert report["summary"]["columns"]["task"] == "task"


@pytest.mark.parametrize(("fail_on", "code"), [("none", 0), ("warning", 1), ("error", 0)])
def test_fail_on_gates_the_exit_code(
    runner: CliRunner, tmp_path: Path, fail_on: str, code: int
) -> None:
    seed = [-1, -1, -1, 0, 1, 1, 1]  # the seed's two groups in one step: a warning
    rows = [{"step": 1, "group": g, "reward": v * m} for g, m in (("a", 1), ("b", 5)) for v in seed]
    path = tmp_path / "pair.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke(runner, "compare", str(path), "--fail-on", fail_on, "--format", "json")
    assert result.exit_code == code


def test_fail_on_says_which_finding_caused_exit_1(runner: CliRunner, tmp_path: Path) -> None:
    """Two collapsed_pair warnings (the seed's groups side by side at steps 1 and 2; step 3
    has two groups of one spread) and nothing worse."""
    seed = [-1, -1, -1, 0, 1, 1, 1]
    scales = {1: (1, 5), 2: (1, 5), 3: (1, 1)}
    rows = [
        {"step": s, "group": g, "reward": v * m}
        for s, ms in scales.items()
        for g, m in zip("ab", ms, strict=True)
        for v in seed
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke(runner, "compare", path, "--fail-on", "warning")
    assert result.exit_code == 1
    first, worst = result.stderr.splitlines()[-2:]
    assert first == (
        "--fail-on warning: exit 1 because of 6 findings at warning or worse: "
        "collapsed_pair ×2 (steps 1–2), reallocation ×1 (the run), "
        "magnitude_collapse_groups ×2 (steps 1–2), magnitude_collapse ×1 (step 3)"
    )
    assert worst.startswith("  worst: ") and "(warning)" in worst
    assert "--fail-on" not in invoke(runner, "compare", path).stderr


def test_estimators_option_selects(runner: CliRunner) -> None:
    report = json_report(runner, SAMPLES / "seed.jsonl", "--estimators", "rloo,grpo")
    assert report["summary"]["estimators"] == ["rloo", "grpo"]
    assert "scale_dr_grpo" not in report["iterations"][0]


def test_max_rl_on_request_through_the_cli(runner: CliRunner, tmp_path: Path) -> None:
    """MaxRL is listed, off by default, and computed with --estimators max_rl: on a group
    with one success in four, the success gets 1/μ − 1 = 3 and each failure −1."""
    listing = invoke(runner, "estimators")
    assert listing.exit_code == 0 and "max_rl" in listing.output and "MaxRL" in listing.output
    log = tmp_path / "maxrl.jsonl"
    rows = [{"step": 1, "group": "q", "reward": r} for r in (0.0, 0.0, 0.0, 1.0)]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert "max_rl" not in json_report(runner, log)["summary"]["estimators"]
    out = tmp_path / "adv.csv"
    result = invoke(runner, "advantages", log, "-o", out, "--estimators", "max_rl")
    assert result.exit_code == 0, result.output
    assert pl.read_csv(out)["adv_max_rl"].to_list() == [-1.0, -1.0, -1.0, 3.0]


def test_second_pass_estimators_run_on_request(runner: CliRunner, tmp_path: Path) -> None:
    # grpo_loo (NeMo-RL's default) needs a second pass over the rows: not a default on
    # other logs, but there for --estimators and "all", and on NeMo-RL logs (test_trainers)
    assert "grpo_loo" not in json_report(runner, SAMPLES / "seed.jsonl")["summary"]["estimators"]
    everything = json_report(runner, SAMPLES / "seed.jsonl", "--estimators", "all")
    assert "grpo_loo" in everything["summary"]["estimators"]
    out = tmp_path / "adv.parquet"
    args = ("advantages", SAMPLES / "seed.jsonl", "-o", out, "--estimators", "grpo_loo,grpo")
    assert invoke(runner, *args).exit_code == 0
    # by hand: each rollout against the mean and sample std of the other six
    rewards = pl.read_parquet(out)["reward"].to_numpy()
    want = [
        (r - np.delete(group, i).mean()) / (np.delete(group, i).std(ddof=1) + 1e-6)
        for group in (rewards[:7], rewards[7:])
        for i, r in enumerate(group)
    ]
    np.testing.assert_allclose(pl.read_parquet(out)["adv_grpo_loo"], want, rtol=1e-12)


def test_diagnostics_run_without_grpo_selected(runner: CliRunner) -> None:
    report = json_report(runner, SAMPLES / "multitask.jsonl", "--estimators", "dr_grpo")
    assert {"magnitude_collapse", "noise_amplification"} <= {f["code"] for f in report["flags"]}
    assert [m["estimator"] for m in report["summary"]["magnitude"]] == ["dr_grpo"]


# --- html ----------------------------------------------------------------------------------


def html_skeleton(html: str) -> str:
    """Headings, table headers and the chart traces (type, name): what must not drift."""
    lines = [f"{tag}: {text}" for tag, text in re.findall(r"<(h1|h2)>(.*?)</\1>", html)]
    lines += [f"th: {text}" for text in re.findall(r"<th[^>]*>(.*?)</th>", html)]
    start = html.index("Plotly.newPlot(")
    payload = html[start + len("Plotly.newPlot(") :]
    payload = payload[payload.index("[") :]
    traces, _ = json.JSONDecoder().raw_decode(payload)
    lines += [f"trace: {t['type']} {t.get('name', '')} xaxis={t.get('xaxis', 'x')}" for t in traces]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_html_report_is_self_contained(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = invoke(runner, "compare", SAMPLES / "multitask.jsonl", "--html", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert '<script src="http' not in html  # no CDN: opens offline
    assert "plotly.js v" in html or "Plotly" in html
    assert len(html) > 1_000_000  # plotly.js is embedded
    check_golden("multitask_report.skeleton.txt", html_skeleton(html))


# --- advantages ----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["parquet", "csv", "jsonl"])
def test_advantages_keeps_row_order_and_columns(
    runner: CliRunner, tmp_path: Path, ext: str
) -> None:
    out = tmp_path / f"adv.{ext}"
    result = invoke(runner, "advantages", SAMPLES / "multitask.jsonl", "-o", out)
    assert result.exit_code == 0, result.output
    df = {"parquet": pl.read_parquet, "csv": pl.read_csv, "jsonl": pl.read_ndjson}[ext](out)
    source = pl.read_ndjson(SAMPLES / "multitask.jsonl")
    assert df.height == source.height
    assert df["prompt_id"].to_list() == source["prompt_id"].to_list()
    assert df["sample_idx"].to_list() == source["sample_idx"].to_list()
    assert {"step", "group", "reward", "response_length", "reward_correct"} <= set(df.columns)
    assert [c for c in df.columns if c.startswith("adv_")] == [
        "adv_grpo",
        "adv_grpo_batch",
        "adv_dr_grpo",
        "adv_rloo",
        "adv_reinforce_pp",
        "adv_reinforce_pp_baseline",
        "adv_gpg",
        "adv_opo",  # the log has response lengths; remax needs a baseline it lacks
        "adv_gdpo",
    ]
    assert "__file" not in df.columns


def test_advantages_seed_reproduces_the_blog_table(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "adv.csv"
    result = invoke(
        runner, "advantages", SAMPLES / "seed.jsonl", "-o", out, "--std-ddof", "0", "--eps", "0"
    )
    assert result.exit_code == 0
    df = pl.read_csv(out)
    assert [round(a, 4) for a in df["adv_grpo"]] == [
        -1.0801,
        -1.0801,
        -1.0801,
        0.0,
        1.0801,
        1.0801,
        1.0801,
    ] * 2
    assert df["adv_dr_grpo"].to_list() == [-1, -1, -1, 0, 1, 1, 1, -5, -5, -5, 0, 5, 5, 5]


def test_advantages_csv_writes_nested_columns_as_json(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "completions_00001.parquet"
    pl.DataFrame(
        {
            "step": [1, 1],
            "prompt": [[{"role": "user", "content": "2+2?"}]] * 2,
            "accuracy_reward": [1.0, 0.0],
        }
    ).write_parquet(log)
    result = invoke(runner, "advantages", log, "--group-size", "2", "-o", "-")
    assert result.exit_code == 0, result.output
    df = pl.read_csv(result.stdout.encode())
    assert json.loads(df["prompt"][0]) == [{"role": "user", "content": "2+2?"}]
    assert df["adv_dr_grpo"].to_list() == [0.5, -0.5]


def test_advantages_refuses_unknown_output_format_before_reading(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = invoke(runner, "advantages", tmp_path / "missing.jsonl", "-o", tmp_path / "x.xlsx")
    assert result.exit_code == 2
    assert "output format" in result.output


# --- inspect -------------------------------------------------------------------------------


def test_inspect_says_what_and_why(runner: CliRunner) -> None:
    result = invoke(runner, "inspect", SAMPLES / "multitask.jsonl")
    assert result.exit_code == 0, result.output
    for text in ("10,233", "1,280", "min 1, median 8, max 8", "prompt_id", "response_length"):
        assert text in result.output


def test_inspect_counts_duplicate_rows(runner: CliRunner, write_jsonl) -> None:
    rows = [{"step": 1, "uid": "a", "reward": float(i), "text": "x"} for i in range(4)]
    result = invoke(runner, "inspect", write_jsonl(rows + rows[:3]), "--format", "json")
    assert json.loads(result.stdout)["facts"]["duplicate rows"] == 3


def test_inspect_shows_a_log_without_a_reward_column(runner: CliRunner, write_jsonl) -> None:
    """inspect is the discovery command: it shows the columns and what is missing (exit 0);
    compare on the same log still refuses it (exit 2)."""
    path = write_jsonl([{"step": 1, "prompt": "a", "value": v} for v in (1, 0)])
    shown = invoke(runner, "inspect", path)
    assert shown.exit_code == 0, shown.output
    assert "step, prompt, value" in shown.output
    assert "no reward column found" in shown.output and "--reward-col" in shown.output
    found = json.loads(invoke(runner, "inspect", path, "--format", "json").stdout)
    assert found["facts"]["columns"] == "step, prompt, value"
    assert found["facts"]["missing"].startswith("the reward column")
    assert invoke(runner, "compare", path).exit_code == 2


def test_counts_are_written_one_way(runner: CliRunner, write_jsonl, tmp_path: Path) -> None:
    """One iteration reads "1 iteration"; counts carry thousands separators in the
    terminal, the HTML and inspect alike (formatting.count)."""
    one = write_jsonl([{"step": 1, "group": 0, "reward": r} for r in (0.0, 1.0)])
    shown = invoke(runner, "compare", one)
    assert "rollouts    2 in 1 iteration, 1 group" in shown.output, shown.output
    page = tmp_path / "one.html"
    assert invoke(runner, "compare", one, "--html", page).exit_code == 0
    assert "2 rollouts, 1 iteration,\n1 group &middot;" in page.read_text(encoding="utf-8")
    multitask = invoke(runner, "compare", SAMPLES / "multitask.jsonl")
    assert "rollouts    10,233 in 40 iterations, 1,280 groups" in multitask.output
    found = invoke(runner, "inspect", SAMPLES / "multitask.jsonl").output
    assert re.search(r"rows +10,233", found) and re.search(r"groups +1,280", found)


def test_inspect_json(runner: CliRunner) -> None:
    result = invoke(runner, "inspect", SAMPLES / "seed.jsonl", "--format", "json")
    payload = json.loads(result.stdout)
    assert payload["facts"]["rows"] == 14 and payload["facts"]["iterations"] == 2
    assert any("no group column" in r for r in payload["reasons"])


# --- bad input: clear message, exit 2, no traceback, no half-written file --------------------


def assert_clean_error(result: Any, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    assert_clean_error(invoke(runner, "compare", tmp_path / "nope.jsonl"), "no such file")


def test_unknown_column(runner: CliRunner) -> None:
    result = invoke(runner, "compare", SAMPLES / "seed.jsonl", "--reward-col", "score")
    assert_clean_error(result, "--reward-col 'score'", "step, rollout, reward")


def test_non_numeric_reward_names_line_and_column(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("step,reward\n" + "1,0.5\n" * 300 + "1,oops\n")
    assert_clean_error(invoke(runner, "compare", path), "line 302", "'reward'", "'oops'")


def test_malformed_jsonl_line(runner: CliRunner, write_jsonl) -> None:
    path = write_jsonl(
        ['{"step": 1, "reward": 1.0}', '{"step": 1, "rew', '{"step": 1, "reward": 2}']
    )
    assert_clean_error(invoke(runner, "compare", path), "line 2")


def test_truncated_last_line_is_called_out(runner: CliRunner, write_jsonl) -> None:
    path = write_jsonl(['{"step": 1, "reward": 1.0}', '{"step": 1, "reward": 2.0}', '{"step": 1'])
    assert_clean_error(invoke(runner, "compare", path), "line 3", "still being written")


def test_skip_bad_lines_goes_on_and_says_how_many(runner: CliRunner, write_jsonl) -> None:
    lines = [
        '{"step": 1, "reward": 1.0}',
        '{"step": 1, "rew',
        '{"step": 1, "reward": 3.0}',
        "",
        '{"step": 1, "reward": 2.0}',
        '{"step": 1, "reward": ',
    ]
    path = write_jsonl(lines)
    result = invoke(runner, "compare", path, "--skip-bad-lines", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["rollouts"] == 3
    assert report["summary"]["skipped_lines"] == {str(path): [2, 6]}
    assert "Skipped 2 malformed lines " in result.stderr


def test_null_reward(runner: CliRunner, write_jsonl) -> None:
    path = write_jsonl([{"step": 1, "reward": 1.0}, {"step": 1, "reward": None}])
    assert_clean_error(invoke(runner, "compare", path), "line 2", "missing or not finite")


def test_bare_nan_in_jsonl(runner: CliRunner, write_jsonl) -> None:
    path = write_jsonl(['{"step": 1, "reward": 1.0}', '{"step": 1, "reward": NaN}'])
    assert_clean_error(invoke(runner, "compare", path), "line 2", "NaN")


def test_failed_run_leaves_existing_output_untouched(
    runner: CliRunner, tmp_path: Path, write_jsonl
) -> None:
    bad = write_jsonl([{"step": 1, "reward": None}])
    report, table = tmp_path / "report.html", tmp_path / "adv.parquet"
    report.write_text("previous report")
    table.write_text("previous table")
    assert invoke(runner, "compare", bad, "--html", report).exit_code == 2
    assert invoke(runner, "advantages", bad, "-o", table).exit_code == 2
    assert report.read_text() == "previous report" and table.read_text() == "previous table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adv.parquet", "log.jsonl", "report.html"]


def test_bad_option_value_is_a_usage_error(runner: CliRunner) -> None:
    result = invoke(runner, "compare", SAMPLES / "seed.jsonl", "--std-ddof", "3")
    assert result.exit_code == 2


def test_version_and_help(runner: CliRunner) -> None:
    assert invoke(runner, "--version").output.startswith("grpoflaw ")
    result = invoke(runner, "--help")
    assert result.exit_code == 0
    for command in ("compare", "advantages", "inspect", "estimators"):
        assert command in result.output


def test_flags_spell_every_option_as_a_flag_a_command_has() -> None:
    """A library message names a setting by errors.option(); the CLI spells it from FLAGS,
    so FLAGS must name each setting, and each as a flag that some command takes."""
    import typer.core
    import typer.main

    from grpoflaw_cli.cli import FLAGS
    from grpoflaw_cli.errors import OPTIONS

    assert set(FLAGS) == set(OPTIONS)
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    commands = group.commands.values()
    flags = {flag for command in commands for param in command.params for flag in param.opts}
    assert {name: flag for name, flag in FLAGS.items() if flag not in flags} == {}


def test_output_that_cannot_be_written_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "adv.csv"  # a folder where the output file should go
    folder.mkdir()
    result = invoke(runner, "advantages", SAMPLES / "seed.csv", "-o", folder)
    assert result.exit_code == 2
    assert f"cannot write '{folder}'" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adv.csv"]  # no temp file left


def test_empty_and_missing_records_write_as_json_text(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "rollouts.jsonl"
    rows = [
        {
            "step": 1,
            "group": 0,
            "reward": float(i),
            "métadonnées": {},
            "info": {"k": i} if i else None,
        }
        for i in range(4)
    ]
    log.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    out = tmp_path / "adv.parquet"
    result = invoke(runner, "advantages", log, "-o", out, "--estimators", "grpo")
    assert result.exit_code == 0, result.output
    written = pl.read_parquet(out)
    assert written["métadonnées"].to_list() == ["{}"] * 4  # Parquet cannot store {}
    assert written["info"].to_list() == [None, {"k": 1}, {"k": 2}, {"k": 3}]


def test_outputs_get_ordinary_file_modes(runner: CliRunner, tmp_path: Path) -> None:
    import os
    import stat

    fresh, existing = tmp_path / "fresh.csv", tmp_path / "existing.csv"
    existing.write_text("old")
    existing.chmod(0o640)
    umask = os.umask(0o022)
    try:
        for out in (fresh, existing):
            assert invoke(runner, "advantages", SAMPLES / "seed.jsonl", "-o", out).exit_code == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640


# --- watch ---------------------------------------------------------------------------------


def test_watch_renders_a_dump_folder_in_progress(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a short name: the header cuts a long one to fit the width
    folder = Path("rollouts")
    folder.mkdir()
    source = SAMPLES / "trainers" / "verl_v1"
    (folder / "1.jsonl").write_bytes((source / "1.jsonl").read_bytes())
    (folder / "2.jsonl").write_bytes((source / "2.jsonl").read_bytes()[:2500])  # mid-write
    result = invoke(runner, "watch", folder, "--refreshes", "1", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    assert f"watching {folder}" in result.output
    assert "in 2 iterations" in result.output  # the half-written file is read up to its cut


def test_watch_keeps_showing_what_it_can_read_while_files_are_written(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "rollouts"
    folder.mkdir()
    source = SAMPLES / "trainers" / "verl_v1"
    (folder / "1.jsonl").write_bytes((source / "1.jsonl").read_bytes())
    (folder / "2.jsonl").write_bytes(b"")  # just created
    (folder / "3.jsonl").write_bytes(b'{"input": "half a li')  # first line still being written
    (folder / "4.parquet").write_bytes((SAMPLES / "seed.parquet").read_bytes()[:500])  # no footer
    result = invoke(runner, "watch", folder, "--refreshes", "1", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    assert "in 1 iteration," in result.output  # 1.jsonl still shows
    assert "waiting: " in result.output and "4.parquet" in result.output
    assert "--skip-bad-lines" not in result.output  # watch has no such flag to suggest


def test_watch_leaves_out_only_the_file_it_cannot_read(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "rollouts"
    folder.mkdir()
    source = SAMPLES / "trainers" / "verl_v1"
    for step in ("1", "2"):
        (folder / f"{step}.jsonl").write_bytes((source / f"{step}.jsonl").read_bytes())
    lines = (source / "3.jsonl").read_text().splitlines()
    bad = json.loads(lines[0]) | {"score": "oops"}
    (folder / "3.jsonl").write_text(json.dumps(bad) + "\n" + "\n".join(lines[1:]) + "\n")
    # an unchanged folder still counts its looks: --refreshes 3 ends
    result = invoke(runner, "watch", folder, "--refreshes", "3", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    assert "in 2 iterations" in result.output and "left out 3.jsonl" in result.output


def test_watch_waits_for_logs_and_refuses_a_missing_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a short name: the header cuts a long one to fit the width
    result = invoke(runner, "watch", ".", "--refreshes", "1", "--interval", "0.1")
    assert result.exit_code == 0 and "waiting" in result.output and "no log files" in result.output
    assert invoke(runner, "watch", tmp_path / "nope", "--refreshes", "1").exit_code == 2


def test_advantages_read_back_keep_both_columns(runner: CliRunner, tmp_path: Path) -> None:
    """A file grpoflaw wrote, read again: its adv_* columns are carried as src_adv_*, never
    clash with the new ones, and are no verl reward-extra key."""
    first, second = tmp_path / "a1.csv", tmp_path / "a2.parquet"
    invoke(runner, "advantages", SAMPLES / "seed.jsonl", "-o", first, "--estimators", "grpo")
    result = invoke(runner, "advantages", first, "-o", second, "--estimators", "grpo")
    assert result.exit_code == 0, result.output
    out = pl.read_parquet(second)
    assert {"src_adv_grpo", "adv_grpo"} <= set(out.columns)
    np.testing.assert_allclose(out["src_adv_grpo"], out["adv_grpo"])
    verl = tmp_path / "verl.jsonl"
    source = SAMPLES / "trainers" / "verl_v1"
    invoke(runner, "advantages", source, "-o", verl, "--estimators", "grpo")
    shown = invoke(runner, "inspect", verl)
    assert shown.exit_code == 0 and "components" not in shown.output, shown.output


def test_read_back_twice_and_src_columns_of_ones_own(runner: CliRunner, tmp_path: Path) -> None:
    files = [tmp_path / f"a{i}.csv" for i in range(3)]
    invoke(runner, "advantages", SAMPLES / "seed.jsonl", "-o", files[0], "--estimators", "grpo")
    for before, after in itertools.pairwise(files):
        result = invoke(runner, "advantages", before, "-o", after, "--estimators", "grpo")
        assert result.exit_code == 0, result.output
    assert {"src_adv_grpo", "src_src_adv_grpo", "adv_grpo"} <= set(pl.read_csv(files[2]).columns)
    own = tmp_path / "own.csv"
    own.write_text("step,group,reward,src_reward\n1,0,1,1\n1,0,0,0\n")
    shown = invoke(runner, "inspect", own)
    assert shown.exit_code == 0 and "duplicate rows   0" in shown.output, shown.output


def test_estimators_listing_styles_without_markup_text(runner: CliRunner) -> None:
    result = invoke(runner, "estimators")
    assert result.exit_code == 0 and "[dim]" not in result.output
    assert "(a framework" in result.output


def test_no_signal_with_tasks_and_null_scales_in_csv(runner: CliRunner, tmp_path: Path) -> None:
    """A task-tagged smoke run with constant rewards (task shares of nothing), and an
    OpenRLHF log whose first 105 iterations have no GRPO scale, in every format."""
    rows = [
        {"step": 1, "group": g, "task": t, "reward": r}
        for g, t, r in (("a", "t1", 1.0), ("b", "t2", 2.0))
        for _ in range(2)
    ]
    flat = tmp_path / "flat.jsonl"
    flat.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for args in ((), ("--html", str(tmp_path / "flat.html"))):
        result = invoke(runner, "compare", flat, *args)
        assert result.exit_code == 0 and "zero_variance" in result.output, result.output
    single = [{"step": s, "group": 0, "reward": 1.0} for s in range(105)]
    pairs = [
        {"step": s, "group": g, "reward": v}
        for s in range(105, 110)
        for g in (0, 1)
        for v in (0.0, 1.0)
    ]
    late = tmp_path / "late.jsonl"
    late.write_text("".join(json.dumps(r) + "\n" for r in single + pairs))
    csv = invoke(runner, "compare", late, "--framework", "openrlhf", "--format", "csv")
    assert csv.exit_code == 0, csv.output
    table = pl.read_csv(csv.stdout.encode())
    assert table.height == 110 and table["scale_grpo"].null_count() == 105


@pytest.mark.slow
def test_html_header_names_what_was_not_computed(runner: CliRunner, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    invoke(runner, "compare", SAMPLES / "multitask.jsonl", "--html", page)
    text = page.read_text()
    assert "not computed: remax" in text and "source: " in text
    folder = invoke(runner, "compare", SAMPLES / "seed.jsonl", "--html", "")
    assert folder.exit_code == 2 and "it is a folder" in folder.output


def test_inspect_counts_what_compare_uses(runner: CliRunner, tmp_path: Path) -> None:
    """verl multi-turn sessions: the group sizes are those of the sessions' last outputs,
    as compare's; a row with no step is counted, as compare will refuse it."""
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text(
        "".join(
            json.dumps(
                {"input": p, "output": f"{s}-{o}", "score": float(s * (o == 2)), "step": 1}
                | {"uid": f"{p}_{s}_{o}"}
            )
            + "\n"
            for p in ("pA", "pB")
            for s in range(4)
            for o in range(3)
        )
    )
    facts = json.loads(invoke(runner, "inspect", sessions, "--format", "json").stdout)["facts"]
    compared = json.loads(invoke(runner, "compare", sessions, "--format", "json").stdout)
    assert facts["rows"] == 24 and facts["rollouts used"] == compared["summary"]["rollouts"] == 8
    assert facts["group sizes"] == "min 4, median 4, max 4"
    no_step = tmp_path / "no_step.jsonl"
    no_step.write_text(
        '{"step": 1, "uid": "a", "reward": 1}\n{"step": null, "uid": "a", "reward": 0}\n'
    )
    facts = json.loads(invoke(runner, "inspect", no_step, "--format", "json").stdout)["facts"]
    assert facts["rows without a step"] == 1


def test_inspect_names_a_trainers_own_conventions(runner: CliRunner) -> None:
    facts = json.loads(
        invoke(runner, "inspect", SAMPLES / "trainers" / "art", "--format", "json").stdout
    )["facts"]
    assert facts["source"] == "art"
    assert facts["conventions"].startswith("art conventions (verl's rules where it has none)")
    assert "ddof=0" in facts["conventions"]


def test_a_flag_names_the_cli_flag_that_fixes_it(runner: CliRunner, write_jsonl) -> None:
    """A flag's advice names a setting; in the CLI's outputs it is the CLI's flag (the API
    says group_col), on the screen and in the JSON alike."""
    rows = [{"step": 1, "uid": i, "reward": float(i % 3)} for i in range(12)]
    rows += [{"step": 1, "uid": 99, "reward": 0.0}, {"step": 1, "uid": 99, "reward": 1.0}]
    log = write_jsonl(rows)
    done = runner.invoke(app, ["compare", str(log), "--group-col", "uid", "--format", "json"])
    flags = json.loads(done.stdout)["flags"]
    advice = next(f["message"] for f in flags if f["code"] == "singleton_groups")
    assert advice.endswith("map the prompt with --group-col or --group-size N")
    screen = runner.invoke(app, ["compare", str(log), "--group-col", "uid"], env={"COLUMNS": "300"})
    assert "\x1f" not in screen.stdout and "group_col" not in screen.stdout


def test_fail_on_offers_none_and_every_severity() -> None:
    from grpoflaw_cli.cli.compare import FailOn
    from grpoflaw_cli.diagnostics import Severity

    assert [f.value for f in FailOn] == ["none", *(s.value for s in Severity)]


def test_watch_shows_the_verdict_under_its_header(runner: CliRunner) -> None:
    shown = invoke(
        runner, "watch", SAMPLES / "trainers" / "verl_reward_keys", "--refreshes", "1"
    ).stdout
    assert "Verdict" in shown and shown.index("Verdict") < shown.index("Per iteration")


def test_the_flags_legend_names_only_the_codes_shown(runner: CliRunner) -> None:
    out = invoke(runner, "compare", SAMPLES / "multitask.jsonl").stdout
    assert "magn=magnitude_collapse" in out  # in the table's flags column
    assert "logged=logged_advantage_mismatch" not in out  # no such flag in this run


def test_the_cli_sets_polars_allocator_decay_before_polars_is_imported() -> None:
    """The CLI asks Polars' jemalloc to return freed pages after 50 ms (peak RSS), which
    it reads when Polars is first imported; a user's own setting is kept, Polars' own is
    not (except for advantages)."""
    probe = "import os\nimport grpoflaw_cli.cli\nprint(os.environ.get('_RJEM_MALLOC_CONF'))\n"
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    ours = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert ours.stdout.strip() == "dirty_decay_ms:50,muzzy_decay_ms:0"
    theirs = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, "_RJEM_MALLOC_CONF": "narenas:1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert theirs.stdout.strip() == "narenas:1"
    # what Polars puts in the environment of the Python process that runs the CLI: not kept
    polars = {**env, "_RJEM_MALLOC_CONF": "dirty_decay_ms:500,muzzy_decay_ms:1000"}
    inherited = subprocess.run(
        [sys.executable, "-c", probe], env=polars, capture_output=True, text=True, check=True
    )
    assert inherited.stdout.strip() == "dirty_decay_ms:50,muzzy_decay_ms:0"
    # advantages writes as it frees: left to Polars' own setting (faster there)
    writing = subprocess.run(
        [sys.executable, "-c", probe, "advantages", "x.jsonl"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert writing.stdout.strip() == "None"
    # set before Polars is imported: importing the package imports no Polars
    first = "import sys, grpoflaw_cli; print('polars' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", first], capture_output=True, text=True)
    assert done.stdout.strip() == "False"
