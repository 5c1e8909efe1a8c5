"""gdpo_float32_noise: where verl's float32 GDPO gives advantages grpoflaw's float64 does
not, and how large; checked by hand, against verl's own outputs in vectors.json, and
against verl's float32 computation run with torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import DATA
from helpers import analyze
from typer.testing import CliRunner

from grpoflaw_cli.cli import app
from grpoflaw_cli.diagnostics import Thresholds, diagnose
from grpoflaw_cli.diagnostics.float32 import can_round, float32_offsets, gdpo_float32_noise
from grpoflaw_cli.estimators import Conventions
from grpoflaw_cli.rollout_advantages import with_advantages

VERL = Conventions.of("verl")
CASES: list[dict[str, Any]] = json.loads((DATA / "vectors.json").read_text())["cases"]


def test_which_constant_values_can_round() -> None:
    """Sums of n copies are exact while (largest odd j ≤ n)·(odd significand) < 2²⁴:
    0.1, 0.7, 16.1 have 24-bit odd significands; 0, 0.5, 3 short ones. Two copies always
    sum exactly (2x), three of 0.1 need not. Being a float32 number is not enough:
    1 + 2⁻²³ is one, and 3·(1 + 2⁻²³) is not."""
    values = np.array([0.1, 0.1, 0.7, 16.1, 0.0, 0.5, 3.0, 1 + 2**-23, 1 + 2**-23])
    n = np.array([2, 3, 8, 12, 8, 8, 8, 2, 3])
    assert can_round(values, n).tolist() == [False, True, True, True] + [False] * 4 + [True]


def offsets(rewards: list[float], groups: list[int]) -> np.ndarray:
    df = pl.DataFrame({"step": [1] * len(rewards), "group": groups, "reward": rewards})
    a = analyze(df, ["gdpo"])
    return float32_offsets(a.stats, a.groups["zero_variance"].to_numpy(), 1e-6)


def test_offset_of_a_constant_group_by_hand() -> None:
    """Twelve rewards of 16.1: float32's spacing there is u = 2⁻¹⁹, so a mean an ulp off
    gives u/(u·√(12/11) + 1e-6) = 0.6374 (torch gives ±0.637 for 10 to 15 copies); 0.1 at
    n = 8: 2⁻²⁷/(2⁻²⁷·√(8/7) + 1e-6) = 0.0074. 0.5 and a 0/1 group give none."""
    got = offsets(
        [16.1] * 12 + [0.1] * 8 + [0.5] * 4 + [0.0, 1.0], [0] * 12 + [1] * 8 + [2] * 4 + [3] * 2
    )
    u = 2.0**-19
    np.testing.assert_allclose(got[0], u / (u * np.sqrt(12 / 11) + 1e-6), rtol=1e-12)
    assert round(float(got[0]), 4) == 0.6374
    v = 2.0**-27
    np.testing.assert_allclose(got[1], v / (v * np.sqrt(8 / 7) + 1e-6), rtol=1e-12)
    assert got[2] == 0.0 and got[3] == 0.0


def test_tiny_spread_against_the_mean_loses_precision() -> None:
    """1000 ± 0.005: float32's spacing at 1000 is 6.1e-5, so values are off by about
    6.1e-5/σ ≈ 0.011 (torch measured a median 0.005 and a maximum 0.02 on such groups)."""
    got = offsets([1000.0, 1000.01, 1000.0, 1000.01], [0] * 4)
    sigma = np.std([1000.0, 1000.01, 1000.0, 1000.01], ddof=1)
    np.testing.assert_allclose(got[0], 2.0**-14 / (sigma + 1e-6), rtol=1e-6)


def verl_case(name: str) -> tuple[pl.DataFrame, np.ndarray]:
    case = next(c for c in CASES if c["name"] == name)
    inp = case["input"]
    df = pl.DataFrame(
        {
            "step": [0] * len(inp["rewards"]),
            "group": [str(g) for g in inp["group_ids"]],
            "reward": np.array(inp["rewards"], dtype=np.float64),
            "length": np.array(inp["response_lengths"], dtype=np.float64),
        }
    )
    return df, np.array(case["output"]["advantages"], dtype=np.float64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_verls_own_noise_on_constant_non_dyadic_groups_is_flagged(dtype: str) -> None:
    """vectors.json: verl 0.9.1's GDPO on five constant groups (0.1, 0.3, 0.7, 1/3, −2.2;
    eight each) gives O(1) advantages even from float64 rewards, where grpoflaw gives 0.
    The flag fires, a warning (the whole iteration is noise), with a size within a factor
    of two of verl's (one ulp each is estimated; some round by two)."""
    df, verl = verl_case(f"all_equal_nondyadic_5x8/verl/gdpo/{dtype}")
    a = analyze(df, ["gdpo"], VERL)
    ours = with_advantages(df, a)["adv_gdpo"].to_numpy()
    assert np.all(ours == 0.0)
    measured = float(np.abs(verl - ours).max())
    assert measured > 1.0  # verl's noise, whitened
    (flag,) = gdpo_float32_noise(a, Thresholds())
    assert flag.severity.value == "warning" and flag.evidence["constant_groups"] == 5
    assert measured / 2 <= flag.evidence["own_error"] <= measured * 2
    assert "every group" in flag.message


