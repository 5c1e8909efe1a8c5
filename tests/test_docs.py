"""The docs stay in step with the CLI: the generated reference is current, the README is a
landing page that links only to files in the repository."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_LIMIT = 10_000  # "at most 10 KB", read strictly
REGENERATE = "python scripts/cli_reference.py"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "scripts" / "cli_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = load_generator()


def markdown_files() -> list[Path]:
    return [README, ROOT / "benchmarks" / "README.md", *sorted(DOCS.glob("*.md"))]


def test_the_cli_reference_is_current() -> None:
    written = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert written == GENERATOR.reference(), (
        f"docs/cli.md is stale: regenerate it with `{REGENERATE}` and commit the result"
    )


@pytest.mark.parametrize("command", GENERATOR.command_names())
def test_every_command_has_help_and_is_in_the_reference(command: str) -> None:
    help_text = GENERATOR.help_text(command)
    summary = help_text.split("\n\n")[1].strip()
    assert summary, f"grpoflaw {command} has no help text"
    assert f"## grpoflaw {command}\n" in (DOCS / "cli.md").read_text(encoding="utf-8")


def test_the_reference_covers_watch_and_simulate() -> None:
    assert {"compare", "advantages", "inspect", "watch", "simulate", "estimators"} <= set(
        GENERATOR.command_names()
    )


def test_the_reference_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "37")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert GENERATOR.reference() == (DOCS / "cli.md").read_text(encoding="utf-8")


def test_the_readme_is_a_landing_page() -> None:
    size = README.stat().st_size
    assert size <= README_LIMIT, f"README.md is {size:,} bytes; the limit is {README_LIMIT:,}"
    assert (DOCS / "img" / "report.png").stat().st_size > 10_000


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_are_relative_and_resolve_inside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text and "/work/" not in text
    for target in LINK.findall(text):
        if target.startswith(("#", "https://")):
            continue  # an anchor on the page, or an upstream source (a paper, a framework)
        assert not re.match(r"[a-z]+:|/", target), f"{page.name}: absolute link {target}"
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert path.exists(), f"{page.name}: {target} does not exist"


def test_the_readme_leads_with_the_verdict_compare_prints() -> None:
    """The verdict the README opens with is what compare prints on that sample today."""
    from typer.testing import CliRunner

    from grpoflaw_cli.cli import app

    shown = README.read_text(encoding="utf-8")
    start = shown.index("╭─ Verdict")
    quoted = shown[start : shown.index("╯", start) + 1]
    printed = (
        CliRunner()
        .invoke(
            app, ["compare", str(ROOT / "sample_data" / "multitask.jsonl")], env={"COLUMNS": "100"}
        )
        .stdout
    )
    start = printed.index("╭─ Verdict")
    assert quoted == printed[start : printed.index("╯", start) + 1]
    assert shown.index("╭─ Verdict") < shown.index("## Set-up")
