"""The Ray engine (``--engine ray``): partial group tables merged as one pass gives them
(Hypothesis, no Ray), and a local Ray of 2 CPUs giving the local engine's results on the
samples, on a group split across files and on a folder of many files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

import grpoflaw_cli.api as gf
from grpoflaw_cli.cli import app
from grpoflaw_cli.merge import merge_group_tables
from grpoflaw_cli.passes import group_stats_query, sorted_groups

DEGREE = {"sum_r3": 3, "sum_r4": 4, "len_rr": 2}
"""The power of the reward each column sums (a variance 2, others 1): its rounding is
relative to that power of the size of the terms summed (the group's largest |r − shift|,
and the mean for statistics about the raw reward), not to the result, which may cancel
to near 0."""


def assert_tables_close(local: pl.DataFrame, merged: pl.DataFrame, rel: float = 1e-12) -> None:
    """Equal keys, types and integers; floats equal to ``rel`` of the terms they sum."""
    assert local.columns == merged.columns
    assert local.schema == merged.schema
    keys = [k for k in ("step", "group") if k in local.columns]
    assert local.select(keys).equals(merged.select(keys))
    spread = None
    if "shift" in local.columns:  # a group table: the largest |r − shift| of each group
        far = pl.max_horizontal((pl.col(c) - pl.col("shift")).abs() for c in ("min", "max"))
        spread = local.select(far.fill_null(0.0)).to_series().to_numpy()
    for name in local.columns:
        a, b = local[name], merged[name]
        if not a.dtype.is_float():
            assert a.equals(b), name
            continue
        x, y = a.to_numpy(), b.to_numpy()
        empty = _over_no_values(local, name)
        x, y = np.where(empty, np.nan, x), np.where(empty, np.nan, y)
        assert np.array_equal(np.isnan(x), np.isnan(y)), name
        scale = np.abs(x)
        if spread is not None and not name.startswith("component"):
            degree = DEGREE.get(name, 2 if "var0" in name else 1)
            lengths = local["len_sum"].to_numpy() if name.startswith("len_") else 1.0
            terms = spread**degree * lengths
            if not name.startswith(("mean_shifted", "sum_r", "len_")):  # about the raw reward
                terms = terms + np.abs(local["mean_shifted"] + local["shift"]).to_numpy() ** degree
            scale = np.maximum(scale, np.nan_to_num(terms))
        ok = np.isnan(x) | (np.abs(x - y) <= rel * np.maximum(scale, 1e-300))
        assert ok.all(), (name, x[~ok][:3], y[~ok][:3])


def _over_no_values(table: pl.DataFrame, name: str) -> np.ndarray:
    """Where a group table's variance ``name`` is over no values: undefined, and Polars
    gives null or 0.0 for it depending on how the column is chunked (seen on a frame and
    its ``partition_by``), so the two engines need not agree there."""
    if "var0" not in name or "shift" not in table.columns:
        return np.zeros(table.height, dtype=bool)
    values = pl.col("n") - pl.col("n_null")
    counts = {
        "var0": values,
        "gap_var0": pl.col("n") - pl.max_horizontal("n_null", "baseline_null"),  # at most
        "var0_without_max": values - pl.col("n_at_max").fill_null(0),
        "var0_without_min": values - pl.col("n_at_min").fill_null(0),
    }
    count = counts.get(name, pl.col(name.replace("_var0", "_n")))
    return table.select(count.cast(pl.Int64) <= 0).to_series().to_numpy()


QUERY = {
    "has_length": True,
    "has_task": True,
    "source_col": "__file",
    "has_baseline": True,
    "components": ("c0", "c1"),
    "extremes": True,
    "sort": False,
}


@st.composite
def split_logs(draw: Any) -> tuple[pl.DataFrame, float]:
    """Rows of a few groups (some near-constant far from zero, some with missing rewards
    or tasks), each row in one of up to 4 files, in file order; and a shift."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows = draw(st.integers(1, 60))
    center = draw(st.sampled_from([0.0, 1.0, 4.5, 1e4]))
    spread = draw(st.sampled_from([1e-6, 0.02, 1.0, 100.0]))
    levels = draw(st.booleans())  # a few distinct values (ties at the max and min)
    noise = rng.integers(-2, 3, rows) if levels else rng.normal(size=rows)
    reward = center + spread * noise
    reward = np.where(rng.random(rows) < draw(st.sampled_from([0.0, 0.2])), np.nan, reward)
    frame = pl.DataFrame(
        {
            "step": pl.Series(rng.integers(-1, 2, rows)).replace(-1, None),  # a missing step
            "group": rng.choice(["a", "b", "c"], rows),
            "reward": reward,
            "length": rng.integers(1, 50, rows).astype(float),
            "task": rng.choice(["math", "code", ""], rows),
            "baseline": center + rng.normal(size=rows),
            "c0": rng.choice([0.0, 1.0], rows),
            "c1": rng.choice([0.0, 0.5, np.nan], rows),
            "__file": np.sort(rng.integers(0, draw(st.integers(1, 4)), rows)).astype(np.uint32),
        }
    ).with_columns(pl.col("reward", "c1").fill_nan(None), pl.col("task").replace("", None))
    return frame, draw(st.sampled_from([0.0, center]))


