"""The options commands share (cli/options.py): declared once, the same on every command
that takes them, and taking effect on each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.core
import typer.main
from conftest import SAMPLES
from typer.testing import CliRunner

from grpoflaw_cli.cli import app


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "140", "NO_COLOR": "1"})


def options(command: str) -> dict[str, Any]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    found = group.commands[command]
    return {flag: p for p in found.params for flag in p.opts}


CONVENTIONS = ("--framework", "--std-ddof", "--eps", "--clip")


def test_every_command_that_computes_advantages_takes_the_conventions() -> None:
    """compare, advantages and watch: the same four options, the same help, in order."""
    taken = {name: options(name) for name in ("compare", "advantages", "watch")}
    for flag in CONVENTIONS:
        helps = {name: opts[flag].help for name, opts in taken.items() if flag in opts}
        assert len(helps) == 3 and len(set(helps.values())) == 1, (flag, helps)
    for opts in taken.values():
        listed = [flag for flag in opts if flag in CONVENTIONS]
        assert listed == list(CONVENTIONS)


def test_output_options_keep_each_command_s_help_and_checks() -> None:
    assert options("compare")["--max-rows"].help == "Iterations shown in the terminal table."
    assert options("watch")["--max-rows"].help == "Latest iterations shown."
    assert options("simulate")["--html"].help == "Also write the learning curves as HTML."
    assert options("inspect")["--format"].help == "table or json."
    assert options("compare")["--format"].help == "table (Rich), json or csv (per iteration)."
    assert invoke("watch", SAMPLES, "--max-rows", "0").exit_code == 2  # min=1 kept


def _screen(folder: Path, *args: str) -> str:
    result = invoke("watch", folder, "--refreshes", "1", "--interval", "0.1", *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_watch_takes_ddof_eps_and_clip(tmp_path: Path) -> None:
    """watch had --framework only; the others now reach its comparisons."""
    (tmp_path / "seed.jsonl").write_bytes((SAMPLES / "seed.jsonl").read_bytes())
    assert "ddof=1" in _screen(tmp_path)
    shown = _screen(tmp_path, "--std-ddof", "0", "--eps", "0.25")
    assert "ddof=0" in shown and "eps=0.25" in shown
    clipped = _screen(tmp_path, "--framework", "openrlhf", "--clip", "-0.5,0.5")
    assert clipped != _screen(tmp_path, "--framework", "openrlhf")
    refused = invoke("watch", tmp_path, "--refreshes", "1", "--clip", "1")
    assert refused.exit_code == 2 and "--clip '1' is not LO,HI" in refused.output


@pytest.mark.parametrize(
    "args", [("compare", "seed.jsonl"), ("watch", "trainers/verl_v1"), ("simulate",)]
)
def test_an_unknown_estimator_names_the_flag(args: tuple[str, ...]) -> None:
    given = (args[0], SAMPLES / args[1]) if len(args) > 1 else args
    result = invoke(*given, "--estimators", "nope")
    assert result.exit_code == 2
    assert "--estimators: unknown estimator 'nope'" in result.output
    assert "see `grpoflaw estimators`" in result.output


def test_estimators_is_guarded_like_the_other_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("estimators", "--traceback").exit_code == 0
    from grpoflaw_cli.render import estimators

    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(estimators, "render_estimators", broken)
    result = invoke("estimators")
    assert result.exit_code == 3 and "Internal error: RuntimeError: boom" in result.output
    assert "Traceback" in invoke("estimators", "--traceback").output
