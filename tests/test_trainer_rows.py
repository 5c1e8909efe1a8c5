"""Trainer rows: an OpenPipe ART dump whose lines hold no trajectory, or a
text reward inside one, and a NeMo-RL field whose batch slice is not of one, are refused
with the file, line (and trajectory or field) named; never a crash, a wrong line, or a
value silently dropped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES
from typer.testing import CliRunner

from grpoflaw_cli.cli import app

NEMO = SAMPLES / "trainers" / "nemo_rl"


def run(*args: str) -> tuple[int, str]:
    """Exit code and output (stdout and stderr), whitespace folded (Rich wraps lines)."""
    result = CliRunner().invoke(app, [*args])
    return result.exit_code, " ".join(result.output.split())


def lines(path: Path, *records: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def group(*rewards: Any) -> dict[str, Any]:
    return {"trajectories": [{"reward": r} for r in rewards]}


# F1: no trajectory in a whole file


@pytest.mark.parametrize("empty", [[], None], ids=["empty", "null"])
def test_art_file_with_no_trajectory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    lines(Path("art/0001.jsonl"), {"trajectories": empty}, {"trajectories": empty})
    code, out = run("compare", "art")
    assert code == 2, out
    assert "'art/0001.jsonl': no trajectory in any line" in out
    assert "empty or null" in out and "Hint:" in out


def test_art_file_with_no_trajectory_among_good_files_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines(Path("art/0001.jsonl"), group(1.0, 2.0), group(0.0, 1.0))
    lines(Path("art/0002.jsonl"), {"trajectories": []})
    lines(Path("art/0003.jsonl"), group(3.0, 1.0))
    for command in (["compare", "art"], ["inspect", "art"], ["advantages", "art", "-o", "a.csv"]):
        code, out = run(*command)
        assert code == 2, (command, out)
        assert "'art/0002.jsonl': no trajectory in any line" in out
    assert not Path("a.csv").exists()


def test_art_trajectories_that_are_not_objects_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines(Path("art/0001.jsonl"), {"trajectories": [1.0, 2.0]})
    code, out = run("compare", "art")
    assert code == 2, out
    assert "'art/0001.jsonl': 'trajectories' holds" in out and "not trajectory objects" in out


# F12 and the rule for a line with no trajectory: it holds no rollout and is skipped


@pytest.mark.parametrize("empty", [[], None], ids=["empty", "null"])
def test_art_line_with_no_trajectory_is_skipped(tmp_path: Path, empty: Any) -> None:
    log = tmp_path / "art" / "0001.jsonl"
    lines(log, group(1.0, 2.0), {"trajectories": empty}, group(0.0, 4.0, 5.0))
    code, out = run("compare", str(log.parent), "--format", "json")
    assert code == 0, out
    summary = json.loads(out)["summary"]
    assert (summary["source"], summary["rollouts"], summary["groups"]) == ("art", 5, 2)


def test_art_null_trajectories_on_line_2_is_no_missing_reward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hostile pass's case: was 'record 3: the reward is missing'."""
    monkeypatch.chdir(tmp_path)
    lines(Path("art3/0001.jsonl"), group(1.0, 2.0), {"trajectories": None})
    code, out = run("compare", "art3", "--format", "json")
    assert code == 0, out
    assert json.loads(out)["summary"]["rollouts"] == 2


def test_art_missing_reward_names_its_line_and_trajectory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the 6th rollout is on line 4 (line 2 is blank, line 3 has none), trajectory 2
    monkeypatch.chdir(tmp_path)
    Path("art").mkdir()
    Path("art/0001.jsonl").write_text(
        json.dumps(group(1.0, 2.0, 3.0))
        + "\n\n"
        + json.dumps({"trajectories": []})
        + "\n"
        + json.dumps(group(1.0, None, 3.0))
        + "\n"
        + json.dumps(group(1.0, 2.0))
        + "\n"
    )
    code, out = run("compare", "art")
    assert code == 2, out
    assert "'art/0001.jsonl', line 4, trajectory 2: the reward is missing" in out


# F11: a text reward inside a trajectory


def test_art_text_reward_names_line_trajectory_and_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines(Path("art6/0001.jsonl"), {"trajectories": [{"reward": 1.0}, {"reward": "x"}]})
    code, out = run("compare", "art6")
    assert code == 2, out
    assert "'art6/0001.jsonl', line 1, trajectory 2" in out
    assert "the JSON string 'x', not a number" in out
    assert "disagree on a column's type" not in out


@pytest.mark.parametrize(
    ("value", "shown"),
    [(True, "the reward is JSON true,"), ({"a": 1}, 'the reward is the JSON object {"a": 1},')],
)
def test_art_reward_of_another_json_type_is_shown_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: Any, shown: str
) -> None:
    monkeypatch.chdir(tmp_path)
    lines(Path("art/0001.jsonl"), group(0.0, 1.0), group(1.0, value))
    code, out = run("compare", "art")
    assert code == 2, out
    assert f"'art/0001.jsonl', line 2, trajectory 2: {shown} not a number" in out