@settings(max_examples=80, deadline=None)
@given(split_logs())
def test_merged_parts_equal_one_pass(case: tuple[pl.DataFrame, float]) -> None:
    rows, shift = case
    whole = sorted_groups(group_stats_query(rows.lazy(), shift=shift, **QUERY).collect())
    parts = [
        group_stats_query(part.lazy(), shift=shift, partial=True, **QUERY).collect()
        for part in rows.partition_by("__file", maintain_order=True)
    ]
    assert_tables_close(whole, sorted_groups(merge_group_tables(parts)))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.sampled_from([0.0, 1e3]))
def test_merged_row_moments_equal_one_pass(seed: int, files: int, center: float) -> None:
    """The row-variable pass's table (per group: count, mean, variance, weighted sums)."""
    from grpoflaw_cli.merge import merge_moments

    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 80))
    y = center + rng.normal(size=rows)
    frame = pl.DataFrame(
        {
            "__order": rng.integers(0, 6, rows),
            "y": np.where(rng.random(rows) < 0.2, np.nan, y),
            "length": rng.integers(1, 50, rows).astype(float),
            "part": np.sort(rng.integers(0, files, rows)),
        }
    ).with_columns(pl.col("y").fill_nan(None))

    def table(rows: pl.DataFrame) -> pl.DataFrame:
        y, length = pl.col("y"), pl.col("length")
        return (
            rows.group_by("__order")
            .agg(
                y.count().alias("y_n"),
                y.mean().alias("y_mean"),
                y.var(ddof=0).alias("y_var0"),
                length.filter(y.is_not_null()).sum().alias("y_lsum"),
                (length * y).sum().alias("y_lx"),
            )
            .sort("__order")
        )

    whole = table(frame)
    merged = merge_moments([table(p) for p in frame.partition_by("part", maintain_order=True)])
    assert merged.columns == whole.columns and merged.schema == whole.schema
    assert merged.select("__order", "y_n", "y_lsum").equals(
        whole.select("__order", "y_n", "y_lsum")
    )
    size = center + 10.0  # the rewards' size: what a sum of them rounds relative to
    # Over no values a variance is undefined: Polars gives null or 0.0 for it depending on
    # how the column is chunked (seen on one frame and its partition_by), so those are out.
    some = whole["y_n"].to_numpy() > 0
    for name, scale in (("y_mean", size), ("y_var0", size**2), ("y_lx", size * 50 * rows)):
        a, b = whole[name].to_numpy()[some], merged[name].to_numpy()[some]
        assert np.allclose(a, b, rtol=0, atol=1e-12 * scale, equal_nan=True), name


