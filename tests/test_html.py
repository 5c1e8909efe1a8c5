"""The HTML report as a reader sees it: the figure's colors, axes and trace order, the
one-iteration view and the per-iteration table."""

from __future__ import annotations

import functools
import re
from typing import Any

from conftest import SAMPLES

import grpoflaw_cli.api as gf
from grpoflaw_cli.estimators import REGISTRY
from grpoflaw_cli.render.html import PALETTE


@functools.cache  # one figure for the four tests that read it (plotly takes ~0.3 s a figure)
def _multitask_figure() -> Any:
    return gf.compare(SAMPLES / "multitask.jsonl", estimators=list(REGISTRY)).figure()


def test_every_estimator_has_its_own_color() -> None:
    """The palette covers the registry, and in the figure no two estimators share a color
    (GDPO used to wrap round to GRPO's red)."""
    assert len(set(PALETTE)) == len(PALETTE) >= len(REGISTRY)
    fig = _multitask_figure().to_dict()
    by_name: dict[str, set[str]] = {}
    for t in fig["data"]:
        if t.get("name") in REGISTRY:
            c = (t.get("line") or {}).get("color") or (t.get("marker") or {}).get("color")
            by_name.setdefault(t["name"], set()).add(c)
    assert len(by_name) >= 9 and "gdpo" in by_name
    assert all(len(cs) == 1 for cs in by_name.values())  # one color per estimator everywhere
    colors = [next(iter(cs)) for cs in by_name.values()]
    assert len(set(colors)) == len(colors)
    assert by_name["grpo"] == {"#d62728"} and by_name["gdpo"] == {"#bcbd22"}  # olive


def test_log_axes_label_full_values() -> None:
    """Every log axis formats its tick labels as numbers (Plotly otherwise writes the
    ticks between powers of ten as a bare leading digit: 0.7 read as "7")."""
    layout = _multitask_figure().to_dict()["layout"]
    logs = {k: v for k, v in layout.items() if k[1:5] == "axis" and v.get("type") == "log"}
    assert set(logs) == {"yaxis", "xaxis2", "yaxis2"}
    for axis in logs.values():
        assert axis["tickformat"] == ".3~g"
        assert axis["minor"]["showgrid"] is False


def test_reward_spread_is_drawn_above_the_estimators() -> None:
    """Plotly draws traces in order: the reference line comes after every estimator line
    it is compared with (and only the flagged-iteration markers after it), and still
    leads the legend."""
    traces = _multitask_figure().to_dict()["data"]
    row1 = [t for t in traces if t.get("xaxis", "x") == "x"]
    names = [t["name"] for t in row1]
    spread = names.index("reward spread")
    assert set(names[:spread]) <= set(REGISTRY) and len(names[:spread]) >= 9
    assert names[spread + 1 :] in ([], ["flagged iteration"])
    assert row1[spread]["legendrank"] < 1000  # Plotly's default rank


def test_one_iteration_log_shows_each_group(write_jsonl) -> None:
    """With one iteration the first chart shows each non-constant group (by spread), not
    one dot per line: here spreads 0.5, 1 and 2 (a constant group left out), GRPO's scale
    1 everywhere, Dr. GRPO's equal to the spread (ddof 0: population std)."""
    rows = [
        {"step": 1, "group": g, "reward": r}
        for g, pair in (("a", (0, 1)), ("b", (0, 4)), ("c", (1, 1)), ("d", (0, 2)))
        for r in pair
    ]
    result = gf.compare(write_jsonl(rows), ["grpo", "dr_grpo"], ddof=0, eps=0.0)
    fig = result.figure()
    row1 = {t.name: t for t in fig.data if t.xaxis in (None, "x")}
    assert list(row1) == ["grpo", "dr_grpo", "reward spread"]
    assert list(row1["reward spread"].x) == ["a", "d", "b"]
    # relative to typical (geometric median): spread 0.5, 1, 2 -> 0.5, 1, 2
    assert [round(v, 9) for v in row1["reward spread"].y] == [0.5, 1.0, 2.0]
    assert [round(v, 9) for v in row1["dr_grpo"].y] == [0.5, 1.0, 2.0]
    assert [round(v, 9) for v in row1["grpo"].y] == [1.0, 1.0, 1.0]
    assert fig.layout.annotations[0].text.startswith("One iteration, per group")


