"""``watch FILE``: one JSONL file that a logger appends a line per rollout to, followed
as it grows; its newest step, still being written, is held back until the next begins."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from grpoflaw_cli import api, watch
from grpoflaw_cli.cli import app
from grpoflaw_cli.ingest import ColumnMap

LOG = Path(__file__).resolve().parent.parent / "sample_data" / "multitask.jsonl"


def _lines(step: int) -> list[str]:
    """The sample log's rollouts of one step, as JSONL lines in its order."""
    rows = [json.loads(line) for line in LOG.read_text().splitlines()]
    return [json.dumps(row) + "\n" for row in rows if row["step"] == step]


def test_follow_an_appended_file_holds_back_the_step_being_written(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    one, two, three = _lines(1), _lines(2), _lines(3)
    assert len(two) > 3
    path.write_text("".join(one + two[:3]) + two[3][:20])  # step 2 half written, mid-line
    looks = watch.follow(path, ColumnMap(), interval=0.01, refreshes=10)
    report, problem = next(looks)
    assert report is not None and [it["step"] for it in report["iterations"]] == [1]
    assert problem == (
        "step 2 is still being written (3 rollouts so far): shown once a later step begins"
    )
    with path.open("a") as fh:  # the logger goes on: step 2 ends, step 3 begins
        fh.write(two[3][20:] + "".join(two[4:] + three[:1]))
    report, problem = next(looks)
    assert report is not None and [it["step"] for it in report["iterations"]] == [1, 2]
    assert problem is not None and problem.startswith("step 3 is still being written (1 rollout")
    # what is shown is exactly compare's report of the finished steps
    done = tmp_path / "done.jsonl"
    done.write_text("".join(one + two))
    expected = api.compare([done]).report()
    assert report["iterations"] == expected["iterations"]
    assert report["summary"]["verdict"] == expected["summary"]["verdict"]


def test_a_file_with_one_step_so_far_is_shown_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(_lines(1)))
    report, problem = next(watch.follow(path, ColumnMap(), interval=0.01, refreshes=1))
    assert report is not None and len(report["iterations"]) == 1
    assert problem == "step 1 may still be being written: its numbers can change"


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(_lines(1) + _lines(2)))
    looks = list(watch.follow(path, ColumnMap(), interval=0.01, refreshes=3))
    assert len(looks) == 1  # one report: later looks saw the same size and time


def test_watch_cli_on_a_file(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("".join(_lines(1) + _lines(2) + _lines(3)[:2]))
    result = CliRunner().invoke(app, ["watch", str(path), "--refreshes", "1", "--interval", "0.1"])
    assert result.exit_code == 0, result.output
    assert "in 2 iterations" in result.output
    assert "waiting: step 3 is still being written (2 rollouts so far)" in " ".join(
        result.output.split()
    )


def test_watch_refuses_a_file_that_is_no_log(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = CliRunner().invoke(app, ["watch", str(notes), "--refreshes", "1"])
    assert result.exit_code == 2
    assert "is not a log file" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["watch", str(tmp_path / "nope.jsonl"), "--refreshes", "1"])
    assert missing.exit_code == 2 and "no such folder or file" in missing.output


def test_a_file_with_no_step_column_is_shown_whole(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    frame = pl.DataFrame({"uid": ["a", "a", "b", "b"], "score": [0.0, 1.0, 1.0, 3.0]})
    frame.write_ndjson(path)
    report, problem = next(watch.follow(path, ColumnMap(), interval=0.01, refreshes=1))
    assert report is not None and report["summary"]["rollouts"] == 4 and problem is None


def test_a_file_growing_under_polars_is_read_again_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that grows between the check of its lines and Polars' read fails in Polars
    (a trial hit "ComputeError: Syntax at character 9" about one run in six, exit 3): the
    look says so, and the next one reads the file again."""
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(_lines(1) + _lines(2)))
    real = watch._Look.report
    calls = []

    def racing(self: watch._Look, paths: list[Path]) -> dict[str, object]:
        calls.append(paths)
        if len(calls) == 1:
            raise pl.exceptions.ComputeError("Syntax at character 9")
        return real(self, paths)

    monkeypatch.setattr(watch._Look, "report", racing)
    looks = watch.follow(path, ColumnMap(), interval=0.01, refreshes=5)
    report, problem = next(looks)
    assert report is None
    assert problem == "a file changed while being read (Syntax at character 9); looking again"
    with path.open("a") as fh:
        fh.write(_lines(3)[0])
    report, problem = next(looks)
    assert report is not None and [it["step"] for it in report["iterations"]] == [1, 2]


def test_a_file_rewritten_whole_holds_nothing_back(tmp_path: Path) -> None:
    """A Parquet file or a W&B table is written whole each time: its last step is done."""
    path = tmp_path / "rollouts.parquet"
    pl.read_ndjson("".join(_lines(1) + _lines(2)).encode()).write_parquet(path)
    report, problem = next(watch.follow(path, ColumnMap(), interval=0.01, refreshes=1))
    assert report is not None and [it["step"] for it in report["iterations"]] == [1, 2]
    assert problem is None