@pytest.mark.parametrize("case", ["seed_7", "seed_7_x5", "mixed_4x8", "group_size_2_x4"])
def test_batches_verl_computes_to_float32_rounding_are_not_flagged(case: str) -> None:
    """The other GDPO cases of vectors.json agree with grpoflaw to 1e-6 (a constant group
    of 0.5, one of 1.0 among them): no flag."""
    df, verl = verl_case(f"{case}/verl/gdpo/float64")
    a = analyze(df, ["gdpo"], VERL)
    ours = with_advantages(df, a)["adv_gdpo"].to_numpy()
    assert np.nanmax(np.abs(verl - ours)) < 1e-6
    assert gdpo_float32_noise(a, Thresholds()) == []


def one_constant_group(value: float = 16.1) -> pl.DataFrame:
    """Four 0/1 groups of eight (k + 1 successes) and twelve rewards of ``value``."""
    rewards, groups, lengths = [], [], []
    for k in range(4):
        rewards += [1.0] * (k + 1) + [0.0] * (7 - k)
        groups += [k] * 8
        lengths += [10 + 3 * i + k for i in range(8)]
    rewards += [value] * 12
    groups += [4] * 12
    lengths += [12 + i for i in range(12)]
    return pl.DataFrame(
        {"step": [1] * 44, "group": groups, "reward": rewards, "length": np.array(lengths, float)}
    )


def test_one_constant_group_moves_every_rollout_of_its_iteration() -> None:
    """verl's float32 GDPO, run with torch 2.13 (CPU) as verl 0.9.1's
    compute_gdpo_outcome_advantage computes it (per-group torch.mean/torch.std in float32,
    eps 1e-6, then masked_whiten over the tokens), on :func:`one_constant_group`: the
    constant group's rollouts are off grpoflaw's by 0.6802, every other rollout's by 0.125
    to 0.224 (the sign of the rounding decides which). The estimate: 0.6802 for the group
    and up to 0.565 for the others (the sign that moves them most)."""
    a = analyze(one_constant_group(), ["gdpo"], VERL)
    (flag,) = gdpo_float32_noise(a, Thresholds())
    np.testing.assert_allclose(flag.evidence["own_error"], 0.6802, rtol=1e-3)
    assert 0.224 <= flag.evidence["others_shift"] <= 3 * 0.224
    assert flag.severity.value == "warning" and flag.step == 1
    assert "every other rollout" in flag.message


