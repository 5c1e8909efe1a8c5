"""Shared fixtures: sample paths, a CLI runner, small log writers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True, scope="session")
def _cli_built_once() -> Iterator[None]:
    """Typer rebuilds the Click command from the commands' signatures on every
    ``CliRunner.invoke`` (20 ms a call, a fifth of the fast loop's time); the app does not
    change within a run, so each app is built once. The process's own CLI builds it once
    anyway."""
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # another Typer layout: tests run, only slower
        yield
        return
    built: dict[int, Any] = {}

    def once(app: Any) -> Any:
        if id(app) not in built:
            built[id(app)] = build(app)
        return built[id(app)]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", once)
        yield


@pytest.fixture(autouse=True)
def _one_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees the same terminal whatever the caller's: 80 columns (Rich's width
    off a terminal) and no colour, unless the test sets its own. The caller's COLUMNS
    would otherwise rewrap the screens tests read."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "25")
    for name in ("FORCE_COLOR", "NO_COLOR", "TERM", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Write a list of dicts (or raw lines) as a JSONL file in tmp_path."""

    def write(rows: list[Any], name: str = "log.jsonl") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
        return path

    return write


def frame(**cols: list[Any]) -> pl.DataFrame:
    return pl.DataFrame(cols)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray of 2 CPUs for a module's tests of the Ray engine (it takes seconds to
    start; shut down after them, so that its processes do not idle through the rest of the
    run). Skipped where Ray is not installed, except in CI, which installs it."""
    import os

    if os.environ.get("CI"):
        import ray
    else:
        ray = pytest.importorskip("ray")
    from grpoflaw_cli.ray_engine import started

    started(ray, num_cpus=2)
    yield ray
    ray.shutdown()