def test_a_group_in_one_part_keeps_its_bits() -> None:
    rows = pl.DataFrame({"step": [0, 0, 1], "group": [0, 0, 0], "reward": [0.1, 0.7, 0.3]})
    whole = group_stats_query(rows.lazy(), has_length=False, shift=0.3).collect()
    parts = [
        group_stats_query(
            rows.filter(pl.col("step") == s).lazy(), has_length=False, shift=0.3
        ).collect()
        for s in (0, 1)
    ]
    assert sorted_groups(merge_group_tables(parts)).equals(whole)


def test_an_unknown_column_is_refused() -> None:
    with pytest.raises(ValueError, match="no rule"):
        merge_group_tables([pl.DataFrame({"step": [0], "group": [0], "novel": [1.0]})])


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=60), st.integers(1, 80))
def test_runs_of_files_cover_them_in_order(sizes: list[int], parts: int) -> None:
    from grpoflaw_cli.ray_engine import chunks

    runs = chunks(sizes, parts)
    assert len(runs) == min(parts, len(sizes))
    assert [a for a, _ in runs] == [0, *(b for _, b in runs[:-1])] and runs[-1][1] == len(sizes)
    assert all(a < b for a, b in runs)
    if len(runs) > 1:  # no run has more than a share of the bytes and one more file
        share = sum(sizes) / len(runs)
        assert all(sum(sizes[a : b - 1]) <= share + 1e-9 for a, b in runs)


# --- on a local Ray (slow: starting it takes seconds) -----------------------------------


def same_results(paths: Any, **keywords: Any) -> gf.Comparison:
    """Compare on Ray and locally: equal group tables, per-iteration tables and reports."""
    log = gf.load(paths, **keywords)
    local = gf.compare(log, "all")
    ray = gf.compare(log, "all", engine="ray")
    assert_tables_close(local.groups, ray.groups)
    assert_tables_close(local.iterations, ray.iterations)
    assert local.report().keys() == ray.report().keys()
    return ray


SAMPLE_LOGS = [
    SAMPLES / "multitask.jsonl",
    SAMPLES / "seed.csv",
    *sorted(p for p in (SAMPLES / "trainers").iterdir() if p.is_dir()),
]


@pytest.mark.slow
@pytest.mark.parametrize("path", SAMPLE_LOGS, ids=lambda p: p.name)
def test_the_samples_on_ray_equal_local(local_ray: Any, path: Path) -> None:
    same_results(path)


