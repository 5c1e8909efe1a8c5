"""Attribution of the update mass to the reward's components (``summary.attribution``) and
the ``component_inflation`` check, with shares computed here by hand."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from grpoflaw_cli import api
from grpoflaw_cli.diagnostics import Thresholds
from grpoflaw_cli.render.terminal import attribution_table

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"

# Pairs of (acc, format) outcomes; the reward is 4·acc + 1·format.
FORMAT_ONLY = [((1, 1), (1, 0)), ((0, 1), (0, 0))]  # reward gaps 1 and 1
ACC_ONLY = [((1, 1), (0, 1))] * 5 + [((1, 0), (0, 0))] * 5  # reward gap 4, ten pairs
CONSTANT = [((1, 1), (1, 1)), ((0, 0), (0, 0)), ((0, 1), (0, 1))]  # no signal: left out


def _write(tmp_path: Path) -> Path:
    """Two steps of groups of two; the format-only and constant pairs in step 1."""
    rows = []
    pairs = [(1, p) for p in FORMAT_ONLY + CONSTANT + ACC_ONLY[:4]]
    pairs += [(2, p) for p in ACC_ONLY[4:]]
    for g, (step, pair) in enumerate(pairs):
        for acc, fmt in pair:
            rows.append({"step": step, "group": f"g{g}", "acc": acc, "format": fmt})
    path = tmp_path / "components.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _report(tmp_path: Path) -> dict:
    log = api.load(_write(tmp_path), reward_cols=["acc", "format"], reward_weights=[4.0, 1.0])
    return api.compare(log, ["grpo", "dr_grpo"]).report()


def test_shares_by_hand(tmp_path: Path) -> None:
    """A pair with reward gap d: GRPO (ddof 1) gives ±(d/2)/(d/√2) = ±1/√2, Σ A² = 1
    whatever d (up to eps); Dr. GRPO gives ±d/2, Σ A² = d²/2: 1/2 for a format-only pair
    (d = 1), 8 for an acc pair (d = 4). Two format-only pairs and ten acc pairs:
    GRPO 2/12 vs 10/12; Dr. GRPO 1/(1 + 80) vs 80/81."""
    rows = _report(tmp_path)["summary"]["attribution"]
    assert [r["components"] for r in rows] == [["acc"], ["format"]]
    assert [r["groups"] for r in rows] == [10, 2]
    expected_grpo = [10 / 12, 2 / 12]
    expected_dr = [80 / 81, 1 / 81]
    for row, grpo, dr in zip(rows, expected_grpo, expected_dr, strict=True):
        assert row["share_grpo"] == pytest.approx(grpo, rel=1e-5)  # eps = 1e-6 in GRPO's std
        assert row["share_dr_grpo"] == pytest.approx(dr, rel=1e-12)


def test_flag_names_the_format_term(tmp_path: Path) -> None:
    """(2/12) / (1/81) = 13.5: the format term inflated 13.5×; GRPO moves 2/12 − 1/81 =
    15.4 % of the run's update mass to it, an error (≥ 10 % of the run)."""
    flags = [f for f in _report(tmp_path)["flags"] if f["code"] == "component_inflation"]
    assert len(flags) == 1
    flag = flags[0]
    assert flag["evidence"]["ratio"] == pytest.approx(13.5, rel=1e-5)
    assert flag["score"] == pytest.approx(2 / 12 - 1 / 81, rel=1e-5)
    assert flag["evidence"]["consequence"] == flag["score"]
    assert flag["severity"] == "error" and flag["step"] is None
    assert "only format varies" in flag["message"]
    assert "16.7%" in flag["message"] and "1.2%" in flag["message"]
    assert "13.5×" in flag["message"]


def test_threshold_is_a_setting(tmp_path: Path) -> None:
    log = api.load(_write(tmp_path), reward_cols=["acc", "format"], reward_weights=[4.0, 1.0])
    calm = api.compare(log, ["grpo"], thresholds=Thresholds(component_ratio=20.0))
    assert not any(f.code == "component_inflation" for f in calm.flags)
    with pytest.raises(Exception, match="component_ratio"):
        Thresholds(component_ratio=1.0)


def test_single_reward_has_no_attribution() -> None:
    report = api.compare(SAMPLES / "seed.csv").report()
    assert "attribution" not in report["summary"]
    assert attribution_table(report) is None