def test_art_text_reward_in_a_later_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines(Path("art/0001.jsonl"), group(1.0, 2.0), group(3.0, 4.0))
    lines(Path("art/0002.jsonl"), group(1.0, 2.0), group(3.0, 4.0, 5.0), group(1.0, "2.5", "oops"))
    code, out = run("advantages", "art", "-o", "out.parquet")
    assert code == 2, out
    assert "'art/0002.jsonl', line 3, trajectory 3" in out and "'oops'" in out
    assert not Path("out.parquet").exists()


# F4: a NeMo-RL batch slice that is not of one


def _nemo(tmp_path: Path, field: str, reslice: Any, line: int = 3) -> Path:
    """The bundled NeMo-RL dump, with ``field`` of step 2's ``line`` rewritten by
    ``reslice`` (the old value → the new)."""
    folder = tmp_path / "nemo"
    folder.mkdir()
    for src in NEMO.iterdir():
        records = [json.loads(x) for x in src.read_text().splitlines()]
        if src.name == "train_data_step2.jsonl":
            records[line - 1][field] = reslice(records[line - 1][field])
        lines(folder / src.name, *records)
    return folder


@pytest.mark.parametrize(
    ("field", "reslice", "count"),
    [
        ("rewards", lambda v: [v[0], 5.0], 2),  # the hostile pass's case: 5.0 was dropped
        ("rewards", lambda v: [], 0),
        ("content", lambda v: [v[0], v[0]], 2),
        ("token_ids", lambda v: [v[0], v[0]], 2),
        ("token_loss_mask", lambda v: [v[0], v[0]], 2),
        ("advantages", lambda v: [v[0], v[0], v[0]], 3),
        ("input_lengths", lambda v: [v[0], 1], 2),
    ],
)
def test_nemo_rl_batch_slice_of_other_than_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, reslice: Any, count: int
) -> None:
    _nemo(tmp_path, field, reslice)
    monkeypatch.chdir(tmp_path)
    code, out = run("compare", "nemo")
    assert code == 2, out
    assert f"'nemo/train_data_step2.jsonl', line 3: '{field}' is a batch slice of {count}" in out
    assert "Hint:" in out


def test_nemo_rl_every_line_with_two_rewards_is_refused_by_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hostile pass's reproduction: every line's rewards a slice of two."""
    monkeypatch.chdir(tmp_path)
    Path("nemo").mkdir()
    for src in NEMO.iterdir():
        records = [json.loads(x) for x in src.read_text().splitlines()]
        for r in records:
            r["rewards"] = [r["rewards"][0], 5.0]
        lines(Path("nemo") / src.name, *records)
    for command in (
        ["compare", "nemo", "--format", "json"],
        ["inspect", "nemo"],
        ["advantages", "nemo", "-o", "a.jsonl"],
    ):
        code, out = run(*command)
        assert code == 2, (command, out)
        assert "'nemo/train_data_step1.jsonl', line 1: 'rewards' is a batch slice of 2" in out
    assert not Path("a.jsonl").exists()


def test_nemo_rl_slices_of_one_read_as_before(tmp_path: Path) -> None:
    """A slice of one unwraps as it did: the same rows as the bundled dump."""
    from grpoflaw_cli import api

    folder = _nemo(tmp_path, "rewards", lambda v: v)
    mine, bundled = (api.load([f]).frame.collect() for f in (folder, NEMO))
    columns = ["step", "group", "reward", "length", "advantage", "input_lengths"]
    assert mine.select(columns).equals(bundled.select(columns))


def test_nemo_rl_null_rewards_is_a_missing_reward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A null field is no slice of another length: it is a missing value, named so."""
    _nemo(tmp_path, "rewards", lambda v: None)
    monkeypatch.chdir(tmp_path)
    code, out = run("compare", "nemo")
    assert code == 2, out
    assert "'nemo/train_data_step2.jsonl', line 3: the reward is missing" in out


def test_nemo_rl_fields_written_without_slices_read_as_they_are(tmp_path: Path) -> None:
    """No field in a batch slice (rewards a number, content the messages): nothing to
    unwrap or check."""
    records = [
        {"content": [f"Q{i // 4}", "a"], "rewards": float(i % 3), "input_lengths": 5}
        for i in range(8)
    ]
    lines(tmp_path / "train_data_step1.jsonl", *records)
    code, out = run("compare", str(tmp_path), "--format", "json")
    assert code == 0, out
    summary = json.loads(out)["summary"]
    assert (summary["source"], summary["groups"], summary["rollouts"]) == ("nemo-rl", 2, 8)
