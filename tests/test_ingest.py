"""Ingest: formats, folders and globs, column detection and overrides, clear errors."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import polars as pl
import pytest
from conftest import SAMPLES

from grpoflaw_cli.errors import InputError, UsageError
from grpoflaw_cli.ingest import ColumnMap, detect, file_format, load, resolve_paths


def rows(path: str | Path, mapping: ColumnMap | None = None) -> pl.DataFrame:
    log = load([path], mapping)
    return log.frame.collect()


@pytest.mark.parametrize("name", ["seed.jsonl", "seed.csv", "seed.parquet"])
def test_seed_reads_the_same_in_every_format(name: str) -> None:
    df = rows(SAMPLES / name)
    assert df.columns[:3] == ["step", "group", "reward"]
    assert df["reward"].dtype == pl.Float64
    assert df["reward"].to_list() == [-1, -1, -1, 0, 1, 1, 1, -5, -5, -5, 0, 5, 5, 5]
    assert df["step"].to_list() == [1] * 7 + [2] * 7
    assert df["group"].n_unique() == 1  # no group column: the iteration is the group


def test_gzip_jsonl_and_csv(tmp_path: Path) -> None:
    for name in ("seed.jsonl", "seed.csv"):
        target = tmp_path / (name + ".gz")
        target.write_bytes(gzip.compress((SAMPLES / name).read_bytes()))
        assert rows(target)["reward"].sum() == 0


def test_folder_reads_per_step_files_in_natural_order(write_jsonl, tmp_path: Path) -> None:
    for step in (10, 2, 1):
        write_jsonl([{"step": step, "uid": "a", "score": float(step)}], name=f"dump/{step}.jsonl")
    df = rows(tmp_path / "dump")
    assert df["step"].to_list() == [1, 2, 10]
    assert df["reward"].to_list() == [1.0, 2.0, 10.0]


def test_glob_and_several_paths_read_as_one_log(write_jsonl, tmp_path: Path) -> None:
    write_jsonl([{"step": 1, "reward": 1.0}], name="a/1.jsonl")
    write_jsonl([{"step": 2, "reward": 2.0}], name="a/2.jsonl")
    log = load([str(tmp_path / "a" / "*.jsonl")])
    assert log.frame.collect()["reward"].to_list() == [1.0, 2.0]
    log = load([tmp_path / "a" / "2.jsonl", tmp_path / "a" / "1.jsonl"])
    assert log.frame.collect()["reward"].to_list() == [2.0, 1.0]  # the order given


def test_detects_common_names_and_carries_other_columns(write_jsonl) -> None:
    path = write_jsonl(
        [{"global_step": 1, "prompt_id": "p", "score": 0.5, "response_length": 12, "note": "x"}]
    )
    log = load([path])
    det = log.detection
    assert (det.step_col, det.group_col, det.reward_cols, det.length_col) == (
        "global_step",
        "prompt_id",
        ("score",),
        "response_length",
    )
    df = log.frame.collect()
    assert {"global_step", "prompt_id", "score", "note"} <= set(df.columns)
    assert any("global_step" in r for r in det.reasons)


def test_overrides_and_weighted_components(write_jsonl) -> None:
    path = write_jsonl([{"it": 3, "q": "a", "acc": 1.0, "fmt": 0.5, "reward": 99.0}])
    mapping = ColumnMap(step="it", group="q", reward=("acc", "fmt"), reward_weights=(2.0, 1.0))
    df = rows(path, mapping)
    assert df["reward"].to_list() == [2.5]
    assert df["step"].to_list() == [3]
    assert df["src_reward"].to_list() == [99.0]  # the unused column keeps its data


def test_group_size_makes_consecutive_blocks_within_each_step(write_jsonl) -> None:
    data = [{"step": s, "reward": float(i)} for s in (1, 2) for i in range(6)]
    df = rows(write_jsonl(data), ColumnMap(group_size=3))
    assert df["group"].to_list() == [0, 0, 0, 1, 1, 1] * 2


def test_missing_component_makes_the_reward_null_not_zero(write_jsonl) -> None:
    path = write_jsonl([{"a": 1.0, "b": None}, {"a": 1.0, "b": 2.0}])
    df = rows(path, ColumnMap(reward=("a", "b")))
    assert df["reward"].to_list() == [None, 3.0]


def test_file_format() -> None:
    assert file_format(Path("x/12.jsonl.gz")) == "jsonl"
    assert file_format(Path("c.PARQUET")) == "parquet"
    assert file_format(Path("notes.txt")) is None


# --- errors ----------------------------------------------------------------------------------


def test_missing_path() -> None:
    with pytest.raises(InputError, match="no such file"):
        resolve_paths(["nope/never.jsonl"])


def test_folder_without_logs(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(InputError, match="holds no log files"):
        resolve_paths([tmp_path])


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("{}")
    with pytest.raises(InputError, match="unknown log format"):
        resolve_paths([path])


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    """By two paths, through a link to it, or as a hard link: one file, one read."""
    (tmp_path / "a.jsonl").write_text('{"reward": 1}\n')
    (tmp_path / "b.jsonl").write_text('{"reward": 2}\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "soft.jsonl").symlink_to(tmp_path / "a.jsonl")
    os.link(tmp_path / "a.jsonl", tmp_path / "sub" / "hard.jsonl")
    given = [tmp_path / "a.jsonl", f"{tmp_path}/./a.jsonl", tmp_path / "sub", tmp_path / "b.jsonl"]
    assert resolve_paths(given) == [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]


def test_unknown_column_lists_the_columns(write_jsonl) -> None:
    path = write_jsonl([{"step": 1, "reward": 1.0}])
    with pytest.raises(UsageError, match="group_col 'prompt'") as err:
        load([path], ColumnMap(group="prompt"))
    assert "step, reward" in str(err.value)


def test_no_reward_column_names_the_setting(write_jsonl) -> None:
    with pytest.raises(InputError, match="no reward column") as err:
        load([write_jsonl([{"step": 1, "value": 1.0}])])
    assert "reward_cols" in str(err.value)


def test_text_reward_column_is_refused(write_jsonl) -> None:
    path = write_jsonl([{"reward": "good"}, {"reward": "bad"}])
    with pytest.raises(
        InputError, match="line 1, column 'reward': expected a number, found 'good'"
    ):
        load([path])


def test_weights_must_match_reward_columns(write_jsonl) -> None:
    with pytest.raises(UsageError, match="reward_weights") as err:
        load([write_jsonl([{"a": 1.0}])], ColumnMap(reward=("a",), reward_weights=(1.0, 2.0)))
    assert "has 2 values for 1 reward column" in str(err.value)  # formatting.count


def test_group_col_and_group_size_conflict() -> None:
    with pytest.raises(UsageError, match="contradict"):
        detect(["reward", "uid"], ColumnMap(group="uid", group_size=4))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(InputError):
        load([path])


def test_verl_v1_uids_group_by_prompt_prefix(write_jsonl) -> None:
    data = [
        {"input": "q", "output": "a", "score": float(i), "step": 3, "uid": f"{u}_0_{i}"}
        for u in ("9f1c-aa", "77de-bb")
        for i in range(4)
    ]
    log = load([write_jsonl(data)])
    assert log.detection.group_key == "verl_uid"
    assert any("verl v1" in r for r in log.detection.reasons)
    df = log.frame.collect()
    assert df["group"].to_list() == ["9f1c-aa"] * 4 + ["77de-bb"] * 4
    assert df["uid"].to_list()[0] == "9f1c-aa_0_0"  # the original is carried through


def test_plain_uids_are_used_as_they_are(write_jsonl) -> None:
    log = load(
        [write_jsonl([{"uid": "prompt-1", "reward": 1.0}, {"uid": "prompt-1", "reward": 0.0}])]
    )
    assert log.detection.group_key == "value"


def test_trl_reward_function_columns_are_summed(tmp_path: Path) -> None:
    path = tmp_path / "completions_00010.parquet"
    pl.DataFrame(
        {
            "step": [10] * 4,
            "prompt": ["p", "p", "q", "q"],
            "completion": ["a", "b", "c", "d"],
            "accuracy_reward": [1.0, 0.0, 1.0, 1.0],
            "format_reward": [0.5, 0.5, 0.0, 0.5],
            "advantage": [0.7, -0.7, -0.7, 0.7],
        }
    ).write_parquet(path)
    log = load([path])
    det = log.detection
    assert (det.source, det.framework, det.logged_advantage) == ("trl", "trl", "advantage")
    assert det.reward_cols == ("accuracy_reward", "format_reward")
    assert (det.group_mode, det.group_size) == ("blocks", 2)  # the prompt repeats in runs of 2
    df = log.frame.collect()
    assert df["reward"].to_list() == [1.5, 0.5, 1.0, 1.5]
    assert df["group"].to_list() == [0, 0, 1, 1]


def test_step_numeric_in_one_file_and_text_in_another(write_jsonl, tmp_path: Path) -> None:
    write_jsonl([{"step": 1, "reward": 1.0}], name="m/1.jsonl")
    write_jsonl([{"step": "two", "reward": 1.0}], name="m/2.jsonl")
    with pytest.raises(InputError, match=r"holds numbers in .* but text in"):
        load([tmp_path / "m"])


def test_per_step_files_without_step_column_are_iterations(tmp_path: Path) -> None:
    folder = tmp_path / "trajectories" / "train"
    folder.mkdir(parents=True)
    for step in (1, 2):
        pl.DataFrame(
            {"group_index": [0, 0, 1, 1], "reward": [0.0, 1.0, 2.0, 3.0 * step]}
        ).write_parquet(folder / f"{step:04d}.parquet")
    log = load([tmp_path / "trajectories"])
    df = log.frame.collect()
    assert df["step"].to_list() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert any("each of the 2 files is one iteration" in r for r in log.detection.reasons)


def test_steps_from_file_names_fall_back_to_position() -> None:
    from grpoflaw_cli.ingest import steps_from_file_names

    assert steps_from_file_names(
        [Path("a/train_data_step3.jsonl"), Path("a/train_data_step10.jsonl")]
    )[0] == (3, 10)
    assert steps_from_file_names([Path("x.jsonl"), Path("y.jsonl")])[0] == (0, 1)
    assert steps_from_file_names([Path("run_1.jsonl"), Path("run_1.csv")])[0] == (0, 1)


def test_duplicate_rows_with_groups_from_row_blocks(tmp_path: Path) -> None:
    """A log concatenated twice, grouped by blocks of rows: each copy lands in another
    block, yet it is the same rollout."""
    import polars as pl

    from grpoflaw_cli import ingest
    from grpoflaw_cli.ingest import ColumnMap

    rows = [{"step": 1, "reward": float(i % 3), "text": f"t{i}"} for i in range(8)]
    path = tmp_path / "twice.jsonl"
    pl.DataFrame(rows + rows).write_ndjson(path)
    log = ingest.load([path], ColumnMap(group_size=4))
    assert ingest.duplicate_rows(log) == 8


def test_total_is_a_reward_name(write_jsonl) -> None:
    """A log whose reward column is called ``total`` needs no mapping."""
    path = write_jsonl(
        [{"step": 1, "group": 0, "total": 1.0}, {"step": 1, "group": 0, "total": 0.0}]
    )
    assert load([path]).detection.reward_cols == ("total",)
    assert rows(path)["reward"].to_list() == [1.0, 0.0]