def _split_log(folder: Path, files: int, seed: int = 0) -> Path:
    """A log of ``files`` JSONL files whose groups each span several files."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    rows = 16 * 24
    frame = pl.DataFrame(
        {
            "step": np.repeat(np.arange(3), rows // 3),
            "prompt_id": rng.integers(0, 8, rows),
            "reward": np.round(4.5 + 0.02 * rng.normal(size=rows), 6),
            "response_length": rng.integers(10, 400, rows),
            "task": rng.choice(["math", "code"], rows),
        }
    )
    for k, part in enumerate(np.array_split(np.arange(rows), files)):
        frame[part].write_ndjson(folder / f"part_{k:03d}.jsonl")
    return folder


@pytest.mark.slow
def test_a_group_split_across_files_is_one_group(local_ray: Any, tmp_path: Path) -> None:
    folder = _split_log(tmp_path / "split", files=5)
    result = same_results(folder, group_col="prompt_id", step_col="step")
    groups = result.groups
    assert groups.height == 3 * 8  # one row per (step, prompt), not one per file
    rows = pl.concat(
        pl.read_ndjson(path).with_columns(file=pl.lit(k))
        for k, path in enumerate(sorted(folder.iterdir()))
    )
    assert int(groups["n"].sum()) == rows.height
    files = rows.group_by("step", "prompt_id").agg(pl.col("file").n_unique())["file"]
    assert (files > 1).sum() >= 4  # the test is about groups in several files


@pytest.mark.slow
def test_every_second_pass_runs_on_ray(
    local_ray: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groups far from zero (centered sums), row variables (``all`` estimators) and the
    trainer's logged advantages (TRL's) are passes over the rows too: on Ray, equal.

    Groups at 10^4 ± 0.02 are ill-conditioned (|mean| / std = κ ≈ 5·10^5): any float
    algorithm's std is off by about ε·κ, and both engines' are, by up to 3e-11 against
    the exact value (checked below). They agree to 1e-12·κ, the precision the
    problem has, not to 1e-12."""
    from grpoflaw_cli import ray_engine

    passes: list[str] = []
    collected = ray_engine.collected

    def spied(log: Any, query: Any, *rest: Any, **keywords: Any) -> pl.DataFrame:
        passes.append(getattr(query, "func", query).__name__)
        return collected(log, query, *rest, **keywords)

    monkeypatch.setattr(ray_engine, "collected", spied)
    folder = _split_log(tmp_path / "far", files=5)
    for path in sorted(folder.iterdir()):  # half the prompts 10^4 away, spread 0.02
        far = pl.read_ndjson(path).with_columns(
            pl.when(pl.col("prompt_id") < 4).then(pl.col("reward") + 1e4).otherwise("reward")
        )
        far.write_ndjson(path)
    log = gf.load(folder, group_col="prompt_id", step_col="step")
    local, ray = gf.compare(log, "all"), gf.compare(log, "all", engine="ray")
    kappa = float((local.groups["mean"].abs() / local.groups["std"]).max())
    assert kappa > 1e5
    assert_tables_close(local.groups, ray.groups, rel=1e-12 * kappa)
    assert_tables_close(local.iterations, ray.iterations, rel=1e-12 * kappa)
    rows = pl.read_ndjson(sorted(folder.iterdir()))
    for (step, prompt), group in rows.group_by("step", "prompt_id"):
        exact = _exact_std(group["reward"].to_list())
        where = (pl.col("step") == step) & (pl.col("group") == prompt)
        for result in (local, ray):
            assert abs(result.groups.filter(where)["std"].item() - exact) <= 1e-12 * kappa * exact
    same_results(SAMPLES / "trainers" / "trl")
    assert {"centered_sums_query", "row_variable_query", "logged_comparison_query"} <= set(passes)


