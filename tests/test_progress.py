"""The progress bar: told by the library, shown by the CLI on a terminal only, once a read
has taken a while; a script or a pipe sees nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grpoflaw_cli import api, progress
from grpoflaw_cli.cli import app, progress_bar
from grpoflaw_cli.cli.progress_bar import SHOW_AFTER, _Bar, shows_progress

runner = CliRunner()


def _log(path: Path) -> Path:
    rows = [
        {"step": s, "uid": g, "reward": float((s + g * 3 + i) % 4)}
        for s in range(3)
        for g in range(5)
        for i in range(4)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_bar_shows_on_a_terminal_once_the_work_has_taken_a_while() -> None:
    assert shows_progress(is_terminal=True, elapsed=SHOW_AFTER, done=False)
    assert not shows_progress(is_terminal=True, elapsed=SHOW_AFTER - 0.1, done=False)
    assert not shows_progress(is_terminal=False, elapsed=600.0, done=False)  # a pipe, a file
    assert not shows_progress(is_terminal=True, elapsed=600.0, done=True)  # too late: done


def test_the_library_tells_its_phases_in_order(tmp_path: Path) -> None:
    told: list[tuple[str, int, int | None]] = []
    with progress.reporting(lambda phase, done, total: told.append((phase, done, total))):
        api.compare(_log(tmp_path / "log.jsonl"))
    phases = list(dict.fromkeys(phase for phase, _, _ in told))
    assert phases == ["reading the columns of 1 file", "the pass over the rows"]
    progress.advance("after", 1, 1)  # outside the block: told to no one
    assert told[-1][0] == "the pass over the rows"


@pytest.mark.parametrize("command", [["compare"], ["inspect"], ["advantages", "-o", "-"]])
def test_nothing_is_printed_when_stderr_is_no_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setattr(progress_bar, "SHOW_AFTER", 0.0)  # any read would be long enough
    log = _log(tmp_path / "log.jsonl")
    result = runner.invoke(app, [command[0], str(log), *command[1:]])
    assert result.exit_code == 0, result.output
    for shown in (result.stdout, result.stderr):
        assert "the pass over the rows" not in shown and "columns of" not in shown
    assert progress.advance("x", 0) is None  # and no reporter is left behind


def test_the_bar_draws_each_phase_and_clears_itself() -> None:
    from rich.console import Console

    screen = io.StringIO()
    bar = _Bar(Console(file=screen, force_terminal=True, width=100))
    bar._started -= SHOW_AFTER  # as if the work had taken that long
    bar.report("reading the columns of 2 files", 1, 2)
    bar.show()
    bar.report("the pass over the rows", 0, None)
    bar.close()
    drawn = screen.getvalue()
    assert "reading the columns of 2 files" in drawn and "the pass over the rows" in drawn
    assert drawn.endswith("\x1b[2K") or "\x1b[2K" in drawn[-40:]  # transient: erased


def test_a_quick_read_never_draws() -> None:
    from rich.console import Console

    screen = io.StringIO()
    bar = _Bar(Console(file=screen, force_terminal=True, width=100))
    bar.report("the pass over the rows", 0, None)
    bar.show()  # the timer fired early (or the clock says so): not yet
    bar.close()
    assert screen.getvalue() == ""
