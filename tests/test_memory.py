"""Memory on text dumps: the pass over a verl dump reads only the fields it needs (the
prompt and response texts are projected away by the scan), and its peak does not grow
with the size of the dump."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grpoflaw_cli import ingest
from grpoflaw_cli.passes import group_stats_query


def _dump(folder: Path, steps: int, prompts: int = 64, group: int = 8, v1: bool = True) -> Path:
    """A verl rollout_data_dir: ``steps`` files of ``prompts`` × ``group`` rows, each with
    a long prompt and a ~2 KB response."""
    folder.mkdir()
    text = "so the answer is " * 120
    for step in range(1, steps + 1):
        with (folder / f"{step}.jsonl").open("w") as fh:
            for p in range(prompts):
                for i in range(group):
                    row: dict[str, object] = {
                        "input": "<|system|>be careful " * 40 + f"problem {step}.{p}",
                        "output": text + str(i),
                        "gts": "4",
                        "score": float((step + p * i) % 3 == 0),
                        "step": step,
                    }
                    if v1:
                        row["uid"] = f"{step:08x}{p:024d}_{i}_0"
                    fh.write(json.dumps(row) + "\n")
    return folder


@pytest.mark.parametrize("v1", [True, False])
def test_the_pass_never_reads_the_response_text(tmp_path: Path, v1: bool) -> None:
    """The pass's scan projects the files' fields to those the statistics need: step,
    score and the group key (the uid, or the prompt text of a legacy dump); never the
    response text, nor the ground truth."""
    log = ingest.load([_dump(tmp_path / "dump", 3, prompts=4, v1=v1)])
    query = group_stats_query(log.stats_frame, has_length=False, source_col=ingest.FILE_COL)
    plan = query.explain(engine="streaming")
    projected = [(int(a), int(b)) for a, b in re.findall(r"PROJECT (\d+)/(\d+) COLUMNS", plan)]
    fields = 6  # input, output, gts, score, step and uid (v1) or none
    assert projected and all(kept <= 3 and total >= fields - (not v1) for kept, total in projected)
    assert "replace_strict" not in plan  # rows are tagged by their file's Enum code


def _peak_mib(folder: Path) -> float:
    """Peak RSS (MiB) of ``grpoflaw compare`` on ``folder`` in a fresh process."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    command = [sys.executable, "-m", "grpoflaw_cli", "compare", str(folder), "--format", "json"]
    out = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1]) / 1024


@pytest.mark.slow
@pytest.mark.parametrize("v1", [True, False])
def test_memory_does_not_grow_with_the_size_of_a_text_dump(tmp_path: Path, v1: bool) -> None:
    """Three times the steps (about 60 MB and 180 MB of text) peak about the same: the
    pass streams, nothing holds the rows, and a legacy dump's prompt texts (its group
    keys, 7,680 distinct here: 7 MB) are held once each. Grouped as strings and sorted in
    the streaming query they held 47 MB more here (0.35 GB more at 3 GB)."""
    small = _dump(tmp_path / "small", 20, prompts=128, v1=v1)
    large = _dump(tmp_path / "large", 60, prompts=128, v1=v1)
    assert sum(p.stat().st_size for p in large.iterdir()) > 150e6
    low = min(_peak_mib(small) for _ in range(2))
    high = min(_peak_mib(large) for _ in range(2))
    assert high < low * 1.05 + 20, (low, high)


def test_text_keys_grouped_as_categories_give_the_same_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same groups, statistics and order whether text keys are grouped as categories
    or as text (a missing key included)."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from grpoflaw_cli import passes
    from grpoflaw_cli.passes import sorted_groups

    keys = ["b", "a", None, "é" * 40, "a", "b", None, "c"] * 50
    rows = pl.LazyFrame(
        {
            "step": [i // 100 for i in range(len(keys))],
            "group": keys,
            "reward": [float(i % 7) for i in range(len(keys))],
        }
    )
    tables = []
    for categories in (True, False):
        monkeypatch.setattr(passes, "GLOBAL_CATEGORIES", categories)
        query = group_stats_query(rows, has_length=False, sort=False)
        tables.append(sorted_groups(query.collect(engine="streaming")))
    assert tables[0]["group"].dtype == pl.String
    assert_frame_equal(tables[0], tables[1])
    sorted_in_query = group_stats_query(rows, has_length=False).collect(engine="streaming")
    assert_frame_equal(tables[0], sorted_in_query)
