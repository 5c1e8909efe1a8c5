"""The Python API: the same numbers as the CLI, as Polars frames and Plotly figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SAMPLES
from typer.testing import CliRunner

import grpoflaw_cli.api as gf
from grpoflaw_cli.cli import app
from grpoflaw_cli.errors import UsageError


def test_compare_matches_the_cli_json() -> None:
    result = gf.compare(SAMPLES / "multitask.jsonl")
    cli = json.loads(
        CliRunner()
        .invoke(app, ["compare", str(SAMPLES / "multitask.jsonl"), "--format", "json"])
        .stdout
    )
    assert result.report()["iterations"] == cli["iterations"]
    assert [f.code for f in result.flags] == [f["code"] for f in cli["flags"]]
    assert result.iterations.height == 40 and result.groups.height == 1280
    assert result.tasks is not None and set(result.tasks["task"].drop_nulls()) == {
        "browser",
        "code",
        "format",
        "math",
    }


@pytest.mark.parametrize("output_format", ["json", "csv"])
@pytest.mark.parametrize("sample", ["seed.jsonl", "trainers/verl_v1"])
def test_comparison_formats_are_what_compare_prints(output_format: str, sample: str) -> None:
    """to_json() and to_csv() give the bytes --format json and --format csv print (with
    settings named as the CLI names them, as in the reasons an estimator was left out).
    Samples that give the same digits on every run: on multitask.jsonl two runs may
    differ in the last digit."""
    from grpoflaw_cli.cli import FLAGS
    from grpoflaw_cli.errors import spelled_as

    path = SAMPLES / sample
    with spelled_as(FLAGS):
        result = gf.compare(path)
        text = result.to_json() if output_format == "json" else result.to_csv()
    cli = CliRunner().invoke(app, ["compare", str(path), "--format", output_format])
    assert cli.exit_code == 0, cli.output
    assert cli.stdout == text and text.endswith("\n")
    if output_format == "csv":
        assert text.startswith("step,") and text.count("\n") == result.iterations.height + 1
    else:
        assert json.loads(text) == result.report()


def test_describe_is_what_inspect_prints() -> None:
    path = str(SAMPLES / "trainers" / "verl_v1")
    cli = CliRunner().invoke(app, ["inspect", path, "--format", "json"]).stdout
    described = gf.describe(gf.load(path))
    assert json.loads(cli) == json.loads(json.dumps(described, default=str))


def test_follow_reports_each_change_of_a_dump_folder(tmp_path: Path) -> None:
    """watch's library side: a look when the files change, none while they do not; a
    file without a footer yet is left out and named, in the API's spelling."""
    from grpoflaw_cli.ingest import ColumnMap
    from grpoflaw_cli.watch import follow

    source = SAMPLES / "trainers" / "verl_v1"
    (tmp_path / "1.jsonl").write_bytes((source / "1.jsonl").read_bytes())
    looks = list(follow(tmp_path, ColumnMap(), interval=0.01, refreshes=3))
    assert len(looks) == 1 and looks[0][1] is None
    assert looks[0][0] == gf.compare(tmp_path).report()
    (tmp_path / "2.parquet").write_bytes((SAMPLES / "seed.parquet").read_bytes()[:500])
    [(report, problem)] = list(follow(tmp_path, ColumnMap(), interval=0.01, refreshes=1))
    assert report is not None and len(report["iterations"]) == 1
    assert problem is not None and "left out 2.parquet" in problem and "--" not in problem


def test_follow_lists_step_files_in_compares_order() -> None:
    """watch reads (and its header names) 2.jsonl before 10.jsonl, as compare does."""
    from grpoflaw_cli.ingest import ColumnMap
    from grpoflaw_cli.watch import follow, listing

    folder = SAMPLES / "trainers" / "verl_multi_reward"
    names = [Path(path).name for path, _, _ in listing(folder) or ()]
    assert names[:3] == ["1.jsonl", "2.jsonl", "3.jsonl"] and names[-1] == "36.jsonl"
    [(report, _)] = list(follow(folder, ColumnMap(), interval=0.01, refreshes=1))
    # the files and steps as compare reads them (not the whole report: a pass over many
    # files can end its sums in other last bits from one run to the next)
    compared = gf.compare(folder).report()
    assert report is not None and report["summary"]["files"] == compared["summary"]["files"]
    assert [r["step"] for r in report["iterations"]] == list(range(1, 37))


