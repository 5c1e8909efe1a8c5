"""The report built and written a column at a time: the same content, the same bytes as
the row-by-row report written by ``json.dumps(indent=2)``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from grpoflaw_cli import api as gf
from grpoflaw_cli.render.formats import iterations_csv, json_text, report_json
from grpoflaw_cli.result import Rows, clean, flags_by_step
from grpoflaw_cli.verdict import per_iteration

LOGS = sorted(
    p for p in [*SAMPLES.glob("*.*"), *SAMPLES.glob("trainers/**/*.*")] if p.suffix != ".py"
)


def _row_by_row(result: gf.Comparison) -> list[dict[str, Any]]:
    """The per-iteration rows as the report built them before: a dict per row, cleaned."""
    by_step, moved = flags_by_step(result.flags), per_iteration(result.analysis)
    rows = [
        {**row, "reallocated": moved.get(row["step"]), "flags": by_step.get(row["step"], [])}
        for row in result.analysis.iterations.iter_rows(named=True)
    ]
    return clean(rows)  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", LOGS, ids=lambda p: str(Path(p).relative_to(SAMPLES)))
def test_columnar_report_equals_the_row_by_row_one(path: Path) -> None:
    try:
        result = gf.compare(path)
    except Exception:  # a sample meant to be refused (its own tests say how)
        pytest.skip("not a log compare reads")
    report = result.report()
    assert list(report["iterations"]) == _row_by_row(result)
    assert report_json(report) == json_text(report)
    assert json.loads(report_json(report)) == json.loads(json.dumps(report))
    as_rows = dict(report, iterations=list(report["iterations"]))  # no frame: row by row
    assert iterations_csv(report) == iterations_csv(as_rows)


def test_a_table_writes_nan_and_infinity_as_null_and_keeps_every_kind() -> None:
    frame = pl.DataFrame(
        {
            "step": [1, 2, None],
            "x": [math.nan, math.inf, 0.1],
            "ok": [True, None, False],
            "task": ["a\u202e", None, 'q"'],
            "flags": [["f"], [], ["g", "h"]],
        }
    )
    rows = Rows(frame)
    assert rows[0]["x"] is None and rows[1]["x"] is None and rows[2]["x"] == 0.1
    report = {"iterations": rows, "empty": Rows(frame.clear()), "nested": {"t": rows}}
    assert report_json(report) == json_text(report)


def test_a_table_with_numbers_inside_lists_is_cleaned_row_by_row() -> None:
    rows = Rows(pl.DataFrame({"step": [1], "xs": [[1.0, math.nan]]}))
    assert rows == [{"step": 1, "xs": [1.0, None]}] and rows.frame is None
    assert report_json({"t": rows}) == json_text({"t": rows})


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_the_writer_writes_what_json_dumps_writes(value: Any) -> None:
    assert report_json(value) == json_text(value)


def test_a_table_is_checked_for_control_characters_as_each_string_would_be() -> None:
    from grpoflaw_cli.textsafe import _UNSAFE, _UNSAFE_POLARS, printable_tree

    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    found = pl.Series(chars).str.contains(_UNSAFE_POLARS).to_list()
    assert found == [bool(_UNSAFE.search(c)) for c in chars]
    safe = Rows(pl.DataFrame({"step": [1, 2], "task": ["a", "b"], "flags": [["f"], []]}))
    assert printable_tree(safe) is safe  # nothing to escape: the table as it is
    unsafe = Rows(pl.DataFrame({"step": [1, 2], "task": ["a", "b\x1b"], "flags": [[], ["\n"]]}))
    assert printable_tree(unsafe) == [
        {"step": 1, "task": "a", "flags": []},
        {"step": 2, "task": "b\\x1b", "flags": ["\\n"]},
    ]


BOUNDARY_FLOATS = [
    0.0,
    -0.0,
    1e-4,
    -1e-4,
    9.999999999999999e-05,
    1e-05,
    5e-324,
    1e16,
    9999999999999998.0,
    -1e16,
    1e300,
    0.1,
    1.0,
    123456789012345.67,
    math.nan,
    math.inf,
    -math.inf,
]


def _random_floats(size: int) -> list[float]:
    """Floats of every exponent (random bits) and of the usual ranges."""
    import numpy as np

    rng = np.random.default_rng(14)
    bits = rng.integers(0, 2**64, size=size, dtype=np.uint64).view(np.float64)
    exponent = rng.integers(1023 - 16, 1023 + 56, size=size).astype(np.uint64)
    mantissa = rng.integers(0, 2**52, size=size, dtype=np.uint64)
    plain = ((exponent << np.uint64(52)) | mantissa).view(np.float64)
    return [*bits.tolist(), *plain.tolist(), *rng.random(size).tolist(), *BOUNDARY_FLOATS]


def test_floats_written_by_polars_are_the_text_json_writes() -> None:
    """Polars writes a batch of floats (a table's float column, a long list of floats):
    the same text as ``json``'s encoder, value for value, at every exponent."""
    from grpoflaw_cli.render.formats import _floats_text

    values = _random_floats(100_000)
    text = _floats_text(pl.Series(values, dtype=pl.Float64)).to_list()
    assert text == [json.dumps(v) for v in values]
    assert _floats_text(pl.Series([None, 1.5], dtype=pl.Float64)).to_list() == ["null", "1.5"]
    report = {"xs": values[:5000], "t": Rows(pl.DataFrame({"x": values[:5000]}))}
    assert report_json(report) == json_text(report)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats() | st.sampled_from(BOUNDARY_FLOATS), min_size=256, max_size=400))
def test_a_long_list_of_floats_is_written_as_json_dumps_writes_it(values: list[float]) -> None:
    assert report_json({"xs": values}) == json_text({"xs": values})
