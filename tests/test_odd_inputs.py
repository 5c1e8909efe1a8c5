"""Odd inputs: no silent wrong answers from odd input, and no blow-up on
pathological sizes (late fields, colliding names, mixed ids, categorical steps, duplicate
keys, very many columns, very many files)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from grpoflaw_cli import api
from grpoflaw_cli.cli import app

runner = CliRunner()


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(n_groups: int = 6, size: int = 4, step: int = 0) -> list[dict[str, object]]:
    return [
        {"step": step, "uid": g, "reward": float((g * 7 + i * 3) % 5)}
        for g in range(n_groups)
        for i in range(size)
    ]


def _advantages(tmp_path: Path, *paths: Path, args: tuple[str, ...] = ()) -> pl.DataFrame:
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["advantages", *map(str, paths), "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    return pl.read_parquet(out)


# --------------------------------------------------------------- internal column names


def test_input_columns_named_like_working_columns_change_nothing_and_are_written_back(
    tmp_path: Path,
) -> None:
    plain = _rows()
    odd = [
        {**r, "__session": f"s{i % 2}", "__output": i % 3, "__file": "x", "__row": -1, "_^a": i}
        for i, r in enumerate(plain)
    ]
    expected = _advantages(tmp_path, _write_jsonl(tmp_path / "plain.jsonl", plain))
    got = _advantages(tmp_path, _write_jsonl(tmp_path / "odd.jsonl", odd))
    assert got["adv_grpo"].to_list() == expected["adv_grpo"].to_list()
    for name in ("__session", "__output", "__file", "__row", "_^a"):
        assert got[name].to_list() == [r[name] for r in odd], name


def test_an_input_session_column_alone_is_carried_not_a_crash(tmp_path: Path) -> None:
    rows = [{**r, "__session": "a"} for r in _rows()]
    log = _write_jsonl(tmp_path / "log.jsonl", rows)
    result = runner.invoke(app, ["compare", str(log)])
    assert result.exit_code == 0, result.output
    csv = tmp_path / "out.csv"
    result = runner.invoke(app, ["advantages", str(log), "-o", str(csv)])
    assert result.exit_code == 0, result.output
    assert pl.read_csv(csv)["__session"].to_list() == ["a"] * len(rows)


def test_a_reward_column_named_with_two_underscores_is_read(tmp_path: Path) -> None:
    rows = [{"step": r["step"], "uid": r["uid"], "__r": r["reward"]} for r in _rows()]
    log = _write_jsonl(tmp_path / "log.jsonl", rows)
    got = _advantages(tmp_path, log, args=("--reward-col", "__r"))
    expected = _advantages(tmp_path, _write_jsonl(tmp_path / "plain.jsonl", _rows()))
    assert got["adv_grpo"].to_list() == expected["adv_grpo"].to_list()
    assert got["__r"].to_list() == [r["__r"] for r in rows]


def test_the_library_frame_keeps_input_names(tmp_path: Path) -> None:
    rows = [{**r, "__file": 9} for r in _rows()]
    out = api.advantages(str(_write_jsonl(tmp_path / "log.jsonl", rows)), ["grpo"])
    assert out["__file"].to_list() == [9] * len(rows)


# --------------------------------------------------------------- very many columns


@pytest.mark.slow
def test_column_handling_is_linear_in_the_number_of_columns(tmp_path: Path) -> None:
    # 40,000 keys: quadratic membership tests took ~20 s here, linear handling ~3 s (most
    # of it Polars' own schema handling; the budget leaves room for a loaded machine).
    import time

    from grpoflaw_cli import ingest

    wide = {f"k{j}": j for j in range(40_000)}
    log = _write_jsonl(tmp_path / "wide.jsonl", [{**r, **wide} for r in _rows(2, 4)])
    start = time.perf_counter()
    loaded = ingest.load([log])
    assert time.perf_counter() - start < 10.0
    assert loaded.detection.reward_cols == ("reward",)
    assert len(loaded.detection.columns) == 40_003


def test_detection_is_linear_in_the_number_of_columns() -> None:
    import time

    from grpoflaw_cli.ingest import ColumnMap, detect

    names = [f"k{j}" for j in range(60_000)] + ["total_reward", "uid"]
    start = time.perf_counter()
    det = detect(names, ColumnMap(), numeric=names)  # quadratic: ~30 s
    assert time.perf_counter() - start < 2.0
    assert det.reward_cols == ("total_reward",)


# --------------------------------------------------------------- group and step ids


def _ids_file(path: Path, uid: object, step: int = 0) -> Path:
    rewards = [0.0, 1.0, 1.0, 3.0]
    return _write_jsonl(path, [{"step": step, "uid": uid, "reward": r} for r in rewards])


def test_a_files_advantages_do_not_depend_on_its_companions_id_types(tmp_path: Path) -> None:
    whole = _ids_file(tmp_path / "a.jsonl", 1)
    floats = _ids_file(tmp_path / "b.jsonl", 1.0)
    text = _ids_file(tmp_path / "c.jsonl", "1", step=1)  # another step: never b's group
    pair = _advantages(tmp_path, whole, floats)
    trio = _advantages(tmp_path, whole, floats, text)
    assert pair["adv_grpo"].to_list() == trio["adv_grpo"].head(8).to_list()


def test_group_ids_one_one_point_zero_and_text_one_are_one_group(tmp_path: Path) -> None:
    from grpoflaw_cli import ingest

    files = [
        _ids_file(tmp_path / "a.jsonl", 1),
        _ids_file(tmp_path / "b.jsonl", 1.0),
        _ids_file(tmp_path / "c.jsonl", "1"),
    ]
    for chosen in (files, files[1:], files[::2]):
        assert ingest.facts(ingest.load(chosen))["groups"] == 1, chosen


def test_a_nan_group_id_beside_text_ids_is_still_refused(tmp_path: Path) -> None:
    nan = tmp_path / "a.parquet"
    pl.DataFrame({"step": [0, 0], "uid": [float("nan"), 2.5], "reward": [1.0, 0.0]}).write_parquet(
        nan
    )
    text = _ids_file(tmp_path / "b.jsonl", "x")
    result = runner.invoke(app, ["compare", str(nan), str(text)])
    assert result.exit_code == 2, result.output
    assert "no value (null or NaN) in the group column 'uid'" in result.output


def _step_order(tmp_path: Path, steps: pl.Series) -> list[object]:
    log = tmp_path / "steps.parquet"
    n = steps.len()
    pl.DataFrame(
        {"step": steps, "uid": list(range(n)), "reward": [float(i % 3) for i in range(n)]}
    ).write_parquet(log)
    return _advantages(tmp_path, log)["step"].unique(maintain_order=True).to_list()


def test_categorical_and_enum_steps_are_ordered_by_value(tmp_path: Path) -> None:
    steps = pl.Series("step", ["10", "1", "2", "10", "2", "1"])
    for dtype in (pl.Categorical(), pl.Enum(["1", "10", "2"])):
        order = _step_order(tmp_path, steps.cast(dtype))
        assert order == [10, 1, 2], (dtype, order)  # rows keep their order; steps are numbers
        log = tmp_path / "steps.parquet"
        result = runner.invoke(app, ["compare", "--format", "json", str(log)])
        assert result.exit_code == 0, result.output
        iterations = [i["step"] for i in json.loads(result.output)["iterations"]]
        assert iterations == [1, 2, 10], (dtype, iterations)


def test_categorical_text_steps_sort_as_their_text(tmp_path: Path) -> None:
    steps = pl.Series("step", ["b", "a", "c", "a"])
    text = _step_order(tmp_path, steps)
    log = tmp_path / "steps.parquet"
    as_text = json.loads(runner.invoke(app, ["compare", "--format", "json", str(log)]).output)
    _step_order(tmp_path, steps.cast(pl.Categorical()))
    as_categories = json.loads(runner.invoke(app, ["compare", "--format", "json", str(log)]).output)
    assert text == ["b", "a", "c"]
    assert [i["step"] for i in as_categories["iterations"]] == ["a", "b", "c"]
    assert as_categories["iterations"] == as_text["iterations"]


# --------------------------------------------------------------- duplicate names


def test_a_duplicate_json_key_is_named_in_a_warning(tmp_path: Path) -> None:
    log = tmp_path / "dup.jsonl"
    log.write_text(
        "".join(
            f'{{"step": 0, "uid": {i // 2}, "reward": {i % 2}, "reward": 5}}\n' for i in range(4)
        )
    )
    result = runner.invoke(app, ["compare", str(log)])
    assert result.exit_code == 0, result.output
    assert "the key 'reward' appears more than once; the first value is read" in result.stderr
    from grpoflaw_cli import ingest

    assert ingest.load([log]).warnings  # the library carries it; only the CLI prints


def test_a_first_line_too_long_to_look_at_is_not_read_for_the_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check reads at most FIRST_LINE_BYTES of a file's first line into memory: a
    longer line goes unchecked (the log still reads), never read whole for a warning."""
    from grpoflaw_cli import ingest
    from grpoflaw_cli.ingest import headers

    log = tmp_path / "dup.jsonl"
    log.write_text('{"step": 0, "uid": 1, "reward": 1, "reward": 5}\n' * 4)
    assert ingest.load([log]).warnings
    monkeypatch.setattr(headers, "FIRST_LINE_BYTES", 20)
    assert ingest.load([log]).warnings == ()