def test_sample_with_components() -> None:
    """verl's reward-extra keys (acc, format): in each group the GRPO shares sum to 1."""
    report = api.compare(SAMPLES / "trainers" / "verl_reward_keys").report()
    rows = report["summary"]["attribution"]
    assert rows and all(r["components"] for r in rows)
    for key in ("share_grpo", "share_dr_grpo"):
        assert math.isclose(sum(r[key] for r in rows), 1.0)
    assert [r["share_grpo"] for r in rows] == sorted((r["share_grpo"] for r in rows), reverse=True)
    assert attribution_table(report) is not None  # two classes or more: shown


def _by_hand(folder: Path, components: tuple[str, ...]) -> dict[tuple[str, ...], list[float]]:
    """The sample's classes from its rows, in plain Python: groups keyed by (step, input),
    GRPO's advantage (r − mean)/(std ddof 1 + 1e-6), Dr. GRPO's r − mean."""
    groups: dict[tuple, list[dict]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            groups.setdefault((row["step"], row["input"]), []).append(row)
    mass: dict[tuple[str, ...], list[float]] = {}
    for rows in groups.values():
        r = [row["score"] for row in rows]
        mean = sum(r) / len(r)
        m2 = sum((x - mean) ** 2 for x in r)
        if m2 == 0:
            continue
        std = math.sqrt(m2 / (len(r) - 1))
        cls = tuple(c for c in components if len({row[c] for row in rows}) > 1)
        got = mass.setdefault(cls, [0.0, 0.0, 0])
        got[0] += sum(((x - mean) / (std + 1e-6)) ** 2 for x in r)
        got[1] += m2
        got[2] += 1
    return mass


@pytest.mark.parametrize(
    ("sample", "components"),
    [("verl_reward_keys", ("acc", "format")), ("verl_multi_reward", ("acc", "format", "bonus"))],
)
def test_sample_shares_recomputed(sample: str, components: tuple[str, ...]) -> None:
    folder = SAMPLES / "trainers" / sample
    mass = _by_hand(folder, components)
    totals = [sum(m[i] for m in mass.values()) for i in (0, 1)]
    rows = api.compare(folder).report()["summary"]["attribution"]
    assert {tuple(r["components"]) for r in rows} == set(mass)
    for row in rows:
        grpo, dr, count = mass[tuple(row["components"])]
        assert row["groups"] == count
        assert row["share_grpo"] == pytest.approx(grpo / totals[0], rel=1e-9)
        assert row["share_dr_grpo"] == pytest.approx(dr / totals[1], rel=1e-9)


def test_multi_reward_sample_inflates_its_bonus() -> None:
    """score = 4·acc + format + 0.1·bonus in pairs: bonus-only pairs get GRPO's full ±0.707
    while their Dr. GRPO mass is (0.1/2)² · 2 = 0.005 against 8 for an accuracy pair; the
    verdict and the component_inflation error name the bonus with the recomputed shares."""
    folder = SAMPLES / "trainers" / "verl_multi_reward"
    mass = _by_hand(folder, ("acc", "format", "bonus"))
    totals = [sum(m[i] for m in mass.values()) for i in (0, 1)]
    grpo, dr, _ = mass[("bonus",)]
    report = api.compare(folder).report()
    text = report["summary"]["verdict"]["text"]
    assert f"Groups where only bonus varies carry {grpo / totals[0]:.1%}" in text
    assert f"against {dr / totals[1] * 100:.2g}% under Dr. GRPO" in text
    errors = [f for f in report["flags"] if f["code"] == "component_inflation"]
    assert errors[0]["severity"] == "error" and "only bonus varies" in errors[0]["message"]


def test_the_verdict_names_the_inflated_component(tmp_path: Path) -> None:
    """The format-only pairs gain 2/12 − 1/81 of the mass under GRPO, more than any other
    class: the verdict says so in words, with the two shares."""
    text = _report(tmp_path)["summary"]["verdict"]["text"]
    assert "Groups where only format varies carry 16.7% of GRPO's update mass" in text
    assert "against 1.2% under Dr. GRPO" in text
    assert len(re.findall(r"(?<!Dr)\. (?=[A-Z0-9])", text)) + 1 <= 3  # one to three sentences
