"""The self-contained HTML report (Plotly JS embedded: it opens offline).

Three charts: per-iteration reward spread against each estimator's advantage scale
(relative to the run's typical value, so a line that tracks the spread keeps magnitude
and a flat one erases it), per-group spread against advantage scale (log-log), and the
advantage distributions; flagged iterations are marked. Plotly is imported here only,
so commands that do not write HTML never pay for it.
"""

from __future__ import annotations

import html as html_lib
from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.formatting import count, num
from grpoflaw_cli.magnitude import relative_to_typical
from grpoflaw_cli.render.common import (
    SEVERITIES,
    SEVERITY_COLOR,
    advice_for,
    affected,
    cell,
    flags_by_code,
    location,
    logged_verdict,
    percent,
    plus_minus,
    ratio,
    skipped_text,
    slope,
    where_fired,
)

MAX_GROUP_POINTS = 4000
ITERATION_LEVEL = {"magnitude_collapse", "zero_variance"}
"""Flags about a whole iteration: at warning or above, a marker on the first chart."""
PALETTE = [
    "#d62728", "#ff7f0e", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#843c39", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#bcbd22", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363", "#fd8d3c", "#9e9ac8", "#74c476", "#6baed6",
]  # fmt: skip
"""Line colors: at least one per registered estimator, so none shares another's. The
estimators a report shows by default (GRPO to OPO, then GDPO at registry place 14) get
the most distinct: GDPO olive, not a second red or brown."""
LOG_TICKS = {"tickformat": ".3~g", "minor": {"showgrid": False}}
"""Log axes: every tick label is the full value (0.7, not Plotly's bare "7" between the
powers of ten); no minor gridlines (beside explicit ticks Plotly draws them densely)."""


def log_ticks(*arrays: Any) -> list[float]:
    """Tick values for a log axis over the positive, finite values of ``arrays``: 1, 2 and
    5 times each power of ten in range (powers of ten alone past six decades; 1, 1.5, 2,
    3, 5 and 7 when 1-2-5 leaves fewer than three; a finer tier again when that does), so
    labels never crowd as Plotly's 1-to-9 ticks do and always read as full values.

    >>> log_ticks([0.06, 1.2]), log_ticks([0.6, 2.3]), log_ticks([0.6, 1.4])
    ([0.1, 0.2, 0.5, 1.0], [0.7, 1.0, 1.5, 2.0], [0.6, 0.7, 0.8, 0.9, 1.0, 1.2])
    """
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays] + [np.zeros(0)])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return []
    lo, hi = float(values.min()), float(values.max())
    first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    fine = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
    tiers = (
        [(1.0,)] if last - first > 6 else [(1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0), fine]
    )
    for steps in tiers:  # a finer tier when the coarse one leaves fewer than three labels
        ticks = [float(f"{m * 10.0**e:.12g}") for e in range(first, last + 1) for m in steps]
        inside = [t for t in ticks if lo <= t <= hi]
        if len(inside) >= 3:
            break
    return inside if len(inside) >= 3 else []  # a narrow range: Plotly's own ticks