def test_follow_uses_the_conventions_it_is_given(tmp_path: Path) -> None:
    """ddof, eps and clip reach each look's comparison, as they reach api.compare."""
    from grpoflaw_cli.ingest import ColumnMap
    from grpoflaw_cli.watch import follow

    (tmp_path / "seed.jsonl").write_bytes((SAMPLES / "seed.jsonl").read_bytes())
    settings = {"framework": "openrlhf", "ddof": 0, "eps": 0.5, "clip": (-0.5, 0.5)}
    [(report, problem)] = list(
        follow(tmp_path, ColumnMap(), interval=0.01, refreshes=1, **settings)  # type: ignore[arg-type]
    )
    assert problem is None and report == gf.compare(tmp_path, **settings).report()  # type: ignore[arg-type]
    assert report != gf.compare(tmp_path, framework="openrlhf").report()


def test_load_with_column_overrides_and_advantages() -> None:
    log = gf.load(SAMPLES / "seed.jsonl", step_col="step")
    rows = gf.advantages(log, estimators=["grpo", "dr_grpo"], ddof=0, eps=0.0)
    assert [round(a, 4) for a in rows["adv_grpo"][:4]] == [-1.0801, -1.0801, -1.0801, 0.0]
    assert rows["adv_dr_grpo"].to_list()[7:] == [-5, -5, -5, 0, 5, 5, 5]


def test_framework_conventions_via_the_api() -> None:
    result = gf.compare(SAMPLES / "trainers" / "trl")
    assert result.conventions.framework == "trl" and result.conventions.eps == 1e-4
    verl = gf.compare(SAMPLES / "trainers" / "trl", framework="verl")
    assert verl.conventions.eps == 1e-6


@pytest.mark.slow
def test_figure_is_a_plotly_figure() -> None:
    figure = gf.compare(SAMPLES / "seed.csv").figure()
    assert type(figure).__name__ == "Figure"
    assert {t.type for t in figure.data} >= {"scatter", "violin"}


def test_unknown_estimator_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="choose from"):
        gf.compare(SAMPLES / "seed.csv", estimators=["nope"])


def test_one_estimator_may_be_named_as_a_string() -> None:
    log = gf.load([SAMPLES / "seed.jsonl"])
    assert gf.compare(log, "grpo").analysis.estimators == ("grpo",)
    assert gf.compare(log, "grpo,rloo").analysis.estimators == ("grpo", "rloo")


