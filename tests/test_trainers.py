"""Trainer presets: each bundled trainer dump reads with no flags beyond the path, and the
advantages each trainer logged (computed by the generator with the trainer's own formula)
are reproduced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import SAMPLES
from typer.testing import CliRunner

from grpoflaw_cli.cli import app
from grpoflaw_cli.errors import UsageError
from grpoflaw_cli.ingest import load
from grpoflaw_cli.ingest.trainers import TRAINERS as REGISTERED
from grpoflaw_cli.ingest.trainers import choose
from grpoflaw_cli.ingest.trainers.trl import missing

TRAINERS = SAMPLES / "trainers"

# folder, source, rollouts, iterations, groups, columns that must be detected
EXPECTED = [
    ("verl_legacy", "verl", 96, 3, 12, {"reward": "score", "group": "input"}),
    ("verl_v1", "verl", 96, 3, 12, {"reward": "score", "group": "uid"}),
    ("trl", "trl", 64, 2, 16, {"reward": "accuracy_reward + format_reward"}),
    (
        "open_instruct",
        "open-instruct",
        48,
        2,
        8,
        {"group": "prompt_idx", "length": "response_tokens", "task": "dataset"},
    ),
    (
        "prime_rl",
        "prime-rl",
        64,
        2,
        8,
        {
            "group": "problem_id",
            "task": "env_name",
            "components": "1·metrics.correct + 1·metrics.style",
        },
    ),
    (
        "verl_reward_keys",
        "verl",
        64,
        2,
        8,
        {"reward": "score", "components": "acc, format (GDPO: weight 1 each)"},
    ),
    (
        "verl_multi_reward",
        "verl",
        864,
        36,
        432,
        {
            "group": "input",
            "reward": "score",
            "components": "acc, format, bonus (GDPO: weight 1 each)",
        },
    ),
    ("art", "art", 24, 2, 6, {"group": "group_index"}),
    ("nemo_rl", "nemo-rl", 24, 2, 6, {"group": "prompt", "reward": "reward"}),
    (
        "relax",
        "relax",
        48,
        2,
        8,
        {"step": "rollout_id", "group": "group_index", "length": "response_length"},
    ),
]


def compare(path: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["compare", str(path), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("folder", "source", "rollouts", "iterations", "groups", "columns"), EXPECTED
)
def test_trainer_dump_reads_without_flags(
    folder: str, source: str, rollouts: int, iterations: int, groups: int, columns: dict[str, str]
) -> None:
    summary = compare(TRAINERS / folder)["summary"]
    assert summary["source"] == source
    assert (summary["rollouts"], summary["iterations"], summary["groups"]) == (
        rollouts,
        iterations,
        groups,
    )
    for role, column in columns.items():
        assert summary["columns"][role] == column, (role, summary["columns"])


@pytest.mark.parametrize("folder", [e[0] for e in EXPECTED])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_trainer_dump_advantages_write(folder: str, suffix: str, tmp_path: Path) -> None:
    """Every dump's rows write back out, nested and empty records ({}) included."""
    out = tmp_path / f"adv{suffix}"
    result = CliRunner().invoke(app, ["advantages", str(TRAINERS / folder), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = next(e[2] for e in EXPECTED if e[0] == folder)
    read = pl.read_parquet if suffix == ".parquet" else pl.read_csv
    assert read(out).height == rows


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("trl", "grpo"),
        ("open_instruct", "dr_grpo"),
        ("prime_rl", "dr_grpo"),
        ("nemo_rl", "grpo_loo"),
    ],
)
def test_logged_advantages_are_reproduced(folder: str, expected: str) -> None:
    report = compare(TRAINERS / folder)
    logged = report["summary"]["logged_advantage"]
    assert logged["expected"] == expected and logged["best_match"] == expected
    assert logged["max_relative_error"] < 1e-9
    assert "logged_advantage_mismatch" not in {f["code"] for f in report["flags"]}


