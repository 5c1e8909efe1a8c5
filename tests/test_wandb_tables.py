"""W&B table exports (``*.table.json``) read as logs: TRL's completions table as W&B
writes it gives the same numbers as TRL's Parquet files of the same rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from grpoflaw_cli.cli import app
from grpoflaw_cli.errors import ExitCode, InputError
from grpoflaw_cli.ingest.wandb_tables import is_table, table_frame

TRAINERS = Path(__file__).resolve().parent.parent / "sample_data" / "trainers"
TABLES = TRAINERS / "trl_wandb" / "media" / "table"


def _json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _without_paths(report: Any) -> Any:
    """The report less what names the files read."""
    if isinstance(report, dict):
        return {k: _without_paths(v) for k, v in report.items() if k not in ("log", "files")}
    if isinstance(report, list):
        return [_without_paths(v) for v in report]
    return report


def test_the_sample_tables_are_trls_parquet_rows() -> None:
    tables = sorted(TABLES.glob("*.table.json"))
    parquet = sorted((TRAINERS / "trl" / "completions").glob("*.parquet"))
    assert len(tables) == len(parquet) == 2
    for table, source in zip(tables, parquet, strict=True):
        raw = json.loads(table.read_text())
        assert raw["columns"] == pl.read_parquet(source).columns
        assert all(isinstance(row[0], str) for row in raw["data"])  # step as text, as TRL logs it
        assert table_frame(table).equals(pl.read_parquet(source), null_equal=True)


def test_a_folder_of_tables_compares_as_trls_parquet_files() -> None:
    from_tables = _json("compare", str(TABLES))
    from_parquet = _json("compare", str(TRAINERS / "trl" / "completions"))
    assert from_tables["summary"]["source"] == "trl"
    assert _without_paths(from_tables) == _without_paths(from_parquet)
    # and not trivially: the run has numbers in it
    assert from_tables["summary"]["rollouts"] == 64
    assert [it["step"] for it in from_tables["iterations"]] == [10, 20]


def test_advantages_from_tables_equal_those_from_parquet(tmp_path: Path) -> None:
    outs = []
    for name, log in (("t", TABLES), ("p", TRAINERS / "trl" / "completions")):
        out = tmp_path / f"{name}.parquet"
        result = CliRunner().invoke(app, ["advantages", str(log), "-o", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(pl.read_parquet(out))
    assert outs[0].drop("file", strict=False).equals(outs[1].drop("file", strict=False))


def test_inspect_names_the_format_and_why_trl() -> None:
    result = CliRunner().invoke(app, ["inspect", str(TABLES), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["facts"]["formats"] == "wandb-table"
    assert any("exported from W&B" in reason for reason in report["reasons"])


def test_natural_order_of_a_folder_of_tables(tmp_path: Path) -> None:
    for step in (2, 10, 1):
        rows = [
            [str(step), f"q{p}", f"c{k}", float(k % 2 + step)] for p in range(2) for k in range(2)
        ]
        (tmp_path / f"completions_{step}_ab{step}.table.json").write_text(
            json.dumps({"columns": ["step", "prompt", "completion", "acc"], "data": rows})
        )
    result = CliRunner().invoke(app, ["inspect", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    names = [Path(f).name for f in json.loads(result.stdout)["files"]]
    assert names == [
        "completions_1_ab1.table.json",
        "completions_2_ab2.table.json",
        "completions_10_ab10.table.json",
    ]


def _write(tmp_path: Path, text: str, name: str = "t.table.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"columns": ["a"], "data": [[1], [2, 3]]}', 'row 2 of "data" is not a list of 1 value'),
        ("[1, 2]", "not a JSON object"),
        ('{"columns": ["a", "a"], "data": []}', "the column 'a' is named twice"),
        ('{"columns": ["a", ""], "data": []}', 'column 2 of "columns" has no name'),
        ('{"columns": "a", "data": []}', 'no list of column names under "columns"'),
        ('{"columns": ["a"], "rows": []}', 'no list of rows under "data"'),
        ('{"columns": ["a"],\n "data": [[1]', "not valid JSON at line 2"),
        (b"\xff\xfe".decode("latin-1"), "not valid JSON"),
    ],
)
def test_a_broken_table_is_named_with_what_is_wrong(tmp_path: Path, text: str, says: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=None) as caught:
        table_frame(path)
    assert says in caught.value.message
    result = CliRunner().invoke(app, ["compare", str(path)])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert says in result.output and "Traceback" not in result.output
    assert str(path.name) in result.output


def test_a_deduplicated_trl_table_is_refused_with_the_option_to_change(tmp_path: Path) -> None:
    rows = [["5", f"p{i}", "c", float(i % 2), 0.5] for i in range(8)]
    path = _write(
        tmp_path,
        json.dumps({"columns": ["step", "prompt", "completion", "acc", "advantage"], "data": rows}),
        "completions_5_aa.table.json",
    )
    result = CliRunner().invoke(app, ["compare", str(path)])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "log_unique_prompts=False" in result.output
    # the user who knows better says so
    assert CliRunner().invoke(app, ["compare", str(path), "--group-size", "1"]).exit_code == 0


def test_a_step_that_is_not_all_integers_stays_text(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps({"columns": ["step", "r"], "data": [["1", 0.5], ["x", 1]]}))
    assert table_frame(path)["step"].to_list() == ["1", "x"]


def test_is_table_goes_by_the_name() -> None:
    assert is_table(Path("run/files/media/table/completions_10_9f2e.table.json"))
    assert is_table(Path("X.TABLE.JSON"))
    assert not is_table(Path("rollouts.json")) and not is_table(Path("table.jsonl"))


values = st.one_of(
    st.none(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(values, min_size=3, max_size=3), min_size=1, max_size=30))
def test_any_numeric_table_reads_back_value_for_value(rows: list[list[Any]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.table.json"
        path.write_text(json.dumps({"columns": ["a", "b", "c"], "data": rows}))
        frame = table_frame(path)
    assert frame.columns == ["a", "b", "c"] and frame.height == len(rows)
    for j, name in enumerate(frame.columns):
        for got, want in zip(frame[name].to_list(), (row[j] for row in rows), strict=True):
            if want is None:
                assert got is None
            elif isinstance(want, float) and math.isnan(want):
                assert math.isnan(got)
            else:
                assert got == want


def test_tables_without_a_step_column_take_it_from_the_name_not_the_hash(
    tmp_path: Path,
) -> None:
    """W&B names a table completions_{step}_{hash}: a trial's tables without a step column
    got steps 0, 99 and 1234 from the hashes, out of order."""
    for step, digest in (
        (5, "0a99b1234cd5e6f7a8b9"),
        (10, "99aa00bb11cc22dd33ee"),
        (20, "1234abcd5678ef901234"),
    ):
        rows = [[f"q{p}", f"c{k}", float(k % 2 + step)] for p in range(2) for k in range(2)]
        (tmp_path / f"completions_{step}_{digest}.table.json").write_text(
            json.dumps({"columns": ["prompt", "completion", "acc"], "data": rows})
        )
    report = _json("compare", str(tmp_path))
    assert [it["step"] for it in report["iterations"]] == [5, 10, 20]


def test_a_table_cut_short_keeps_its_group_size(tmp_path: Path) -> None:
    """8 prompts × 4 completions with the last 2 rows gone: a trial got groups of 2
    everywhere (the gcd of the runs); the groups are 7 of 4 and one of 2."""
    rows = [["3", f"q{p}", f"c{k}", float((p + k) % 3), 0.0] for p in range(8) for k in range(4)][
        :-2
    ]
    path = tmp_path / "completions_3_ab12cd34.table.json"
    columns = ["step", "prompt", "completion", "acc", "advantage"]
    path.write_text(json.dumps({"columns": columns, "data": rows}))
    result = CliRunner().invoke(app, ["inspect", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)["facts"]
    assert facts["groups"] == 8 and facts["group sizes"] == "min 2, median 4, max 4"


def test_a_deduplicated_table_after_a_normal_one_is_refused_by_name(tmp_path: Path) -> None:
    """A trial's folder: a normal table, then one logged with log_unique_prompts. Only a
    deduplicated first file was refused; the second was read as blocks of unrelated
    prompts. Every file is checked now, and the message names the one at fault."""
    columns = ["step", "prompt", "completion", "acc", "advantage"]
    normal = [["5", f"q{p}", f"c{k}", float(k % 2), 0.0] for p in range(4) for k in range(4)]
    unique = [["7", f"q{p}", "c", float(p % 2), 0.0] for p in range(8)]
    for name, rows in (("completions_5_aa11bb22", normal), ("completions_7_cc33dd44", unique)):
        (tmp_path / f"{name}.table.json").write_text(json.dumps({"columns": columns, "data": rows}))
    result = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    text = " ".join(result.output.split())
    assert "completions_7_cc33dd44.table.json" in text and "log_unique_prompts=False" in text