def test_a_duplicate_csv_header_is_named_in_a_warning(tmp_path: Path) -> None:
    log = tmp_path / "dup.csv"
    log.write_text("step,uid,reward,reward\n0,1,1,2\n0,1,3,5\n")
    result = runner.invoke(app, ["compare", str(log)])
    assert result.exit_code == 0, result.output
    assert "'reward' (the next one is read as 'reward_duplicated_0')" in result.stderr


def test_no_warning_without_duplicates_or_for_nested_repeats(tmp_path: Path) -> None:
    from grpoflaw_cli import ingest

    rows = [{**r, "info": {"a": 1}} for r in _rows()]
    log = _write_jsonl(tmp_path / "log.jsonl", rows)
    assert ingest.load([log]).warnings == ()
    nested = tmp_path / "nested.jsonl"
    nested.write_text('{"step": 0, "uid": 1, "reward": 1, "info": {"a": 1, "a": 2}}\n')
    assert ingest.load([nested]).warnings == ()


# --------------------------------------------------------------- fields that appear late


def _late_rows(n: int, late_from: int = 150) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(n):
        row: dict[str, object] = {"step": i // 4000, "uid": i // 8, "reward": float(i * 7 % 5)}
        if i >= late_from:
            row |= {"data_source": "gsm8k", "tokens": i % 97 + 1, "note": "x"}
        rows.append(row)
    return rows


def test_a_field_first_seen_after_line_100_is_detected_and_carried(tmp_path: Path) -> None:
    from grpoflaw_cli import ingest

    log = _write_jsonl(tmp_path / "late.jsonl", _late_rows(400))
    det = ingest.load([log], ingest.ColumnMap(length="tokens")).detection
    assert det.task_col == "data_source" and det.length_col == "tokens"
    out = _advantages(tmp_path, log, args=("--estimators", "grpo"))
    assert out["note"].to_list()[-1] == "x" and out["tokens"].to_list()[-1] == 399 % 97 + 1


@pytest.mark.slow
def test_a_late_role_field_of_a_large_file_is_found(tmp_path: Path) -> None:
    from grpoflaw_cli import ingest
    from grpoflaw_cli.ingest.files import SMALL_LOG_BYTES

    log = _write_jsonl(tmp_path / "late.jsonl", _late_rows(80_000))
    assert log.stat().st_size > SMALL_LOG_BYTES  # the large-log path
    det = ingest.load([log], ingest.ColumnMap(length="tokens")).detection
    assert det.task_col == "data_source" and det.length_col == "tokens"
    result = runner.invoke(app, ["inspect", str(log), "--length-col", "tokens"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("tiny", [True, False])
def test_a_late_field_in_one_of_many_files_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: bool
) -> None:
    """Tiny files are read and searched together; larger ones are streamed by Polars,
    never read into Python."""
    from grpoflaw_cli import ingest
    from grpoflaw_cli.ingest import late_fields
    from grpoflaw_cli.ingest.files import SMALL_LOG_BYTES

    if not tiny:  # every file is "large": streamed, none read in a batch
        monkeypatch.setattr(late_fields, "TINY_FILE_BYTES", 1_000)
        monkeypatch.setattr(late_fields, "_batch_holding", _refused)
    folder = tmp_path / "steps"
    folder.mkdir()
    for step in range(300):
        rows = [{**r, "step": step, "pad": "x" * 20} for r in _late_rows(200)]
        if step != 211:  # the one file whose field appears late
            rows = [{k: v for k, v in r.items() if k not in ("data_source", "note")} for r in rows]
        folder.joinpath(f"{step}.jsonl").write_bytes(
            "".join(json.dumps(r) + "\n" for r in rows).encode()
        )
    assert sum(p.stat().st_size for p in folder.iterdir()) > SMALL_LOG_BYTES  # searched
    monkeypatch.setattr(late_fields, "BATCH_BYTES", 100_000)  # several batches
    assert ingest.load([folder]).detection.task_col == "data_source"


def _refused(*_: object, **__: object) -> None:
    raise AssertionError("a log file read into Python")


def _verl_step_files(folder: Path, steps: int, late: dict[str, object]) -> Path:
    """verl step files over SMALL_LOG_BYTES in all; ``late`` joins step 0's lines from
    line 150 (which verl's own writer never does)."""
    folder.mkdir()
    for step in range(steps):
        rows = [
            {"input": f"prompt {i // 8}", "output": "y" * 200, "score": float(i % 3), "step": step}
            | (late if step == 0 and i >= 150 else {})
            for i in range(400)
        ]
        _write_jsonl(folder / f"{step}.jsonl", rows)
    return folder


def test_a_verl_dump_is_not_searched_for_late_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verl writes every line of a step file with the same keys: the first lines show them
    all, so the search (a native read of every byte) is not made; a column the user names
    that no schema holds is still looked for."""
    from grpoflaw_cli import ingest
    from grpoflaw_cli.ingest import late_fields
    from grpoflaw_cli.ingest.files import SMALL_LOG_BYTES

    folder = _verl_step_files(tmp_path / "dump", 60, {"data_source": "gsm8k", "tokens": 7})
    assert sum(p.stat().st_size for p in folder.iterdir()) > SMALL_LOG_BYTES
    searched: list[list[str]] = []
    search = late_fields._files_holding
    monkeypatch.setattr(
        late_fields,
        "_files_holding",
        lambda names, *rest: searched.append(list(names)) or search(names, *rest),
    )
    det = ingest.load([folder]).detection
    assert det.source == "verl" and det.task_col is None and searched == [[]]
    det = ingest.load([folder], ingest.ColumnMap(length="tokens")).detection
    assert det.length_col == "tokens" and searched[-1] == ["tokens"]
    det = ingest.load([folder], source="generic").detection  # not as verl: searched
    assert det.task_col == "data_source" and len(searched[-1]) > 30


def test_a_late_wider_type_is_read_as_such(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [{**r, "extra": i} for i, r in enumerate(_rows(30, 4))]
    rows[-1]["extra"] = 1.5  # line 120: integers before
    rows[-2]["extra"] = None
    out = _advantages(tmp_path, _write_jsonl(tmp_path / "wide.jsonl", rows))
    assert out["extra"].to_list()[-3:] == [117.0, None, 1.5]


# --------------------------------------------------------------- very many files


def _step_files(folder: Path, n: int, fmt: str = "jsonl", step_col: bool = True) -> pl.DataFrame:
    folder.mkdir()
    frames = []
    for step in range(n):
        size = 2 + (step * 7) % 9
        frame = pl.DataFrame(
            {
                "step": [step] * size,
                "uid": [f"p{step}_{i // 2}" for i in range(size)],
                "reward": [float((step * 5 + i * 3) % 7) for i in range(size)],
            }
        )
        written = frame if step_col else frame.drop("step")
        path = folder / f"{step:04d}.{fmt}"
        if fmt == "jsonl":
            written.write_ndjson(path)
        elif fmt == "csv":
            written.write_csv(path)
        else:
            written.write_parquet(path)
        frames.append(frame)
    return pl.concat(frames)


def test_many_files_of_one_layout_are_read_in_one_scan(tmp_path: Path) -> None:
    from grpoflaw_cli import ingest

    _step_files(tmp_path / "steps", 200)
    plan = ingest.load([tmp_path / "steps"]).frame.explain(optimized=False)
    assert plan.count("SCAN") == 1  # not a concat of 200 scans


def test_many_files_give_the_numbers_of_one_file(tmp_path: Path) -> None:
    for fmt in ("jsonl", "csv", "parquet"):
        rows = _step_files(tmp_path / fmt, 60, fmt)
        one = tmp_path / f"one_{fmt}.parquet"
        rows.write_parquet(one)
        many = _advantages(tmp_path, tmp_path / fmt)
        single = _advantages(tmp_path, one)
        assert many.columns == single.columns
        for column in many.columns:
            if many[column].dtype.is_float():
                assert (many[column] - single[column]).abs().max() < 1e-12, (fmt, column)
            else:
                assert many[column].to_list() == single[column].to_list(), (fmt, column)


def test_files_without_a_step_column_keep_their_steps_and_groups(tmp_path: Path) -> None:
    _step_files(tmp_path / "steps", 30, step_col=False)
    out = _advantages(tmp_path, tmp_path / "steps")
    sizes = [2 + (step * 7) % 9 for step in range(30)]
    assert out["step"].to_list() == [s for s, n in enumerate(sizes) for _ in range(n)]


def test_an_error_in_one_of_many_files_names_that_file_and_line(tmp_path: Path) -> None:
    _step_files(tmp_path / "steps", 50)
    bad = tmp_path / "steps" / "0037.jsonl"
    lines = bad.read_text().splitlines()
    lines[1] = lines[1].replace('"reward":', '"reward":null,"was":')
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["compare", str(tmp_path / "steps")])
    assert result.exit_code == 2, result.output
    assert "0037.jsonl', line 2: the reward is missing" in " ".join(result.output.split())


def test_files_of_another_layout_in_between_keep_order_and_columns(tmp_path: Path) -> None:
    rows = _step_files(tmp_path / "steps", 12)
    odd = tmp_path / "steps" / "0005.jsonl"
    odd.write_text(
        "".join(
            json.dumps({**r, "extra": 1}) + "\n"
            for r in rows.filter(pl.col("step") == 5).to_dicts()
        )
    )
    out = _advantages(tmp_path, tmp_path / "steps")
    assert out["step"].to_list() == rows["step"].to_list()
    assert out.filter(pl.col("extra") == 1)["step"].unique().to_list() == [5]


def test_files_whose_rewards_are_integers_or_floats_share_a_scan(tmp_path: Path) -> None:
    from grpoflaw_cli import ingest

    folder = tmp_path / "steps"
    folder.mkdir()
    for step in range(40):
        rewards = [0, 1] if step % 2 else [0.5, 1.5]  # read as Int64 or Float64
        _write_jsonl(
            folder / f"{step}.jsonl", [{"step": step, "uid": 0, "reward": r} for r in rewards]
        )
    log = ingest.load([folder])
    assert log.frame.explain(optimized=False).count("SCAN") == 1
    assert ingest.collect(log, log.frame)["reward"].to_list()[:4] == [0.5, 1.5, 0.0, 1.0]


def test_a_late_field_in_one_of_many_files_of_a_large_log_is_found(tmp_path: Path) -> None:
    from grpoflaw_cli import ingest

    folder = tmp_path / "steps"
    folder.mkdir()
    for step in range(50):
        rows = [{**r, "step": step, "pad": "x" * 40} for r in _late_rows(1000, late_from=10**9)]
        if step == 30:
            rows[500]["response_length"] = 7  # line 501 of one file only
        _write_jsonl(folder / f"{step}.jsonl", rows)
    from grpoflaw_cli.ingest.files import small_log

    assert not small_log(sorted(folder.iterdir()))  # the search path, not whole-file inference
    det = ingest.load([folder]).detection
    assert det.length_col == "response_length"


@pytest.mark.slow
def test_a_late_field_of_a_large_gzipped_log_is_found(tmp_path: Path) -> None:
    import gzip

    from grpoflaw_cli import ingest
    from grpoflaw_cli.ingest.files import SMALL_LOG_BYTES

    text = "".join(json.dumps(r) + "\n" for r in _late_rows(120_000))
    log = tmp_path / "late.jsonl.gz"
    log.write_bytes(gzip.compress(text.encode()))
    assert log.stat().st_size * 8 > SMALL_LOG_BYTES
    det = ingest.load([log]).detection
    assert det.task_col == "data_source"