def test_only_under_verl_with_gdpo() -> None:
    """TRL and OpenRLHF conventions, or no gdpo among the estimators: no flag; dyadic
    constant groups (0.5): none either."""
    df = one_constant_group()
    assert gdpo_float32_noise(analyze(df, ["gdpo"], Conventions.of("trl")), Thresholds()) == []
    assert gdpo_float32_noise(analyze(df, ["grpo", "dr_grpo"], VERL), Thresholds()) == []
    half = analyze(one_constant_group(0.5), ["gdpo"], VERL)
    assert gdpo_float32_noise(half, Thresholds()) == []


def test_small_noise_is_info_and_below_the_threshold_nothing() -> None:
    """0.1 in eight rollouts moves its group by 0.0078 and the others by ~5e-4: below the
    default float32_noise (1e-2), nothing; with it at 1e-3, info."""
    df = pl.concat(
        [
            one_constant_group().filter(pl.col("group") < 4),
            pl.DataFrame(
                {"step": [1] * 8, "group": [9] * 8, "reward": [0.1] * 8, "length": [20.0] * 8}
            ),
        ]
    )
    a = analyze(df, ["gdpo"], VERL)
    (flag,) = gdpo_float32_noise(a, Thresholds(float32_noise=1e-3))
    assert flag.severity.value == "info" and 0.005 < flag.evidence["own_error"] < 0.01
    assert gdpo_float32_noise(a, Thresholds()) == []


def test_every_iteration_is_one_run_level_finding(tmp_path: Path) -> None:
    """Through the CLI: two iterations with such a group give one run-level flag."""
    df = pl.concat(
        [one_constant_group(), one_constant_group().with_columns(step=pl.lit(2, pl.Int64))]
    )
    log = tmp_path / "run.jsonl"
    df.write_ndjson(log)
    args = ["compare", str(log), "--framework", "verl", "--estimators", "grpo,gdpo"]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    flags = [f for f in json.loads(result.output)["flags"] if f["code"] == "gdpo_float32_noise"]
    assert len(flags) == 1 and flags[0]["step"] is None
    assert flags[0]["evidence"]["count"] == 2
    assert not [f for f in diagnose(analyze(df, ["grpo"], VERL)) if f.code == "gdpo_float32_noise"]


def test_several_reward_keys_each_rounds_apart(tmp_path: Path) -> None:
    """verl casts and normalizes each GDPO key apart. Four groups whose accuracy varies
    (k + 1 of 8) and format alternates 0/1, and one of twelve whose accuracy alternates
    and format is 0.3 throughout, weights 1 and 0.5: verl's computation run with torch
    2.13 (as in the test above, per key then summed) puts the last group 0.0128 off
    grpoflaw's and the others 0.0029 to 0.0050. Estimated: 0.0141 and up to 0.0055 (one
    ulp of 0.3 is 2⁻²⁵, halved by its weight): info, the others under 1e-2."""
    rows = []
    for k in range(4):
        rows += [
            {
                "step": 1,
                "group": k,
                "acc": float(i <= k),
                "fmt": float(i % 2),
                "length": 10 + 3 * i + k,
            }
            for i in range(8)
        ]
    rows += [
        {"step": 1, "group": 4, "acc": float(i % 2 == 0), "fmt": 0.3, "length": 12 + i}
        for i in range(12)
    ]
    log = tmp_path / "keys.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from grpoflaw_cli import api as gf

    loaded = gf.load(
        log, reward_cols=["acc", "fmt"], reward_weights=[1.0, 0.5], length_col="length"
    )
    result = gf.compare(loaded, ["gdpo"], framework="verl")
    assert result.analysis.gdpo_parts is not None
    (flag,) = [f for f in result.flags if f.code == "gdpo_float32_noise"]
    assert flag.severity.value == "info" and flag.evidence["constant_groups"] == 1
    assert 0.0128 / 2 <= flag.evidence["own_error"] <= 0.0128 * 2
    assert 0.0050 <= flag.evidence["others_shift"] <= 3 * 0.0050