def color(name: str, k: int = 0) -> str:
    """An estimator's color: fixed by its place in the registry, so GRPO is red in every
    report whichever estimators it shows (a name outside the registry: by position *k*).

    >>> color("grpo"), color("gdpo") != color("grpo")
    ('#d62728', True)
    """
    from grpoflaw_cli.estimators import REGISTRY

    names = list(REGISTRY)
    return PALETTE[(names.index(name) if name in names else k) % len(PALETTE)]


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem}
.meta{color:#555;font-size:.9rem} table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:right;vertical-align:top}
th{background:#f5f5f5} td.l,th.l{text-align:left} .sev{font-weight:bold}
.keeps{color:#1e8449}.erases{color:#c0392b}.partly{color:#b9770e}.na{color:#999}
.note{color:#555;font-size:.85rem;max-width:60rem}
"""


def _esc(x: Any) -> str:
    return html_lib.escape(str(x))


def _label(x: Any) -> Any:
    """A value Plotly shows as text (which it reads as HTML): a text step's tags escaped."""
    return html_lib.escape(x, quote=False) if isinstance(x, str) else x


def figure(report: dict[str, Any], analysis: Analysis, sample: pl.DataFrame | None) -> Any:
    """The report's three charts as one Plotly figure (``plotly.graph_objects.Figure``)."""
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=3,
        cols=1,
        vertical_spacing=0.09,
        subplot_titles=(
            ONE_ITERATION_TITLE
            if analysis.iterations.height == 1
            else "Per iteration: reward spread and advantage scale, each relative to its "
            "typical value",
            "Per group: reward spread vs advantage scale (log-log; slope 1 keeps, 0 erases)",
            "Advantage distributions (a sample of whole groups)",
        ),
    )
    estimators = list(analysis.estimators)
    if analysis.iterations.height == 1:  # one dot per line says nothing: show the groups
        _one_iteration_chart(fig, analysis.groups, estimators)
    else:
        _iteration_chart(fig, analysis.iterations, estimators, _flagged_iterations(report))
    _group_chart(fig, analysis.groups, estimators)
    if sample is not None and sample.height:
        _distribution_chart(fig, sample, estimators)
    _place_log_ticks(fig)
    fig.update_xaxes(title_text="advantage", row=3, col=1)
    fig.update_yaxes(autorange="reversed", row=3, col=1)
    fig.update_layout(height=1350, template="plotly_white", legend={"orientation": "h", "y": 1.04})
    return fig


def _place_log_ticks(fig: Any) -> None:
    """Set :func:`log_ticks` on the log axes of rows 1 and 2 from the data drawn there."""
    row1 = [t.y for t in fig.data if t.xaxis in (None, "x") and t.y is not None]
    row2 = [t for t in fig.data if t.xaxis == "x2"]
    for ticks, update, row in (
        (log_ticks(*row1), fig.update_yaxes, 1),
        (log_ticks(*[t.x for t in row2]), fig.update_xaxes, 2),
        (log_ticks(*[t.y for t in row2]), fig.update_yaxes, 2),
    ):
        if ticks:
            update(tickmode="array", tickvals=ticks, row=row, col=1)


def _flagged_iterations(report: dict[str, Any]) -> list[tuple[Any, str]]:
    """The iterations with an iteration-level flag at warning or above, and their flags."""
    serious = {
        f["step"]
        for f in report["flags"]
        if f["code"] in ITERATION_LEVEL and f["severity"] in ("warning", "error")
    }
    return [
        (row["step"], ", ".join(row["flags"]))
        for row in report["iterations"]
        if row["step"] in serious
    ]


def _iteration_chart(
    fig: Any, it: pl.DataFrame, estimators: list[str], marked: list[tuple[Any, str]]
) -> None:
    """Row 1: each iteration's reward spread and advantage scales, relative to typical."""
    import plotly.graph_objects as go

    steps = [_label(s) for s in it["step"].to_list()]
    spread = relative_to_typical(it["spread"].to_numpy())
    for k, name in enumerate(estimators):
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=relative_to_typical(it[f"scale_{name}"].to_numpy()),
                name=name,
                mode="lines",
                line={"color": color(name, k)},
                legendgroup=name,
            ),
            row=1,
            col=1,
        )
    fig.add_trace(  # after the estimators, so it is drawn on top of them
        go.Scatter(
            x=steps,
            y=spread,
            name="reward spread",
            mode="lines+markers",
            line={"color": "black", "width": 3},
            legendgroup="spread",
            legendrank=1,  # still first in the legend
        ),
        row=1,
        col=1,
    )
    if marked:
        position = {s: i for i, s in enumerate(it["step"].to_list())}
        fig.add_trace(
            go.Scatter(
                x=[_label(s) for s, _ in marked],
                y=spread[[position[s] for s, _ in marked]],
                mode="markers",
                name="flagged iteration",
                marker={"symbol": "x", "size": 12, "color": "#c0392b"},
                text=[codes for _, codes in marked],
                hovertemplate="step %{x}<br>%{text}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fig.update_yaxes(type="log", title_text="× run-typical", row=1, col=1, **LOG_TICKS)
    fig.update_xaxes(title_text="step", row=1, col=1)


ONE_ITERATION_TITLE = (
    "One iteration, per group: reward spread and advantage scale, each relative to its "
    "typical value (groups by spread)"
)
MAX_BARS = 200
"""At most this many groups (evenly spaced by spread) in the one-iteration view."""


def _one_iteration_chart(fig: Any, groups: pl.DataFrame, estimators: list[str]) -> None:
    """Row 1 of a one-iteration log: each non-constant group, in order of reward spread,
    with its spread and each estimator's advantage scale (RMS), each over its typical
    value: a line that rises with the black one keeps magnitude, a flat one erases it."""
    import plotly.graph_objects as go

    from grpoflaw_cli.labels import group_labels

    groups = groups.filter((pl.col("n") >= 2) & (pl.col("spread") > 0)).sort("spread")
    if groups.height > MAX_BARS:
        groups = groups.gather_every(-(-groups.height // MAX_BARS))
    labels = group_labels(groups["group"].to_list())
    x = [_label(labels[g]) for g in groups["group"].to_list()]
    traces: list[tuple[str, np.ndarray, dict[str, Any], str]] = [
        (name, groups[f"scale_{name}"].to_numpy(), {"color": color(name, k)}, "lines+markers")
        for k, name in enumerate(estimators)
    ]
    traces.append(  # last, so it is drawn on top
        ("reward spread", groups["spread"].to_numpy(), {"color": "black", "width": 3}, "lines")
    )
    for name, values, line, mode in traces:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=relative_to_typical(values),
                name=name,
                mode=mode,
                line=line,
                legendgroup="spread" if name == "reward spread" else name,
                legendrank=1 if name == "reward spread" else 1000,
            ),
            row=1,
            col=1,
        )
    fig.update_yaxes(type="log", title_text="× typical group", row=1, col=1, **LOG_TICKS)
    fig.update_xaxes(  # labels up to 50 characters crowd: they show on hover
        title_text="groups, by reward spread (hover for each group's label)",
        type="category",
        showticklabels=False,
        row=1,
        col=1,
    )


def _group_chart(fig: Any, groups: pl.DataFrame, estimators: list[str]) -> None:
    """Row 2: each group's advantage scale against its reward spread (at most
    :data:`MAX_GROUP_POINTS` groups, evenly spaced)."""
    import plotly.graph_objects as go

    groups = groups.filter((pl.col("n") >= 2) & (pl.col("spread") > 0))
    if groups.height > MAX_GROUP_POINTS:
        groups = groups.gather_every(groups.height // MAX_GROUP_POINTS)
    for k, name in enumerate(estimators):
        fig.add_trace(
            go.Scattergl(
                x=groups["spread"].to_list(),
                y=groups[f"scale_{name}"].to_list(),
                mode="markers",
                name=name,
                legendgroup=name,
                showlegend=False,
                marker={"color": color(name, k), "size": 5, "opacity": 0.5},
                text=[  # Plotly reads hover text as HTML: a group id's tags stay text
                    html_lib.escape(f"step {s}, group {g}", quote=False)
                    for s, g in zip(groups["step"], groups["group"], strict=True)
                ],
                hovertemplate="%{text}<br>spread %{x:.3g}<br>scale %{y:.3g}<extra>"
                + name
                + "</extra>",
            ),
            row=2,
            col=1,
        )
    fig.update_xaxes(type="log", title_text="group reward spread", row=2, col=1, **LOG_TICKS)
    fig.update_yaxes(type="log", title_text="advantage scale (RMS)", row=2, col=1, **LOG_TICKS)


def _distribution_chart(fig: Any, sample: pl.DataFrame, estimators: list[str]) -> None:
    """Row 3: each estimator's advantages over a sample of whole groups."""
    import plotly.graph_objects as go

    for k, name in enumerate(estimators):
        values = sample[f"adv_{name}"].to_numpy()
        fig.add_trace(
            go.Violin(
                x=values[np.isfinite(values)],
                name=name,
                legendgroup=name,
                showlegend=False,
                orientation="h",
                points=False,
                spanmode="hard",
                box={"visible": True},
                meanline={"visible": True},
                line={"color": color(name, k)},
            ),
            row=3,
            col=1,
        )


def _figures(report: dict[str, Any], analysis: Analysis, sample: pl.DataFrame | None) -> str:
    fig = figure(report, analysis, sample)
    return str(fig.to_html(full_html=False, include_plotlyjs=True, div_id="grpoflaw-charts"))


def _magnitude_html(report: dict[str, Any]) -> str:
    rows = []
    for row in report["summary"]["magnitude"]:
        cells = []
        for which in ("within", "across"):
            word = row[f"verdict_{which}"]
            cls = "na" if word == "n/a" else word
            cells.append(f'<td class="{cls}">{slope(row[f"elasticity_{which}"])} {word}</td>')
        rows.append(
            f'<tr><td class="l">{_esc(row["estimator"])} ({_esc(row["title"])})</td>'
            + "".join(cells)
            + "</tr>"
        )
    return (
        '<table><tr><th class="l">estimator</th><th>across groups (same iteration)</th>'
        "<th>across iterations</th></tr>" + "".join(rows) + "</table>"
        "<p class='note'>Fitted on non-constant groups only (constant groups carry no "
        "signal; their share per iteration would move the fit).</p>"
    )


def _tasks_html(report: dict[str, Any]) -> str:
    """Each task's share of the reward spread and of each estimator's advantage mass."""
    tasks = report["summary"].get("tasks")
    if not tasks:
        return ""
    estimators = report["summary"]["estimators"]
    head = "".join(f"<th>{_esc(e)}</th>" for e in estimators)
    body = "".join(
        f'<tr><td class="l">{_esc(row["task"])}</td><td>{row["groups"]:,}</td>'
        f"<td><b>{percent(row['spread_share'])}</b></td>"
        + "".join(f"<td>{percent(row[f'share_{e}'])}</td>" for e in estimators)
        + "</tr>"
        for row in tasks
    )
    return (
        "<h2>Each task's say in the update</h2>"
        '<table><tr><th class="l">task</th><th>groups</th><th>reward spread</th>'
        f"{head}</tr>{body}</table>"
        "<p class='note'>Share of Σ advantage² over the run under each estimator, beside the "
        "task's share of the reward spread (the say it would have if magnitude passed "
        "through).</p>"
    )


MAX_TABLE_ROWS = 2000
"""At most this many rows in the per-iteration table (the JSON report has them all)."""


def _iterations_html(report: dict[str, Any]) -> str:
    """One row per iteration: its size, reward spread, the share of update mass GRPO
    reallocated (when the report has it), GRPO's and Dr. GRPO's advantage scale (RMS) and
    its flags; folded when long."""
    its = report["iterations"]
    if not its:
        return ""
    cols = [("rollouts", "rollouts"), ("groups", "groups"), ("spread", "reward spread")]
    cols += [("reallocated", "reallocated")] if "reallocated" in its[0] else []
    cols += [(f"scale_{e}", f"{e} scale") for e in ("grpo", "dr_grpo") if f"scale_{e}" in its[0]]

    def value(key: str, x: Any) -> str:
        if key in ("rollouts", "groups"):
            return f"{x:,}"
        return percent(x) if key.startswith("reallocated") else cell(x)

    body = "".join(
        f'<tr><td class="l">{_esc(row["step"])}</td>'
        + "".join(f"<td>{_esc(value(k, row.get(k)))}</td>" for k, _ in cols)
        + f'<td class="l">{_esc(", ".join(row.get("flags") or []))}</td></tr>'
        for row in its[:MAX_TABLE_ROWS]
    )
    more = (
        f"<p class='note'>{len(its) - MAX_TABLE_ROWS:,} more iterations: the JSON report "
        "lists them all.</p>"
        if len(its) > MAX_TABLE_ROWS
        else ""
    )
    head = "".join(f"<th>{_esc(label)}</th>" for _, label in cols)
    return (
        f"<h2>Per iteration</h2><details{' open' if len(its) <= 60 else ''}>"
        f"<summary>{count(len(its), 'iteration')}</summary>"
        f'<table><tr><th class="l">step</th>{head}<th class="l">flags</th></tr>{body}</table>'
        f"{more}</details>"
    )


def _flags_html(report: dict[str, Any], limit: int = 500) -> str:
    """One row per check (where it fired, its worst instance), then every flag, folded."""
    flags = report["flags"]
    if not flags:
        return "<p>No flags.</p>"
    summary = "".join(
        f'<tr><td class="l sev" style="color:{SEVERITY_COLOR[group[0]["severity"]]}">'
        f'{_esc(group[0]["severity"])}</td><td class="l">{_esc(code)}</td>'
        f'<td class="l">{_esc(where_fired(group))}</td><td class="l">{_esc(affected(group))}</td>'
        f'<td class="l">{_esc(location(group[0]["step"]))}: {_esc(group[0]["message"])}</td></tr>'
        for code, group in flags_by_code(flags).items()  # the flags come worst first
    )
    rows = "".join(
        f'<tr><td class="l sev" style="color:{SEVERITY_COLOR[f["severity"]]}">'
        f"{_esc(f['severity'])}</td>"
        f'<td class="l">{_esc(f["code"])}</td><td>{_esc(location(f["step"]))}</td>'
        f'<td class="l">{_esc(f["message"])}</td></tr>'
        for f in flags[:limit]
    )
    more = (
        f"<p class='note'>{len(flags) - limit} more flags: the JSON report lists them all.</p>"
        if len(flags) > limit
        else ""
    )
    return (
        '<table><tr><th class="l">severity</th><th class="l">check</th>'
        '<th class="l">iterations</th><th class="l">affects</th>'
        '<th class="l">worst instance</th></tr>'
        f"{summary}</table>"
        f"<details><summary>All {count(len(flags), 'flag')}</summary>"
        '<table><tr><th class="l">severity</th><th class="l">code</th><th>step</th>'
        f'<th class="l">finding</th></tr>{rows}</table>{more}</details>'
    )


def _verdict_html(report: dict[str, Any]) -> str:
    """The verdict on top: its numbers, its sentences and what to set, if anything."""
    v = report["summary"].get("verdict")
    if not v:
        return ""
    names = {
        "reallocated": "reallocated",
        "reallocated_within_tasks": "within tasks",
        "reallocated_across_tasks": "across tasks",
        "zero_signal": "zero signal",
    }
    cells = "".join(
        f"<th>{label}</th><td>{_esc(percent(v[key]))}</td>"
        for key, label in names.items()
        if key in v
    )
    rec = v.get("recommendation")
    what = (
        f"<p><b>What to set ({_esc(advice_for(rec))}):</b> {_esc(rec['text'])}</p>" if rec else ""
    )
    verdict = f"<h2>Verdict</h2><table><tr>{cells}</tr></table><p>{_esc(v['text'])}</p>{what}"
    return verdict + _attribution_html(report)


def _attribution_html(report: dict[str, Any]) -> str:
    """The update mass by reward components varying, as the terminal shows it (two
    classes or more)."""
    classes = report["summary"].get("attribution") or []
    if len(classes) < 2:
        return ""
    rows = "".join(
        f"<tr><td>{_esc(' + '.join(c['components']) or '(none)')}</td>"
        f"<td class='num'>{_esc(num(c['groups']))}</td>"
        f"<td class='num'>{_esc(percent(c['share_grpo']))}</td>"
        f"<td class='num'>{_esc(percent(c['share_dr_grpo']))}</td>"
        f"<td class='num'>{_esc(ratio(c))}</td></tr>"
        for c in classes
    )
    return (
        "<h3>Update mass by reward components varying</h3><table><tr><th>components "
        "varying</th><th>groups</th><th>GRPO</th><th>Dr. GRPO</th><th>ratio</th></tr>"
        + rows
        + "</table>"
    )


def render_html(report: dict[str, Any], analysis: Analysis, sample: pl.DataFrame | None) -> str:
    """The full report page as one string."""
    s = report["summary"]
    files = ", ".join(s["files"][:5]) + (" …" if len(s["files"]) > 5 else "")
    counts = s["flags"]
    flag_line = ", ".join(f"{counts[k]} {k}" for k in SEVERITIES)
    extra = ""  # what the terminal header says beyond the counts
    logged = s.get("logged_advantage")
    if logged:
        extra += f"<br>logged advantage '{_esc(logged['column'])}': " + _esc(
            logged_verdict(logged, detail=False)
        )
    skipped = s.get("skipped_estimators") or {}
    if skipped:
        extra += "<br>not computed: " + _esc(skipped_text(skipped))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>grpoflaw report</title><style>{CSS}</style></head>
<body>
<h1>grpoflaw: what the advantage estimators did to the rewards</h1>
<p class="meta">log: {_esc(files)}<br>
{count(s["rollouts"], "rollout")}, {count(s["iterations"], "iteration")},
{count(s["groups"], "group")} &middot;
source: {_esc(s.get("source", "generic"))} &middot; {_esc(s["conventions"]["text"])} &middot;
flags: {_esc(flag_line)} &middot; grpoflaw {_esc(report["grpoflaw_version"])}{extra}</p>
{_verdict_html(report)}
<p class="note">GRPO divides each group's centered rewards by the group's std, so a group whose
rewards span &plusmn;5 gets the same advantages as one spanning &plusmn;1. Estimators whose line
tracks the black reward-spread line below keep that magnitude; flat lines erase it.</p>
<h2>How much reward magnitude each estimator keeps</h2>
{_magnitude_html(report)}
<p class="note">Elasticity: slope of log(advantage scale) on log(reward spread); 1 keeps
magnitude, 0 erases it.</p>
{_tasks_html(report)}
<h2>Charts</h2>
{_figures(report, analysis, sample)}
<h2>Flags by consequence (affects: share of the run's GRPO update mass or rollouts)</h2>
{_flags_html(report)}
{_iterations_html(report)}
</body></html>
"""


def render_simulation(outcome: Any) -> str:
    """The learning curves (mean and 95 % band over seeds) as a self-contained page."""
    import plotly.graph_objects as go

    fig = go.Figure()
    steps = list(range(outcome.setting.iterations))
    for k, name in enumerate(outcome.curves):
        mean, half = outcome.band(name)
        hue = color(name, k)
        fig.add_trace(
            go.Scatter(
                x=steps + steps[::-1],
                y=list(mean + half) + list((mean - half)[::-1]),
                fill="toself",
                line={"width": 0},
                fillcolor=hue,
                opacity=0.15,
                legendgroup=name,
                showlegend=False,
                hoverinfo="skip",
            )
        )
        fig.add_trace(go.Scatter(x=steps, y=mean, name=name, legendgroup=name, line={"color": hue}))
    fig.update_layout(
        template="plotly_white",
        height=600,
        xaxis_title="policy update",
        yaxis_title="normalized score (mean, 95% band)",
    )
    rows = "".join(
        f'<tr><td class="l">{_esc(r["estimator"])}</td>'
        f"<td>{plus_minus(r['final'], r['final_ci'])}</td>"
        f"<td>{plus_minus(r['auc'], r['auc_ci'])}</td>"
        + (
            "<td></td>"
            if r["verdict"] == "reference"
            else f"<td>{plus_minus(r['vs_grpo'], r['vs_ci'], signed=True)}</td>"
        )
        + f'<td class="l">{_esc(r["verdict"])}</td></tr>'
        for r in outcome.summary.iter_rows(named=True)
    )
    body = fig.to_html(full_html=False, include_plotlyjs=True, div_id="grpoflaw-simulation")
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>grpoflaw simulate"
        f"</title><style>{CSS}</style></head><body><h1>grpoflaw simulate</h1>{body}"
        "<table><tr><th class='l'>estimator</th><th>final</th><th>area under curve</th>"
        f"<th>vs GRPO (final)</th><th class='l'>verdict</th></tr>{rows}</table></body></html>"
    )