@pytest.mark.slow
def test_the_readme_example_script_runs(tmp_path: Path) -> None:
    """It writes its report where it is told, else to the temporary folder: never into
    the folder it runs in (the repository, when run from its root)."""
    tour = str(ROOT / "examples" / "api_tour.py")
    here, there = tmp_path / "cwd", tmp_path / "tmp"
    here.mkdir()
    there.mkdir()
    env = {**os.environ, "TMPDIR": str(there)}
    for args, report in (([], there / "api_tour.html"), ([str(tmp_path / "r.html")], None)):
        done = subprocess.run(
            [sys.executable, tour, *args], cwd=here, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert "top finding (by consequence): collapsed_pair" in done.stdout
        written = report or tmp_path / "r.html"
        assert written.stat().st_size > 1_000_000
        assert not list(here.iterdir())


def test_large_parquet_logs_are_aggregated_in_step_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunking by step ranges gives exactly the one-pass group table."""
    import polars as pl

    from grpoflaw_cli import ingest
    from grpoflaw_cli.passes import group_stats_query

    source = pl.read_ndjson(SAMPLES / "multitask.jsonl")
    source.write_parquet(tmp_path / "run.parquet")
    log = gf.load(tmp_path / "run.parquet")

    def query(frame: pl.LazyFrame) -> pl.LazyFrame:
        return group_stats_query(frame, has_length=True, has_task=True)

    whole = ingest.collect(log, query(log.stats_frame))
    monkeypatch.setattr(gf, "CHUNK_ROWS", 1_000)  # 10,233 rows -> 11 step ranges
    chunked = gf.group_table(log, query)
    assert chunked.equals(whole)
    assert (
        gf.compare(log).report()["iterations"]
        == gf.compare(gf.load(SAMPLES / "multitask.jsonl")).report()["iterations"]
    )


@pytest.mark.slow  # 18 reads and writes of one log in three formats
@pytest.mark.parametrize(
    ("log", "framework"),
    [
        (SAMPLES / "multitask.jsonl", None),  # lengths, tasks, several reward columns
        (SAMPLES / "trainers" / "trl", None),  # unscorable rows, logged advantages, 2 files
        (SAMPLES / "trainers" / "nemo_rl", None),  # grpo_loo: a second-pass row value
        (SAMPLES / "multitask.jsonl", "openrlhf"),  # the clip: row values for every estimator
        ("missing_components", None),  # GDPO with every component of a row missing: NaN
        ("missing_components", "trl"),  # ... which TRL turns into 0
    ],
)
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_streamed_advantages_equal_the_in_memory_ones(
    log: Path | str, framework: str | None, suffix: str, tmp_path: Path
) -> None:
    """write_advantages streams the rows through joined coefficients; api.advantages holds
    them in memory and applies NumPy. Same rows, same order, same numbers."""
    import polars as pl
    from polars.testing import assert_series_equal

    everything = ["all"]
    if log == "missing_components":
        log = tmp_path / "rollouts.csv"
        log.write_text("step,group,reward,acc,fmt\n1,a,1,1,0\n1,a,0,0,0\n1,a,1,,\n1,a,2,1,1\n")
        log = gf.load(log, component_cols=["acc", "fmt"], framework=framework)
    in_memory = gf.advantages(log, everything, framework=framework)
    path = tmp_path / f"adv{suffix}"
    written = gf.write_advantages(log, path, everything, framework=framework)
    assert written == in_memory.height
    streamed = {".parquet": pl.read_parquet, ".csv": pl.read_csv, ".jsonl": pl.read_ndjson}[suffix](
        path
    )
    assert streamed.columns == in_memory.columns
    for column in in_memory.columns:
        if column.startswith("adv_"):
            got, want = streamed[column].to_numpy(), in_memory[column].to_numpy()
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=column)
            want_nulls = (
                in_memory[column].fill_nan(None) if suffix == ".jsonl" else in_memory[column]
            )
            assert streamed[column].is_null().to_list() == want_nulls.is_null().to_list()
        elif in_memory[column].dtype.is_numeric():
            want_column = in_memory[column]
            if suffix == ".jsonl" and want_column.dtype.is_float():
                want_column = want_column.fill_nan(None)  # JSON has no NaN: null
            assert_series_equal(streamed[column], want_column, check_dtypes=False)


def test_api_errors_name_keyword_arguments_not_cli_flags() -> None:
    with pytest.raises(UsageError) as err:
        gf.load(SAMPLES / "seed.jsonl", reward_cols=["zzz"])
    assert err.value.message == "reward_cols 'zzz': no such column"
    assert "--" not in str(err.value)


def test_skipped_estimators_name_the_keyword_in_the_api_and_the_flag_in_the_cli(
    runner: CliRunner,
) -> None:
    """Why an estimator was left out names the setting that would bring it back, as each
    front end spells it."""
    result = gf.compare(SAMPLES / "seed.jsonl", ["grpo", "remax"])
    assert result.skipped == {"remax": "needs the greedy rollout's reward (baseline_col)"}
    cli = runner.invoke(app, ["compare", str(SAMPLES / "seed.jsonl"), "--format", "json"])
    assert json.loads(cli.stdout)["summary"]["skipped_estimators"]["remax"].endswith(
        "(--baseline-col)"
    )


def test_rewards_far_from_zero_keep_their_digits(tmp_path: Path) -> None:
    """Rewards of 1000 ± 0.01: centering raw power sums would cancel (the token-weighted
    whitening was off by 3e-6, the kurtosis by 3e-4, hiding the seed's collapsed pair), so
    those groups' sums are gathered centered in a second pass."""
    import polars as pl

    rng = np.random.default_rng(0)
    group = np.repeat(np.arange(8), 8)
    reward = 1000 + rng.normal(size=64) * 0.01
    length = rng.integers(10, 2000, 64).astype(float)
    path = tmp_path / "offset.jsonl"
    pl.DataFrame(
        {"step": 1, "group": group, "reward": reward, "response_length": length}
    ).write_ndjson(path)
    got = gf.advantages(path, ["reinforce_pp_baseline", "opo"])
    # verl: x = r − group mean, whitened with token weights and Bessel on the token count
    x = reward - np.array([reward[group == k].mean() for k in group])
    w = length.sum()
    mu = (length * x).sum() / w
    var = (length * (x - mu) ** 2).sum() / w * float(np.float32(w / (w - 1)))
    expected = (x - mu) / np.sqrt(var + 1e-8)
    np.testing.assert_allclose(got["adv_reinforce_pp_baseline"], expected, rtol=0, atol=1e-9)
    weighted = np.array(
        [(length * reward)[group == k].sum() / length[group == k].sum() for k in group]
    )
    np.testing.assert_allclose(got["adv_opo"], reward - weighted, rtol=0, atol=1e-12)

    seed = [-1, -1, -1, 0, 1, 1, 1]
    blog = tmp_path / "blog.jsonl"
    pl.DataFrame(
        [
            {"step": 1, "group": g, "reward": 1000 + v * m}
            for g, m in (("a", 1), ("b", 5))
            for v in seed
        ]
    ).write_ndjson(blog)
    result = gf.compare(blog)
    assert [f.code for f in result.flags] == ["collapsed_pair", "reallocation"]
    np.testing.assert_allclose(result.groups["kurtosis"], 7 / 6, rtol=1e-9)


def test_openrlhf_nan_singletons_are_left_out_of_the_iteration_scale(tmp_path: Path) -> None:
    """Three 0/1 pairs and a one-rollout group: OpenRLHF's GRPO gives that rollout NaN, so
    the iteration's RMS is over the six others (as the singleton_groups flag says)."""
    import polars as pl

    rows = [{"step": 1, "group": g, "reward": v} for g in range(3) for v in (0.0, 1.0)]
    path = tmp_path / "single.jsonl"
    pl.DataFrame([*rows, {"step": 1, "group": 9, "reward": 1.0}]).write_ndjson(path)
    it = gf.compare(path, framework="openrlhf").iterations
    assert it["scale_grpo"][0] == pytest.approx(np.sqrt(0.5), rel=1e-6)  # ±1/√2 each
    assert it["scale_dr_grpo"][0] == pytest.approx(np.sqrt(6 * 0.25 / 7))  # the 0 counts


def test_trl_unscorable_rollouts_count_as_rollouts_with_advantage_zero(tmp_path: Path) -> None:
    """TRL trains a rollout no reward function could score with advantage 0: it is one of
    the iteration's rollouts, of its group's size (no ragged batch) and of its scale."""
    import polars as pl

    rewards = [0.0, 1.0, None, 1.0, 0.0, 1.0, 0.0, 1.0]  # two groups of four
    path = tmp_path / "trl.jsonl"
    pl.DataFrame(
        {"step": 1, "group": [0] * 4 + [1] * 4, "reward": rewards}, strict=False
    ).write_ndjson(path)
    result = gf.compare(path, framework="trl")
    it = result.iterations
    assert it["rollouts"][0] == 8 and it["group_size_min"][0] == 4
    assert "ragged_groups" not in {f.code for f in result.flags}
    adv = gf.advantages(path, ["grpo"], framework="trl")["adv_grpo"].to_numpy()
    assert adv[2] == 0.0
    assert it["scale_grpo"][0] == pytest.approx(np.sqrt(np.mean(adv**2)))


def test_trl_unscorable_rollouts_carry_no_length_weight(tmp_path: Path) -> None:
    """OPO's length-weighted baseline is over the rollouts with a reward: a TRL row with
    none does not pull it towards 0."""
    import polars as pl

    path = tmp_path / "opo.jsonl"
    pl.DataFrame(
        {"step": 0, "group": 0, "reward": [5.0, 6.0, None], "length": [100.0, 300.0, 100.0]},
        strict=False,
    ).write_ndjson(path)
    adv = gf.advantages(path, ["opo"], framework="trl")["adv_opo"].to_list()
    baseline = (5 * 100 + 6 * 300) / 400
    assert adv == pytest.approx([5 - baseline, 6 - baseline, 0.0])


def test_iteration_scales_over_rollouts_with_an_advantage(tmp_path: Path) -> None:
    """OpenRLHF: an iteration of one-rollout groups has no GRPO advantage at all (NaN), so
    no scale; TRL: a group's scale is over all its rollouts, the unscorable one's 0 too."""
    import polars as pl

    path = tmp_path / "singles.jsonl"
    pl.DataFrame(
        {"step": [1, 1, 2, 2, 2, 2], "group": [0, 1, 0, 0, 1, 1], "reward": [1.0, 2, 0, 1, 0, 1]}
    ).write_ndjson(path)
    it = gf.compare(path, framework="openrlhf").iterations
    assert np.isnan(it["scale_grpo"][0]) and it["scale_dr_grpo"][0] == 0.0
    trl = tmp_path / "trl.jsonl"
    rewards = [0.0, 1.0, None, 1.0, 0.0, 1.0, 0.0, 1.0]
    pl.DataFrame(
        {"step": 1, "group": [0] * 4 + [1] * 4, "reward": rewards}, strict=False
    ).write_ndjson(trl)
    adv = gf.advantages(trl, ["grpo"], framework="trl")["adv_grpo"].to_numpy()
    scale = gf.compare(trl, framework="trl").groups["scale_grpo"][0]
    assert scale == pytest.approx(np.sqrt(np.mean(adv[:4] ** 2)))


def test_power_sums_are_taken_about_a_typical_reward(tmp_path: Path) -> None:
    """A reward model's 4.5 ± 0.02 needs no second pass (the sums are taken about the
    log's typical reward); groups far from it (a second task at 1000 ± 0.01) get one. The
    token-weighted whitening is exact either way."""
    import polars as pl

    from grpoflaw_cli.group_stats import needs_centering
    from grpoflaw_cli.passes import group_stats_query

    rng = np.random.default_rng(1)
    group = np.repeat(np.arange(8), 8)
    for offsets, centered in (([4.5] * 8, 0), ([4.5] * 5 + [1000.0] * 3, 24)):
        center = np.repeat(offsets, 8)
        reward = center + rng.normal(size=64) * np.where(center > 100, 0.01, 0.02)
        length = rng.integers(10, 2000, 64).astype(float)
        path = tmp_path / f"rm{centered}.jsonl"
        pl.DataFrame(
            {"step": 1, "group": group, "reward": reward, "response_length": length}
        ).write_ndjson(path)
        log = gf.load(path)
        table = group_stats_query(
            log.stats_frame, has_length=True, shift=gf.typical_reward(log)
        ).collect()
        assert int(needs_centering(table).sum()) * 8 == centered
        got = gf.advantages(path, ["reinforce_pp_baseline"])["adv_reinforce_pp_baseline"]
        x = reward - np.array([reward[group == k].mean() for k in group])
        w = length.sum()
        mu = (length * x).sum() / w
        var = (length * (x - mu) ** 2).sum() / w * float(np.float32(w / (w - 1)))
        np.testing.assert_allclose(got, (x - mu) / np.sqrt(var + 1e-8), rtol=0, atol=1e-9)


def test_clipped_values_far_from_zero_keep_their_digits(tmp_path: Path) -> None:
    """OpenRLHF's clip makes REINFORCE++'s value a second-pass variable; at 1000 ± 0.003 a
    clip that never bites must give the unclipped scale to rounding (it was 2.7e-6 off)."""
    import polars as pl

    spread = np.array([0, 1e-3, 2e-3, 3e-3] * 4) * np.repeat([1, 2, 3, 4], 4)
    path = tmp_path / "clip.jsonl"
    pl.DataFrame(
        {
            "step": 0,
            "group": np.repeat(range(4), 4),
            "reward": 1000 + spread,
            "response_length": np.tile([10.0, 500, 70, 900], 4),
        }
    ).write_ndjson(path)
    scales = [
        gf.compare(path, ["reinforce_pp"], framework="openrlhf", clip=clip).iterations[
            "scale_reinforce_pp"
        ][0]
        for clip in (None, (-2000.0, 2000.0))
    ]
    assert scales[1] == pytest.approx(scales[0], rel=1e-9)


def test_skewness_and_kurtosis_near_the_shift_keep_their_digits(tmp_path: Path) -> None:
    """Rewards at 1000 ± 0.05 set the shift; a pair of groups 5× apart in spread, within
    100 std of it, must keep an exact signature (the mean's last bit, magnified, cost
    the kurtosis 2e-5 and the flags)."""
    import polars as pl

    rng = np.random.default_rng(0)
    rows = [
        {"step": 0, "group": f"rm{g}", "reward": 1000 + 0.05 * rng.normal()}
        for g in range(125)
        for _ in range(8)
    ]
    for s in range(1, 11):
        rows += [{"step": s, "group": "wide", "reward": r} for r in [1000.0] * 5 + [1000.05] * 3]
        low, high = 1000.25 + s / 1000, 1000.26 + s / 1000
        rows += [{"step": s, "group": "narrow", "reward": r} for r in [low] * 5 + [high] * 3]
    path = tmp_path / "near.jsonl"
    pl.DataFrame(rows).write_ndjson(path)
    result = gf.compare(path)
    narrow = result.groups.filter(pl.col("group") == "narrow")["kurtosis"].to_numpy()
    exact = (5 * 0.6**4 + 3 * 1**4) / 8 / (5 * 0.6**2 / 8 + 3 / 8) ** 2  # standardised ±
    np.testing.assert_allclose(narrow, exact, rtol=1e-7)
    pairs = [f for f in result.flags if f.code == "collapsed_pair"]
    # A twin at each of steps 1–10: 10 of 11 iterations, one run-level finding.
    assert len(pairs) == 1 and pairs[0].evidence["steps"] == list(range(1, 11))


def test_trl_nan_advantages_count_as_zero_in_the_scales(tmp_path: Path) -> None:
    """TRL's last step is nan_to_num: rloo_norm's group with one scorable rollout writes
    0, and its scale says so."""
    import polars as pl

    rewards = [1.0, None, None, None, 0.0, 2.0, 1.0, 0.0]
    path = tmp_path / "trl.jsonl"
    pl.DataFrame(
        {"step": 0, "group": ["a"] * 4 + ["b"] * 4, "reward": rewards}, strict=False
    ).write_ndjson(path)
    adv = gf.advantages(path, ["rloo_norm"], framework="trl")["adv_rloo_norm"].to_numpy()
    result = gf.compare(path, ["rloo_norm"], framework="trl")
    assert result.groups["scale_rloo_norm"][0] == 0.0
    assert result.iterations["scale_rloo_norm"][0] == pytest.approx(np.sqrt(np.mean(adv**2)))


def test_api_conveniences(tmp_path: Path) -> None:
    """A loaded log compared under TRL's rules gets TRL's rule for missing rewards, as the
    CLI does; one reward column may be given as a string; sample(0) is a small sample."""
    import polars as pl

    path = tmp_path / "nulls.jsonl"
    pl.DataFrame(
        {"step": 1, "group": [0, 0, 0, 1, 1, 1], "reward": [1.0, None, 0.0, 1.0, 0.0, 2.0]},
        strict=False,
    ).write_ndjson(path)
    result = gf.compare(gf.load(path), framework="trl")
    assert result.iterations["rollouts"][0] == 6
    assert gf.load(SAMPLES / "seed.jsonl", reward_cols="reward").detection.reward_cols == (
        "reward",
    )
    assert gf.compare(SAMPLES / "seed.jsonl").sample(0).height > 0


def test_the_logged_verdict_uses_the_runs_tolerance() -> None:
    """The header's "matches" and the mismatch flag are one decision: a tolerance tighter
    than the logged advantages' error makes both say they differ."""
    from grpoflaw_cli.diagnostics import Thresholds

    log = gf.load(SAMPLES / "trainers" / "trl")
    default = gf.compare(log).report()["summary"]["logged_advantage"]
    assert default["matches"] and default["tolerance"] == 1e-3
    strict = gf.compare(log, thresholds=Thresholds(logged_tolerance=1e-20))
    logged = strict.report()["summary"]["logged_advantage"]
    assert not logged["matches"] and logged["tolerance"] == 1e-20
    assert any(f.code == "logged_advantage_mismatch" for f in strict.flags)
