"""Fuzz the CLI path with generated JSONL and CSV logs: it may refuse input (exit 2), never
crash (exit 3) or print a traceback.

The suite runs a modest number of examples; set GRPOFLAW_FUZZ_EXAMPLES=5000 for a long run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from grpoflaw_cli.cli import app

pytestmark = pytest.mark.slow  # fuzzing: seconds per run

EXAMPLES = int(os.environ.get("GRPOFLAW_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEYS = [
    "step",
    "global_step",
    "uid",
    "prompt",
    "group_id",
    "reward",
    "score",
    "acc",
    "response_length",
    "task",
    "x",
]
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
value = st.one_of(
    scalar, st.lists(scalar, max_size=3), st.dictionaries(st.text(max_size=4), scalar, max_size=2)
)
row = st.dictionaries(st.sampled_from(KEYS), value, min_size=0, max_size=6)


def _json_line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj).encode()  # NaN/Infinity are written bare, as Python's json does


@st.composite
def jsonl_bytes(draw: st.DrawFn) -> bytes:
    lines = [_json_line(r) for r in draw(st.lists(row, max_size=25))]
    data = b"\n".join(lines) + b"\n"
    mutation = draw(st.sampled_from(["none", "truncate", "flip", "garbage", "blank"]))
    if mutation == "truncate" and data:
        data = data[: draw(st.integers(0, len(data)))]
    elif mutation == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    elif mutation == "garbage":
        data = draw(st.binary(max_size=200))
    elif mutation == "blank":
        data = data.replace(b"\n", b"\n\n")
    return data


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=5, unique=True))
    cell = st.one_of(
        st.integers(-100, 100).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(alphabet='ab,"\n\r 01.-eE', max_size=6),
        st.just(""),
    )
    rows = draw(st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), max_size=20))
    text = ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows)
    return text.encode()


def run_cli(data: bytes, suffix: str, args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"log{suffix}"
        path.write_bytes(data)
        result = CliRunner().invoke(app, [args[0], str(path), *args[1:]])
        assert result.exit_code in (0, 1, 2), (result.exit_code, result.output, data[:300])
        assert "Traceback" not in result.output, result.output
        assert "Internal error" not in result.output, result.output


COMMANDS = st.sampled_from(
    [
        ["compare", "--format", "json"],
        ["compare", "--skip-bad-lines", "--format", "csv"],
        ["inspect"],
        ["advantages", "-o", "-"],
    ]
)


@FUZZ
@given(jsonl_bytes(), COMMANDS)
def test_fuzz_jsonl(data: bytes, args: list[str]) -> None:
    run_cli(data, ".jsonl", args)


@FUZZ
@given(csv_bytes(), COMMANDS)
def test_fuzz_csv(data: bytes, args: list[str]) -> None:
    run_cli(data, ".csv", args)
