"""Lint, format and types are part of the test run; the docs stay in step with the CLI."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from grpoflaw_cli.cli import app
from grpoflaw_cli.errors import ExitCode

README = (ROOT / "README.md").read_text(encoding="utf-8")


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command.strip() in ci.splitlines()


def hand_written_docs() -> str:
    """The README and the docs pages written by hand (not the generated CLI reference)."""
    pages = [p for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "cli.md"]
    return "\n".join([README, *(p.read_text(encoding="utf-8") for p in pages)])


@pytest.mark.parametrize(
    "command", ["compare", "advantages", "inspect", "watch", "simulate", "estimators"]
)
def test_every_command_has_help_and_is_documented(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert f"grpoflaw {command}" in README
    docs = hand_written_docs()
    options = set(re.findall(r"(--[a-z][a-z-]+)", result.output)) - {"--help"}
    undocumented = sorted(o for o in options if o not in docs)
    assert not undocumented, f"{command}: options missing from README.md and docs/: {undocumented}"


def test_exit_codes_are_documented() -> None:
    section = README.split("## Exit codes", 1)[1]
    for code in ExitCode:
        assert f"| {int(code)} |" in section