def test_nemo_rl_rows_are_unwrapped_and_grouped_by_prompt_tokens() -> None:
    import numpy as np

    from grpoflaw_cli import api

    rows = api.load([TRAINERS / "nemo_rl"]).frame.collect()
    assert rows.schema["reward"] == pl.Float64 and rows.schema["advantage"] == pl.Float64
    # the advantage read at the first trained token is NeMo-RL's default, by hand: the
    # leave-one-out mean and sample std of the other rewards, eps 1e-6, unscaled if std 0
    for _, group in rows.group_by("step", "group"):
        r = group["reward"].to_numpy()
        for i, logged in enumerate(group["advantage"].to_numpy()):
            others = np.delete(r, i)
            std = others.std(ddof=1)
            mine = (r[i] - others.mean()) / (std + 1e-6) if std > 0 else r[i] - others.mean()
            assert logged == pytest.approx(mine, rel=1e-12, abs=1e-12)


def test_nemo_rl_older_dumps_group_by_the_first_message(tmp_path: Path) -> None:
    lines = [
        {"content": [[f"Q{i % 2}", "a"]], "rewards": [float(i)], "input_lengths": [5], "idx": i}
        for i in range(8)
    ]
    (tmp_path / "train_data_step0.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    summary = compare(tmp_path)["summary"]
    assert (summary["source"], summary["groups"], summary["rollouts"]) == ("nemo-rl", 2, 8)


def test_nemo_rl_edge_cases(tmp_path: Path) -> None:
    # a row with no trained token groups by its first message, not with every such row
    lines = [
        {
            "content": [[f"Q{i // 4}", "a"]],
            "rewards": [float(i % 3)],
            "input_lengths": [3],
            "token_ids": [[7, i // 4, 0]],
            "token_loss_mask": [[0, 0, 0]],
        }
        for i in range(12)
    ]
    (tmp_path / "train_data_step1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    summary = compare(tmp_path)["summary"]
    assert summary["groups"] == 3 and "opo" in summary["estimators"]
    # a file in the folder that is not a NeMo-RL step file is named, not a crash
    (tmp_path / "metrics.jsonl").write_text('{"content": ["x"], "loss": 1.0}\n')
    result = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert result.exit_code == 2 and "metrics.jsonl' has no 'rewards' field" in result.output


def _verl_whiten(x: np.ndarray) -> np.ndarray:
    """verl's masked_whiten on one iteration, one token per rollout: Bessel factor in float32."""
    n = x.size
    var = ((x - x.mean()) ** 2).mean() * float(np.float32(n / (n - 1)))
    return (x - x.mean()) / np.sqrt(var + 1e-8)


def test_verl_reward_keys_are_gdpos_components(tmp_path: Path) -> None:
    """verl's GDPO by hand on the dump's reward-extra keys: GRPO of acc and of format in
    each prompt group (ddof 1, eps 1e-6), summed, then whitened over the step."""
    out = tmp_path / "adv.parquet"
    result = CliRunner().invoke(
        app, ["advantages", str(TRAINERS / "verl_reward_keys"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = pl.read_parquet(out)
    for (step,), part in rows.group_by("step"):
        z = sum(
            (
                part.select(
                    (pl.col(k) - pl.col(k).mean().over("input"))
                    / (pl.col(k).std().over("input") + 1e-6)
                )
                .to_series()
                .to_numpy()
            )
            for k in ("acc", "format")
        )
        np.testing.assert_allclose(part["adv_gdpo"], _verl_whiten(z), rtol=1e-12, atol=1e-12)
        assert not np.allclose(part["adv_gdpo"], part["adv_grpo"]), step


def test_component_flag_and_json_metrics(tmp_path: Path) -> None:
    # any log: name the components the reward already includes
    multitask = SAMPLES / "multitask.jsonl"
    parts = ("reward_correct", "reward_sources", "reward_format")
    flags = [a for c in parts for a in ("--component-col", c)]
    report = compare(multitask, *flags)
    assert report["summary"]["columns"]["components"] == ", ".join(parts)
    assert report["summary"]["columns"]["reward"] == "reward"
    bad = CliRunner().invoke(app, ["compare", str(multitask), "--component-col", "nope"])
    assert bad.exit_code == 2 and "--component-col 'nope': no such column" in bad.output
    # OpenPipe ART JSONL: metrics is an object per trajectory; true/false read as 1/0
    trajectories = [
        {"reward": float(a + b), "metrics": {"passed": bool(a), "style": b, "turns": 3}}
        for a, b in ((1, 0.0), (0, 1.0), (1, 1.0), (0, 0.0))
    ]
    art = tmp_path / "trajectories" / "0001.jsonl"
    art.parent.mkdir()
    art.write_text(json.dumps({"trajectories": trajectories}) + "\n")
    report = compare(art.parent)
    # the reward is passed + style; turns is a metric, not a part of it
    assert (
        report["summary"]["columns"]["components"] == "1·metrics.passed + 1·metrics.style"
    )  # fitted
    assert "component_aliasing" in {f["code"] for f in report["flags"]}  # (1, 0) vs (0, 1)
    # metrics that do not add up to the reward are columns, not components
    trajectories = [
        {"reward": a + b + a * b, "metrics": {"passed": a, "style": b, "seconds": 3.0 + i}}
        for i, (a, b) in enumerate([(1, 0.0), (0, 1.0), (1, 1.0), (0, 0.0)] * 2)
    ]  # the reward has an interaction term: no weighted sum of the fields
    art.write_text(json.dumps({"trajectories": trajectories}) + "\n")
    (art.parent / "0002.jsonl").write_text(
        json.dumps({"trajectories": [{"reward": 1.0, "metrics": {"passed": 1}}] * 2}) + "\n"
    )  # a later file without some fields: null there, no error
    report = compare(art.parent)
    assert "components" not in report["summary"]["columns"]
    assert not {"component_aliasing"} & {f["code"] for f in report["flags"]}


def test_header_names_the_trainers_own_conventions() -> None:
    conventions = compare(TRAINERS / "open_instruct")["summary"]["conventions"]["text"]
    assert conventions == (
        "open-instruct conventions (verl's rules where it has none): std ddof=0 (population), "
        "eps=1e-08"
    )
    trl = compare(TRAINERS / "trl")["summary"]["conventions"]["text"]
    assert trl.startswith("trl conventions:")
    forced = compare(TRAINERS / "open_instruct", "--framework", "trl")["summary"]
    assert forced["conventions"]["text"].startswith("trl conventions: std ddof=1")
    # the user's own numbers are no trainer's; prime-rl has none of its own
    mine = compare(TRAINERS / "nemo_rl", "--std-ddof", "0")["summary"]["conventions"]["text"]
    assert mine.startswith("verl conventions: std ddof=0")
    prime = compare(TRAINERS / "prime_rl")["summary"]["conventions"]["text"]
    assert prime.startswith("verl conventions:")


def test_a_trainers_own_eps_of_zero_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An eps of 0 is a trainer's own convention like any other: the reasons name it,
    not drop it as if the trainer had none (no bundled trainer has one)."""
    from grpoflaw_cli.ingest import load, trainers
    from grpoflaw_cli.ingest.columns import ColumnMap

    def recognize(files: Any, columns: Any) -> trainers.Preset:
        mapping = ColumnMap(group="uid", reward=("score",))
        return trainers.Preset(why="its own eps is 0", mapping=mapping, ddof=0, eps=0.0)

    monkeypatch.setitem(trainers.TRAINERS, "verl", trainers.Trainer("verl", recognize))
    path = tmp_path / "rollouts.jsonl"
    path.write_text('{"uid": "a", "score": 1}\n{"uid": "a", "score": 0}\n')
    det = load([path], source="verl").detection
    assert det.eps == 0.0
    assert det.reasons[0].endswith("verl conventions with std ddof=0, eps=0"), det.reasons[0]


def test_a_new_trainer_is_its_recognizer_and_hooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trainer registered with a reshape and a roles hook is read through them, when the
    log is loaded and at every read after, with no other module knowing it."""
    from grpoflaw_cli.ingest import load, trainers
    from grpoflaw_cli.ingest.columns import ColumnMap

    def recognize(files: Any, columns: Any) -> trainers.Preset | None:
        if "points" not in columns:
            return None
        mapping = ColumnMap(group="prompt", reward=("score",))
        return trainers.Preset(why="points out of 10", mapping=mapping, reshape=True)

    def reshape(frame: pl.LazyFrame, shape: Any, where: str) -> pl.LazyFrame:
        return frame.with_columns((pl.col("points") / 10).alias("score"))

    def roles(det: Any) -> dict[str, pl.Expr]:
        return {"group": pl.col("prompt").str.to_uppercase()}

    toy = trainers.Trainer("verl", recognize, reshape=reshape, roles=roles)
    monkeypatch.setitem(trainers.TRAINERS, "verl", toy)
    path = tmp_path / "toy.jsonl"
    path.write_text("".join(f'{{"prompt": "p", "points": {n}}}\n' for n in (2, 4, 9)))
    log = load([path], source="verl")
    assert log.detection.reward_cols == ("score",) and log.detection.reshape
    rows = log.frame.collect()
    assert rows["reward"].to_list() == pytest.approx([0.2, 0.4, 0.9])
    assert rows["group"].to_list() == ["P"] * 3


def test_prime_rl_rubric_weights_are_found_and_other_metrics_left_out(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    correct, style = rng.integers(0, 2, 32).astype(float), rng.integers(0, 3, 32) / 2
    pl.DataFrame(
        {
            "step": [1] * 32,
            "problem_id": [f"p{i // 8}" for i in range(32)],
            "reward": correct + 0.5 * style,
            "metrics": [
                json.dumps({"correct": c, "style": s, "turns": int(t)}) if i != 2 else "oops"
                for i, (c, s, t) in enumerate(
                    zip(correct, style, rng.integers(1, 9, 32), strict=True)
                )
            ],  # one value is no JSON: passed over
        }
    ).write_parquet(tmp_path / "rollouts.parquet")
    result = CliRunner().invoke(app, ["inspect", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1·metrics.correct + 0.5·metrics.style" in " ".join(result.output.split())
    from grpoflaw_cli import api

    det = api.load(tmp_path).detection
    assert det.components == ("metrics.correct", "metrics.style")
    assert det.component_weights == (1.0, 0.5)  # GDPO weighs them as the rubric did


def test_step_folders_of_verifiers_episodes(tmp_path: Path) -> None:
    """prime-rl's rollouts/step_{N}/{kind}/{subset}/traces.jsonl: the step is the folder's
    number (two subsets share it), the group is verifiers' example_id."""
    for step in (1, 2, 10):
        for subset in ("gsm8k", "math"):
            folder = tmp_path / "rollouts" / f"step_{step}" / "train" / subset
            folder.mkdir(parents=True)
            lines = [
                {"example_id": e, "prompt": [{"role": "user", "content": "q"}], "reward": float(r)}
                for e in range(3)
                for r in (0, 1, step % 3)
            ]
            (folder / "traces.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    summary = compare(tmp_path / "rollouts")["summary"]
    assert summary["columns"]["group"] == "example_id"
    # gsm8k's example 0 and math's example 0 are different prompts: 6 groups per step
    assert (summary["rollouts"], summary["iterations"], summary["groups"]) == (54, 3, 18)
    report = compare(tmp_path / "rollouts")
    assert [it["step"] for it in report["iterations"]] == [1, 2, 10]
    assert "step_in_several_files" not in {f["code"] for f in report["flags"]}  # by design


def test_every_preset_is_a_source_flag_value() -> None:
    from grpoflaw_cli.cli import SourceName
    from grpoflaw_cli.ingest import SOURCES

    assert [s.value for s in SourceName] == list(SOURCES)


def test_every_framework_is_a_framework_flag_value() -> None:
    from grpoflaw_cli.cli.options import FrameworkName
    from grpoflaw_cli.estimators import FRAMEWORKS

    assert [f.value for f in FrameworkName] == list(FRAMEWORKS)


def test_a_config_the_user_did_not_expect_is_flagged() -> None:
    """The same TRL dump written with scale_rewards="none": it is Dr. GRPO, not GRPO."""
    report = compare(TRAINERS / "trl_scale_none")
    flags = [f for f in report["flags"] if f["code"] == "logged_advantage_mismatch"]
    assert len(flags) == 1 and flags[0]["step"] is None  # every iteration: one finding
    assert flags[0]["evidence"]["steps"] == [10, 20]
    assert flags[0]["evidence"]["best_match"] == "dr_grpo"
    assert flags[0]["evidence"]["best_error"] < 1e-9
    assert "match dr_grpo instead" in flags[0]["message"]


def test_trl_unscorable_rollout_gets_zero(tmp_path: Path) -> None:
    out = tmp_path / "adv.parquet"
    result = CliRunner().invoke(app, ["advantages", str(TRAINERS / "trl"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    import polars as pl

    df = pl.read_parquet(out)
    # row 3 has format_reward NaN but accuracy_reward set: scorable (nansum), matches TRL
    assert df["adv_grpo"].to_list() == pytest.approx(df["advantage"].to_list(), abs=1e-12)


def test_trl_rloo_norm_leaves_a_lone_scorable_rollout_out_of_the_batch(tmp_path: Path) -> None:
    """TRL RLOOTrainer: a group with one scorable rollout has baseline 0/0 = NaN, which
    nanmean/nanstd skip; it becomes 0 only after the normalization."""
    log = tmp_path / "rollouts.csv"
    log.write_text("step,group,reward\n0,x,1\n0,x,\n0,x,\n0,x,\n0,y,1\n0,y,0\n0,y,0\n0,y,0.5\n")
    out = tmp_path / "adv.csv"
    args = ["advantages", str(log), "-o", str(out), "--framework", "trl"]
    result = CliRunner().invoke(app, [*args, "--estimators", "rloo_norm"])
    assert result.exit_code == 0, result.output
    x = np.array([1 - 1 / 6, -0.5, -0.5, 0.5 - 1 / 3])  # y: r − mean of the other three
    std = np.sqrt(((x - x.mean()) ** 2).mean() * float(np.float32(4 / 3)))  # TRL's nanstd
    want = [0.0] * 4 + list((x - x.mean()) / (std + 1e-4))
    got = pl.read_csv(out)["adv_rloo_norm"].to_list()
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_trl_group_with_no_scored_rollout_leaves_the_step_extremes_alone(
    tmp_path: Path,
) -> None:
    log = tmp_path / "rollouts.csv"
    log.write_text("step,group,reward\n0,x,\n0,x,\n0,y,1\n0,y,-2\n")
    result = CliRunner().invoke(
        app, ["compare", str(log), "--framework", "trl", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    step = json.loads(result.stdout)["iterations"][0]
    assert (step["reward_min"], step["reward_max"]) == (-2.0, 1.0)
    assert "Warning" not in result.stderr


def test_metrics_constant_in_the_sample_are_no_parts(tmp_path: Path) -> None:
    """A metric constant over the sampled rows cannot be told from the reward's offset."""
    rng = np.random.default_rng(4)
    acc = rng.integers(0, 2, 40).astype(float)
    pl.DataFrame(
        {
            "step": [1] * 40,
            "problem_id": [f"p{i // 8}" for i in range(40)],
            "reward": acc + 0.5,
            "metrics": [json.dumps({"acc": a, "format": 0.5, "turns": 1}) for a in acc],
        }
    ).write_parquet(tmp_path / "rollouts.parquet")
    from grpoflaw_cli import api

    assert api.load(tmp_path).detection.components == ()


def test_framework_flag_overrides_the_preset() -> None:
    report = compare(TRAINERS / "trl", "--framework", "verl")
    assert report["summary"]["conventions"]["framework"] == "verl"
    assert report["summary"]["logged_advantage"]["max_relative_error"] > 1e-6  # eps differs


def test_source_generic_ignores_trainer_layout() -> None:
    report = compare(TRAINERS / "verl_v1", "--source", "generic")
    assert report["summary"]["source"] == "generic"


def test_forcing_a_source_that_does_not_fit_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["compare", str(TRAINERS / "art"), "--source", "trl"])
    assert result.exit_code == 2 and "--source trl" in result.output


def test_inspect_names_the_preset_and_why() -> None:
    result = CliRunner().invoke(app, ["inspect", str(TRAINERS / "trl"), "--format", "json"])
    payload = json.loads(result.stdout)
    assert payload["facts"]["source"].startswith("trl")
    assert any("blocks of 4" in r and "inferred" in r for r in payload["reasons"])
    assert not any("from --" in r for r in payload["reasons"])  # no flag was passed
    assert any("'advantage' holds the trainer's own advantage" in r for r in payload["reasons"])


def test_choose_is_pure_and_explains() -> None:
    p = choose(
        [Path("x/1.jsonl")], {"input": "str", "output": "str", "score": "f64", "step": "i64"}
    )
    assert p.name == "verl" and "input, output, score" in p.why
    assert choose([Path("x.csv")], {"step": "i64", "reward": "f64"}).name == "generic"
    with pytest.raises(UsageError):
        choose([Path("x.csv")], {"reward": "f64"}, "nope")


def test_verl_multi_turn_sessions_use_the_last_output(tmp_path: Path) -> None:
    """verl v1: GRPO sees each session's last output; earlier outputs share its advantage."""
    uuid = "601b757b-8346-46af-b269-475ec72600e9"
    rows = [  # sessions 0 (3 outputs), 1 (2), 2 and 3 (1 each); last outputs: 1, 0, 1, 0
        (0, 0, 0.0),
        (0, 1, 0.0),
        (0, 2, 1.0),
        (1, 0, 0.0),
        (1, 1, 0.0),
        (2, 0, 1.0),
        (3, 0, 0.0),
    ]
    path = tmp_path / "1.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"input": "p", "output": "o", "score": r, "step": 1, "uid": f"{uuid}_{s}_{i}"}
            )
            + "\n"
            for s, i, r in rows
        )
    )
    out = tmp_path / "adv.csv"
    result = CliRunner().invoke(
        app, ["advantages", str(path), "-o", str(out), "--estimators", "grpo,grpo_loo"]
    )
    assert result.exit_code == 0, result.output
    import polars as pl

    adv = pl.read_csv(out)
    expected = [0.8660254, 0.8660254, 0.8660254, -0.8660254, -0.8660254, 0.8660254, -0.8660254]
    assert adv["adv_grpo"].to_list() == pytest.approx(expected, rel=1e-5)
    # a second-pass estimator too: the last outputs 1, 0, 1, 0 each see the other three
    loo = (2 / 3) / (np.sqrt(1 / 3) + 1e-6)
    want = [loo, loo, loo, -loo, -loo, loo, -loo]
    assert adv["adv_grpo_loo"].to_list() == pytest.approx(want, rel=1e-12)
    summary = compare(path)["summary"]
    assert summary["rollouts"] == 4  # the statistics count sessions' last outputs


@pytest.mark.parametrize("folder", sorted(p.name for p in TRAINERS.iterdir() if p.is_dir()))
def test_reasons_are_plain_text(folder: str) -> None:
    """``inspect`` prints the reasons as they are: none may hold a setting's placeholder
    (errors.option), which only an error's message is spelled from."""
    from grpoflaw_cli import ingest

    reasons = ingest.load([TRAINERS / folder]).detection.reasons
    assert reasons and not any("\x1f" in r for r in reasons)


def test_metrics_that_are_not_the_reward_are_said_in_plain_text(tmp_path: Path) -> None:
    rows = [
        {"problem_id": i // 4, "reward": float(i % 3), "metrics": json.dumps({"a": i, "b": i * i})}
        for i in range(16)
    ]
    log = tmp_path / "rollouts.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from grpoflaw_cli import ingest
    from grpoflaw_cli.cli import FLAGS
    from grpoflaw_cli.errors import spelled_as

    reasons = ingest.load([log]).detection.reasons
    note = next(r for r in reasons if "do not add up to the reward" in r)
    assert note.endswith("(name parts with component_cols)")
    with spelled_as(FLAGS):  # as the CLI reads it
        reasons = ingest.load([log]).detection.reasons
    note = next(r for r in reasons if "do not add up to the reward" in r)
    assert note.endswith("(name parts with --component-col)")


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_every_source_names_the_columns_the_log_lacks(name: str) -> None:
    """``--source X`` on a log without X's columns names the missing ones and X's layout;
    every trainer has the hook."""
    assert REGISTERED[name].needs is not None
    with pytest.raises(UsageError, match=r"the log does not have that trainer's columns: no col"):
        load([SAMPLES / "seed.jsonl"], source=name)


def test_source_trl_names_the_column_the_log_lacks() -> None:
    """``--source trl`` on a log without TRL's completion table says which column is missing."""
    with pytest.raises(UsageError, match="no columns 'prompt', 'completion', 'advantage'"):
        load([SAMPLES / "seed.jsonl"], source="trl")
    one = {"prompt": "str", "completion": "str", "reward": "f64"}
    assert missing([Path("log.jsonl")], one).startswith("no column 'advantage' (")


def test_user_components_take_the_weights_or_gdpo_is_refused(tmp_path: Path) -> None:
    """GDPO over ``--component-col`` weighs each component by ``--reward-weights``
    (Σ_k w_k z_k, then whitened), and is refused when chosen without them."""
    acc = [1, 0, 1, 0, 1, 1, 0, 0]
    fmt = [1, 1, 0, 0, 0, 1, 1, 0]
    rows = [
        {"step": 1, "group": i // 4, "reward": 4 * a + f, "acc": a, "fmt": f}
        for i, (a, f) in enumerate(zip(acc, fmt, strict=True))
    ]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parts = ["--component-col", "acc", "--component-col", "fmt", "--estimators", "grpo,gdpo"]
    refused = CliRunner().invoke(app, ["compare", str(log), *parts])
    assert refused.exit_code == 2
    assert "--component-col" in refused.output and "--reward-weights" in refused.output
    out = tmp_path / "adv.parquet"
    done = CliRunner().invoke(
        app, ["advantages", str(log), *parts, "--reward-weights", "4,1", "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    frame = pl.read_parquet(out)
    z = sum(
        w
        * frame.select(
            (pl.col(k) - pl.col(k).mean().over("group")) / (pl.col(k).std().over("group") + 1e-6)
        )
        .to_series()
        .to_numpy()
        for k, w in (("acc", 4.0), ("fmt", 1.0))
    )
    np.testing.assert_allclose(frame["adv_gdpo"], _verl_whiten(z), rtol=1e-12, atol=1e-12)
    default = CliRunner().invoke(app, ["compare", str(log), *parts[:4], "--format", "json"])
    assert "gdpo" in json.loads(default.stdout)["summary"]["skipped_estimators"]


def test_weights_for_a_trainers_components_are_shown_and_checked() -> None:
    """The verl preset finds the reward's components: --reward-weights gives GDPO their
    weights, and the header and JSON say so; a count that fits neither the reward column
    nor the components is refused naming both."""
    folder = SAMPLES / "trainers" / "verl_multi_reward"
    report = compare(folder, "--reward-weights", "4,1,0.1")
    assert report["summary"]["reward_weights"] == {"acc": 4.0, "format": 1.0, "bonus": 0.1}
    assert report["summary"]["columns"]["components"] == "4·acc + 1·format + 0.1·bonus"
    bad = CliRunner().invoke(app, ["compare", str(folder), "--reward-weights", "4,1"])
    assert bad.exit_code == 2
    assert "2 values for 1 reward column and 3 components (acc, format, bonus)" in bad.output


def test_relax_train_and_eval_together_are_refused(tmp_path: Path) -> None:
    """Relax writes rollout_result/train/{id}.jsonl and eval/{id}.jsonl with group indices
    that restart in each: read together they would mix prompts. Refused (exit 2) naming
    the fix; either folder alone reads, eval's dataset as the task; a Relax dump is never
    taken for ART's parquet (group_index and reward too), whose conventions differ."""
    root = tmp_path / "rollout_result"
    train = root / "train"
    train.mkdir(parents=True)
    source = TRAINERS / "relax" / "rollout_result" / "train" / "1.jsonl"
    (train / "1.jsonl").write_text(source.read_text())
    (root / "eval").mkdir()
    rows = [json.loads(line) | {"dataset": "aime"} for line in source.read_text().splitlines()]
    (root / "eval" / "1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["compare", str(root)])
    assert result.exit_code == 2
    assert "train/ and eval/" in result.output and "rollout_result/train" in result.output
    summary = compare(root / "eval")["summary"]
    assert summary["source"] == "relax" and summary["columns"]["task"] == "dataset"
    assert "ddof=1" in summary["conventions"]["text"]


def test_relax_reward_must_be_a_number(tmp_path: Path) -> None:
    """A reward that is a record (several reward keys) is not Relax's scalar reward:
    --source relax says so."""
    log = tmp_path / "1.jsonl"
    row = {"rollout_id": 1, "sample_index": 0, "group_index": 0, "reward": {"acc": 1.0}}
    log.write_text(json.dumps(row) + "\n")
    result = CliRunner().invoke(app, ["compare", str(log), "--source", "relax"])
    assert result.exit_code == 2 and "not a number" in result.output


@pytest.mark.parametrize(
    ("folder", "version"),
    [
        ("open_instruct", "open-instruct at commit 006e470"),
        ("prime_rl", "prime-rl at commit 072062c"),
        ("relax", "Relax at commit 2765d18"),
        ("verl_v1", "verl 0.9.1"),
        ("trl", "TRL 1.16.0"),
    ],
)
def test_inspect_says_whose_defaults_it_assumed(folder: str, version: str) -> None:
    """The presets follow one version of each trainer: inspect names it, so a reader
    can tell a default that has since changed (open-instruct's centered) from a bug."""
    result = CliRunner().invoke(app, ["inspect", str(TRAINERS / folder), "--format", "json"])
    assert result.exit_code == 0, result.output
    reasons = json.loads(result.stdout)["reasons"]
    assert any(r.startswith(f"defaults assumed: {version}") for r in reasons), reasons