def _exact_std(values: list[float]) -> float:
    """The sample std (ddof 1), in exact rational arithmetic until the square root."""
    from fractions import Fraction

    xs = [Fraction(x) for x in values]
    mean = sum(xs) / len(xs)
    return float(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5


# Two logs a trial found the merge wrong on (groups of equal values split across files).
# grpo_loo: step 5, uid g0 is one 1.0 among seven 0.0s, g9 eight 0.7s, g7 random; padded
# so that the runs of files fall as they did.
LOO_FILES = {
    "2": [("g7", 7.1711307478649156, 881)],
    "8": [("g0", 0.0, 1527)],
    "10": [("g9", 0.7, 1168)],
    "13": [("g0", 0.0, 975), ("g7", 3.8683450083341233, 2082)],
    "16": [("g7", -12.89371413960456, 438)],
    "18": [("g0", 1.0, 2463)],
    "22": [("g7", 13.366726310198633, 990)],
    "27": [("g0", 0.0, 1815)],
    "30": [("g0", 0.0, 1695)],
    "35": [("g7", 8.829096607766575, 1157), ("g0", 0.0, 686)],
    "39": [("g7", -2.106649056630421, 450)],
    "41": [("g0", 0.0, 2259)],
    "43": [("g9", 0.7, 2008)],
    "46": [("g9", 0.7, 556)],
    "48": [("g9", 0.7, 1683)],
    "49": [("g9", 0.7, 1708)],
    "53": [("g9", 0.7, 1215)],
    "59": [("g9", 0.7, 1071)],
    "68": [("g0", 0.0, 1563)],
    "72": [("g7", 8.833210589564919, 1301), ("g7", 5.4208729370816595, 1818)],
    "79": [("g9", 0.7, 663)],
}
# zero variance: steps 1 and 4, a group of 0.5s beside rewards of about ±1e-3.
HALVES = {
    "a": [
        (1, "s", -0.0009590655321041201),
        (1, "s", 0.0010839754700613295),
        (4, "c", 0.5),
        (1, "c", 0.5),
        (1, "c", 0.5),
        (1, "s", 0.00014077499008552228),
        (1, "s", -0.00035382860941833946),
        (4, "c", 0.5),
        (4, "s", -0.0008816829756864633),
        (1, "s", -0.0007096181835387358),
        (4, "s", -0.0008422789566319195),
        (4, "c", 0.5),
    ],
    "b": [
        (1, "s", 0.0005644556303293036),
        (1, "s", 0.0016458754237823046),
        (4, "s", -0.00018896906384204492),
        (4, "c", 0.5),
        (1, "c", 0.5),
        (4, "s", -4.567252946446499e-05),
        (4, "c", 0.5),
        (4, "c", 0.5),
        (4, "c", 0.5),
        (4, "s", -0.000663854230732174),
        (1, "s", 0.0005146591225063408),
        (4, "c", 0.5),
    ],
}


@pytest.mark.slow
def test_equal_values_split_across_files_merge_to_no_spread(local_ray: Any, tmp_path: Path) -> None:
    """Parts of equal values have means an ulp apart from part to part (about the shift,
    or summed in another order); the merge must still find no spread where one pass
    finds none. Before, grpo_loo divided g0's lone success by eps (a scale of 204,124,
    not 0.948) and the groups of 0.5s were not constant (zero signal 12.5 %, not 45.8 %)."""
    loo = tmp_path / "loo"
    loo.mkdir()
    for name, rows in LOO_FILES.items():
        with (loo / f"{name}.jsonl").open("w") as fh:
            for uid, reward, size in rows:
                line = {"step": 5, "uid": uid, "reward": reward, "pad": ""}
                line["pad"] = "x" * (size - 1 - len(json.dumps(line)))
                fh.write(json.dumps(line) + "\n")
    result = same_results(loo)
    assert result.iterations["scale_grpo_loo"].to_list() == pytest.approx([0.94767625890055])
    halves = tmp_path / "halves"
    halves.mkdir()
    for name, rows in HALVES.items():
        pl.DataFrame(rows, schema=["step", "prompt_id", "reward"], orient="row").write_ndjson(
            halves / f"{name}.jsonl"
        )
    result = same_results(halves)
    assert result.iterations["zero_variance_groups"].to_list() == [1, 1]


@pytest.mark.slow
def test_a_folder_of_many_files(local_ray: Any, tmp_path: Path) -> None:
    folder = _split_log(tmp_path / "many", files=40, seed=1)
    same_results(folder, group_col="prompt_id")


@pytest.mark.slow
def test_files_as_steps_on_ray(local_ray: Any, tmp_path: Path) -> None:
    """No step column: each file's step from its name, as the driver numbers it."""
    folder = tmp_path / "steps"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for step in (3, 10, 7, 12, 1):
        pl.DataFrame({"uid": np.repeat(np.arange(4), 4), "score": rng.random(16)}).write_parquet(
            folder / f"step_{step}.parquet"
        )
    result = same_results(folder)
    assert sorted(result.iterations["step"].to_list()) == [1, 3, 7, 10, 12]


@pytest.mark.slow
def test_compare_engine_ray_on_the_command_line(local_ray: Any, runner: Any) -> None:
    path = str(SAMPLES / "trainers" / "verl_multi_reward")
    local = runner.invoke(app, ["compare", path, "--format", "json"])
    ray = runner.invoke(app, ["compare", path, "--format", "json", "--engine", "ray"])
    assert local.exit_code == ray.exit_code == 0, ray.output
    assert json.loads(ray.stdout) == json.loads(local.stdout)


@pytest.mark.slow
def test_simulate_from_a_log_on_ray(local_ray: Any, runner: Any) -> None:
    args = ["simulate", "--from-log", str(SAMPLES / "multitask.jsonl"), "--seeds", "2"]
    args += ["--iterations", "3", "--format", "json"]
    local = runner.invoke(app, args)
    ray = runner.invoke(app, [*args, "--engine", "ray"])
    assert local.exit_code == ray.exit_code == 0, ray.output
    assert json.loads(ray.stdout) == json.loads(local.stdout)


@pytest.mark.slow
def test_a_bad_value_read_on_ray_names_its_file(local_ray: Any, tmp_path: Path) -> None:
    folder = _split_log(tmp_path / "bad", files=4)
    last = sorted(folder.iterdir())[-1]
    last.write_text(last.read_text().replace('"reward":', '"reward":null,"x":', 1))
    with pytest.raises(gf.InputError, match=last.name):
        gf.compare(gf.load(folder, group_col="prompt_id"), engine="ray")


@pytest.mark.slow
@pytest.mark.parametrize("line", [1, 6])  # the schema's line, and one the pass reads
def test_a_read_failing_in_a_task_names_its_file_and_line(
    local_ray: Any, tmp_path: Path, line: int
) -> None:
    """A file that breaks after the log was loaded fails in its Ray task: the error that
    reaches the caller is the local engine's InputError, naming the file and line."""
    from grpoflaw_cli.ray_engine import group_table

    folder = _split_log(tmp_path / "broken", files=4)
    log = gf.load(folder, group_col="prompt_id")
    broken = sorted(folder.iterdir())[2]
    lines = broken.read_text().splitlines()
    lines[line - 1] = lines[line - 1].replace('"reward":', '"reward":x', 1)
    broken.write_text("\n".join(lines) + "\n")
    settings = {"has_length": True, "has_task": True, "sort": False}
    with pytest.raises(gf.InputError, match=rf"{broken.name}', line {line}\b"):
        group_table(log, settings)


def test_without_ray_the_engine_names_the_extra(
    runner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    result = runner.invoke(app, ["compare", str(SAMPLES / "seed.csv"), "--engine", "ray"])
    assert result.exit_code == 2
    assert "pip install 'grpoflaw[ray]'" in result.stderr


def test_a_log_built_by_hand_is_refused_by_the_ray_engine() -> None:
    from dataclasses import replace

    from grpoflaw_cli.ray_engine import group_table

    log = replace(gf.load(SAMPLES / "seed.csv"), schemas=())
    with pytest.raises(gf.UsageError, match="local engine"):
        group_table(log, {"has_length": False})


def test_simulate_takes_the_engine_only_with_a_log(runner: Any) -> None:
    result = runner.invoke(app, ["simulate", "--engine", "ray"])
    assert result.exit_code == 2
    assert "--from-log" in result.stderr


class FakeRay:
    """What :func:`started` asks of Ray, recorded."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def is_initialized(self) -> bool:
        return False

    def init(self, **keywords: Any) -> None:
        self.calls.append(keywords)


def test_ray_address_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from grpoflaw_cli.ray_engine import started

    fake = FakeRay()
    with socket.create_server(("127.0.0.1", 0)) as head:  # a cluster's head answers
        address = f"ray://127.0.0.1:{head.getsockname()[1]}"
        monkeypatch.setenv("RAY_ADDRESS", address)
        started(fake)
    monkeypatch.delenv("RAY_ADDRESS")
    started(fake, num_cpus=2)
    assert fake.calls[0]["address"] == address and "num_cpus" not in fake.calls[0]
    assert fake.calls[1]["num_cpus"] == 2 and "address" not in fake.calls[1]
    assert all(call["include_dashboard"] is False for call in fake.calls)


def test_an_unreachable_ray_address_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from grpoflaw_cli.ray_engine import started

    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]  # free once closed: nothing answers there
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    fake = FakeRay()
    with pytest.raises(gf.InputError, match=f"RAY_ADDRESS=127.0.0.1:{port}") as err:
        started(fake)
    assert not fake.calls and "ray status" in (err.value.hint or "")
