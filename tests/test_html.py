"""The HTML report as a reader sees it: the figure's colors, axes and trace order, the
one-iteration view and the per-iteration table."""

from __future__ import annotations

from typing import Any

from conftest import SAMPLES

import grpoflaw_cli.api as gf
from grpoflaw_cli.estimators import REGISTRY
from grpoflaw_cli.render.html import PALETTE


def _multitask() -> Any:
    return gf.compare(SAMPLES / "multitask.jsonl", estimators=list(REGISTRY))


def test_every_estimator_has_its_own_color() -> None:
    """The palette covers the registry, and in the figure no two estimators share a color
    (GDPO used to wrap round to GRPO's red)."""
    assert len(set(PALETTE)) == len(PALETTE) >= len(REGISTRY)
    fig = _multitask().figure().to_dict()
    by_name: dict[str, set[str]] = {}
    for t in fig["data"]:
        if t.get("name") in REGISTRY:
            c = (t.get("line") or {}).get("color") or (t.get("marker") or {}).get("color")
            by_name.setdefault(t["name"], set()).add(c)
    assert len(by_name) >= 9 and "gdpo" in by_name
    assert all(len(cs) == 1 for cs in by_name.values())  # one color per estimator everywhere
    colors = [next(iter(cs)) for cs in by_name.values()]
    assert len(set(colors)) == len(colors)
    assert by_name["grpo"] == {"#d62728"} and by_name["gdpo"] != by_name["grpo"]


def test_log_axes_label_full_values() -> None:
    """Every log axis formats its tick labels as numbers (Plotly otherwise writes the
    ticks between powers of ten as a bare leading digit: 0.7 read as "7")."""
    layout = _multitask().figure().to_dict()["layout"]
    logs = {k: v for k, v in layout.items() if k[1:5] == "axis" and v.get("type") == "log"}
    assert set(logs) == {"yaxis", "xaxis2", "yaxis2"}
    for axis in logs.values():
        assert axis["tickformat"] == ".3~g"
        assert axis["minor"]["showgrid"] is True


def test_reward_spread_is_drawn_above_the_estimators() -> None:
    """Plotly draws traces in order: the reference line comes after every estimator line
    it is compared with (and only the flagged-iteration markers after it), and still
    leads the legend."""
    traces = _multitask().figure().to_dict()["data"]
    row1 = [t for t in traces if t.get("xaxis", "x") == "x"]
    names = [t["name"] for t in row1]
    spread = names.index("reward spread")
    assert set(names[:spread]) <= set(REGISTRY) and len(names[:spread]) >= 9
    assert names[spread + 1 :] in ([], ["flagged iteration"])
    assert row1[spread]["legendrank"] < 1000  # Plotly's default rank