def test_per_iteration_table(write_jsonl) -> None:
    """The page ends with one row per iteration: step, rollouts, groups, spread, the
    share GRPO reallocated, GRPO's and Dr. GRPO's scale and the flags, all escaped.
    Step 1: groups (0, 1) and (0, 4), ddof 0: spreads 0.5 and 2, RMS spread
    sqrt((0.25 + 4) / 2) = 1.458; GRPO's scale 1, Dr. GRPO's the same RMS spread."""
    rows = [
        {"step": s, "group": f"<b>{g}</b>", "reward": r}
        for s in ("<i>1</i>", "2")
        for g, pair in (("a", (0, 1)), ("b", (0, 4)))
        for r in pair
    ]
    result = gf.compare(write_jsonl(rows), ["grpo", "dr_grpo"], ddof=0, eps=0.0)
    page = result.to_html()
    table = page[page.index("<h2>Per iteration</h2>") :]
    heads = re.findall(r"<th[^>]*>(.*?)</th>", table)
    assert heads[:4] == ["step", "rollouts", "groups", "reward spread"]
    assert heads[-3:] == ["grpo scale", "dr_grpo scale", "flags"]
    assert "<i>1</i>" not in table and "&lt;i&gt;1&lt;/i&gt;" in table
    first = re.findall(r"<td[^>]*>(.*?)</td>", table.split("</tr>")[1])
    assert first[:4] == ["2", "4", "2", "1.458"]  # text steps sort as text: "2" < "<"
    assert first[-3:-1] == ["1", "1.458"]
    # the share of mass GRPO moves: GRPO 1/2 each, Dr. GRPO 0.5 : 8, so 1/2 - 0.5/8.5
    assert first[heads.index("reallocated")] == "44.1%"


def test_log_ticks_are_one_two_five() -> None:
    """Log axes carry ticks at 1, 2 and 5 times each power of ten inside the data (so
    labels never crowd), powers of ten alone past six decades, a finer 1-1.5-2-3-5-7
    when that leaves fewer than three, Plotly's own in a range too narrow for two."""
    from grpoflaw_cli.render.html import log_ticks

    assert log_ticks([0.06, 1.2]) == [0.1, 0.2, 0.5, 1.0]
    assert log_ticks([0.0, -1.0, 3.0], [float("nan"), 30.0]) == [5.0, 10.0, 20.0]
    assert log_ticks([1e-5, 1e3]) == [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0, 1e3]
    assert log_ticks([0.6, 2.3]) == [0.7, 1.0, 1.5, 2.0]  # 1-2-5 leaves only 1 and 2
    assert log_ticks([0.9, 1.1]) == [] and log_ticks([]) == []
    layout = _multitask_figure().layout
    # data from 0.058 to 3.7 (max_rl on the math-only steps, where 1/p weighs most)
    assert list(layout.yaxis.tickvals) == [0.1, 0.2, 0.5, 1.0, 2.0]


def test_the_attribution_and_whose_advice_are_in_the_html() -> None:
    """Two classes of groups (acc and format varying, format alone) on the verl sample:
    the table the terminal shows is in the page too; a generic log's advice says its
    trainer is assumed."""
    page = gf.compare(SAMPLES / "trainers" / "verl_reward_keys").to_html()
    assert "Update mass by reward components varying" in page and "<td>format</td>" in page
    generic = gf.compare(SAMPLES / "multitask.jsonl").to_html()
    assert "What to set (verl, assumed: the log names no trainer)" in generic
