"""Settings that contradict each other or the log: one column in two roles, a reward
named twice, out-of-range values; each is refused with the setting named.

Each test names the case it reproduces; each failed before its fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES
from typer.testing import CliRunner

from grpoflaw_cli import api
from grpoflaw_cli.cli import app
from grpoflaw_cli.errors import UsageError

ROWS = [
    {"step": s, "prompt_id": f"p{g}", "reward": float((i % 2) * (g + 1) * 3 - i)}
    for s in range(2)
    for g in range(3)
    for i in range(4)
]


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write(tmp_path / "base.jsonl", ROWS)


# ------------------------------------------------------------------------ output paths


def test_dash_behind_a_folder_is_a_file_not_standard_output(log: Path, tmp_path: Path) -> None:
    """Only a bare '-' is standard output; './-' names a file (without an extension)."""
    result = run("advantages", log, "-o", "./-")
    assert result.exit_code == 2 and "cannot tell the output format of '-'" in result.output
    assert "step,group" not in result.output


@pytest.mark.parametrize("flag", ["-o", "--html"])
def test_an_output_ending_in_a_slash_names_a_folder(log: Path, tmp_path: Path, flag: str) -> None:
    out = tmp_path / "new.csv"
    command = "advantages" if flag == "-o" else "compare"
    result = run(command, log, flag, f"{out}/")
    assert result.exit_code == 2 and "it names a folder" in result.output, result.output
    assert not out.exists()


# ------------------------------------------------------------------------ column roles


def test_one_column_in_two_roles_is_refused(log: Path) -> None:
    result = run("compare", log, "--step-col", "reward")
    assert result.exit_code == 2, result.output
    assert "'reward' cannot be both the step and the reward column" in result.output


def test_the_step_column_may_be_the_group_column(log: Path) -> None:
    result = run("compare", log, "--group-col", "step", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["groups"] == 2


def test_a_reward_column_given_twice_is_a_usage_error(log: Path) -> None:
    result = run("compare", log, "--reward-col", "reward", "--reward-col", "reward")
    assert result.exit_code == 2 and "--reward-col 'reward' is given twice" in result.output


def test_the_group_column_is_no_reward_component(log: Path, tmp_path: Path) -> None:
    result = run("advantages", log, "--component-col", "prompt_id", "-o", tmp_path / "o.csv")
    assert result.exit_code == 2, result.output
    assert "'prompt_id' is the group column, not a reward component" in result.output


def test_a_single_component_is_refused_not_ignored(log: Path, tmp_path: Path) -> None:
    """GDPO over one named part ran on the reward, as if the flag were not given."""
    out = tmp_path / "o.csv"
    result = run("advantages", log, "--estimators", "gdpo", "--component-col", "reward", "-o", out)
    assert result.exit_code == 2 and "is the only component" in result.output, result.output


# ------------------------------------------------------------------------ estimators


def test_an_empty_estimator_choice_is_a_usage_error(log: Path) -> None:
    result = run("compare", log, "--estimators", " , ")
    assert result.exit_code == 2 and "no estimator chosen" in result.output
    with pytest.raises(UsageError, match="no estimator chosen"):
        api.compare(str(log), [])


# ------------------------------------------------------------------------ ids


def test_float_group_ids_too_large_to_tell_apart_are_refused(tmp_path: Path) -> None:
    """A JSONL column of whole numbers and one fraction is read as floats: 2^62 + 1 and
    2^62 + 2 both became 4.611686018427388e+18, one group where the log has two."""
    big = 2**62
    rows = [
        {"step": 0, "prompt_id": pid, "reward": r}
        for pid in (big + 1, big + 2, 0.5)
        for r in (0.0, 1.0)
    ]
    path = write(tmp_path / "ids.jsonl", rows)
    for command in (["compare", path], ["advantages", path, "-o", tmp_path / "o.csv"]):
        result = run(*command)
        assert result.exit_code == 2, result.output
        assert "line 1" in result.output and "floats of 2^53 or more" in result.output


def test_exact_integer_ids_of_any_size_are_kept(tmp_path: Path) -> None:
    rows = [{"step": 0, "prompt_id": 2**62 + k, "reward": r} for k in (1, 2) for r in (0.0, 1.0)]
    result = run("compare", write(tmp_path / "ids.jsonl", rows), "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["summary"]["groups"] == 2


def test_a_late_text_group_id_in_a_csv_gets_a_hint_for_the_group_column(tmp_path: Path) -> None:
    body = "".join(f"{i // 100},{i % 3},{i % 2}\n" for i in range(300))
    path = tmp_path / "g.csv"
    path.write_text("step,prompt_id,reward\n" + body + "3,p-late,1\n")
    result = run("compare", path)
    assert result.exit_code == 2 and "line 302" in result.output, result.output
    assert "does not use it" not in result.output and "--group-col" in result.output


# ------------------------------------------------------------------------ messages


def test_a_huge_value_is_quoted_short(tmp_path: Path) -> None:
    path = write(tmp_path / "h.jsonl", [{"step": 0, "prompt_id": "a", "reward": "x" * 100_000}])
    result = run("compare", path)
    assert result.exit_code == 2 and "line 1" in result.output
    assert len(result.output) < 1_000, len(result.output)


# ------------------------------------------------------------------------ watch


def test_watch_takes_the_baseline_and_component_columns(tmp_path: Path) -> None:
    """The README gives watch compare's column options; it lacked these two."""
    folder = tmp_path / "dumps"
    folder.mkdir()
    rows = [{**r, "greedy": 0.5, "a": r["reward"] / 2, "b": r["reward"] / 2} for r in ROWS]
    write(folder / "1.jsonl", rows)
    base = ["watch", folder, "--refreshes", "1", "--interval", "0.1", "--estimators", "all"]
    plain = run(*base)
    assert plain.exit_code == 0 and "remax (needs" in " ".join(plain.output.split())
    mapped = run(*base, "--baseline-col", "greedy", "--component-col", "a", "--component-col", "b")
    assert mapped.exit_code == 0, mapped.output
    assert "remax (needs" not in " ".join(mapped.output.split()), mapped.output


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--collapse-ratio", "0.5"], "--collapse-ratio must be > 1, got 0.5"),
        (["--clip", "5,1"], "--clip needs low < high"),
        (["--zero-variance-warning", "2"], "--zero-variance-warning must be in (0, 1]"),
        (["--noise-ratio", "1"], "--noise-ratio must be in (0, 1)"),
    ],
)
def test_an_out_of_range_setting_is_named_by_its_flag(given: list[str], said: str) -> None:
    """The library checks the value; the CLI's message names the flag, not a field."""
    result = run("compare", SAMPLES / "seed.jsonl", *given)
    assert result.exit_code == 2 and said in result.output, result.output
