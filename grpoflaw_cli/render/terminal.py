"""Rich renderables for the screens of ``compare``, ``watch`` and ``simulate``.

Functions return renderables; the CLI prints them on one console. The screens
(:func:`render_compare`, :func:`render_watch`) first make every string of the report
printable (:func:`~grpoflaw_cli.textsafe.printable`): task, file and column names come
from the log, and must not reach the terminal as escape sequences or line breaks.

>>> report = {"summary": {"estimators": ["grpo", "dr_grpo"], "magnitude": [
...     {"estimator": "grpo", "elasticity_within": 0.0, "verdict_within": "erases",
...      "elasticity_across": 0.0, "verdict_across": "erases"}]}}
>>> from rich.console import Console
>>> console = Console(width=60, color_system=None)
>>> with console.capture() as shown:
...     console.print(magnitude_table(report))
>>> print(shown.get().splitlines()[0].rstrip())
How much reward magnitude each estimator keeps
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grpoflaw_cli.estimators import REGISTRY
from grpoflaw_cli.formatting import count, num
from grpoflaw_cli.render.common import (
    SEVERITIES,
    SEVERITY_STYLE,
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
from grpoflaw_cli.textsafe import printable, printable_tree

SHORT_CODES = {
    "collapsed_pair": "pair",
    "magnitude_collapse": "magn",
    "magnitude_collapse_groups": "magn-g",
    "zero_variance": "const",
    "noise_amplification": "noise",
    "singleton_groups": "single",
    "ragged_groups": "ragged",
    "step_in_several_files": "files",
    "task_reweighting": "tasks",
    "component_aliasing": "alias",
    "component_inflation": "inflate",
    "logged_advantage_mismatch": "logged",
    "gdpo_float32_noise": "f32",
}


LABEL_WIDTH = 12
"""The header's label column ("conventions ")."""


def plain_table(title: str, caption: str | None = None, **options: Any) -> Table:
    """The screen's tables: the title and caption on the left, a rule under the bold
    header, no frame and no outer padding (``options``: Rich's other Table settings)."""
    return Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        **options,
    )


def files_line(files: list[str], room: int) -> str:
    """The first three file names, a line broken between two names rather than at a space
    inside one (a name wider than ``room`` wraps as it must); later lines indented.

    >>> print(files_line(["a/run [1].jsonl", "b/run [2].jsonl"], room=20))
    a/run [1].jsonl,
                b/run [2].jsonl
    """
    from rich.cells import cell_len

    more = f" … (+{count(len(files) - 3, 'file')})" if len(files) > 3 else ""
    pieces = [name + ("," if k < len(files[:3]) - 1 else more) for k, name in enumerate(files[:3])]
    lines = [pieces[0]] if pieces else [""]
    for piece in pieces[1:]:
        if cell_len(lines[-1]) + 1 + cell_len(piece) > room:
            lines.append(piece)
        else:
            lines[-1] += " " + piece
    return ("\n" + " " * LABEL_WIDTH).join(lines)


def _header(report: dict[str, Any], width: int = 120) -> RenderableType:
    s = report["summary"]
    cols = s["columns"]
    shown = files_line(s["files"], room=width - 4 - LABEL_WIDTH)  # 4: the panel's edges
    lines = Text()
    lines.append("log         ", style="dim").append(shown + "\n")
    lines.append("columns     ", style="dim").append(
        "  ".join(f"{k}={v}" for k, v in cols.items() if v is not None) + "\n"
    )
    lines.append("rollouts    ", style="dim").append(
        f"{num(s['rollouts'])} in {count(s['iterations'], 'iteration')}, "
        f"{count(s['groups'], 'group')}\n"
    )
    lines.append("source      ", style="dim").append(s.get("source", "generic") + "\n")
    lines.append("conventions ", style="dim").append(s["conventions"]["text"])
    logged = s.get("logged_advantage")
    if logged:
        lines.append("\nlogged adv  ", style="dim").append(
            f"'{logged['column']}' {logged_verdict(logged)}",
            style="green" if logged["matches"] else "yellow",
        )
    skipped = s.get("skipped_estimators") or {}
    if skipped:
        lines.append("\nnot computed", style="dim").append(" " + skipped_text(skipped), style="dim")
    counts = s["flags"]
    lines.append("\nflags       ", style="dim")
    for sev in SEVERITIES:
        lines.append(f"{counts[sev]} {sev}  ", style=SEVERITY_STYLE[sev] if counts[sev] else "dim")
    return Panel(lines, title="grpoflaw compare", title_align="left", border_style="blue")


def verdict_panel(report: dict[str, Any]) -> RenderableType:
    """The verdict (``summary.verdict``): its numbers, its sentences and, when the numbers
    call for one, what to set instead; nothing for a report without a verdict."""
    v = report["summary"].get("verdict")
    if not v:
        return Text("")
    parts = [("reallocated", v["reallocated"])]
    if "reallocated_within_tasks" in v:
        parts += [
            ("within tasks", v["reallocated_within_tasks"]),
            ("across tasks", v["reallocated_across_tasks"]),
        ]
    parts.append(("zero signal", v["zero_signal"]))
    lines = Text()
    for label, value in parts:
        lines.append(f"{label} ", style="dim").append(f"{percent(value)}   ", style="bold")
    lines.append("\n" + v["text"])
    rec = v.get("recommendation")
    if rec:
        lines.append(f"\nwhat to set ({advice_for(rec)}): ", style="bold green")
        lines.append(rec["text"])
    return Panel(lines, title="Verdict", title_align="left", border_style="magenta")


def _pick_rows(rows: list[dict[str, Any]], max_rows: int) -> tuple[list[dict[str, Any]], bool]:
    """All rows if they fit; else the ``max_rows`` iterations with a flag of their own
    (run-level findings are in the findings table), then those where GRPO moves the most
    update mass (``reallocated``), in step order.

    >>> rows = [{"step": s, "reallocated": r, "flags": []} for s, r in enumerate([.1, .5, .3])]
    >>> [r["step"] for r in _pick_rows(rows, 2)[0]]
    [1, 2]
    >>> rows[0]["flags"] = ["magnitude_collapse"]
    >>> [r["step"] for r in _pick_rows(rows, 2)[0]]
    [0, 1]
    """
    if len(rows) <= max_rows:
        return rows, False

    def weight(i: int) -> tuple[bool, float]:
        moved = rows[i].get("reallocated")
        return (bool(rows[i]["flags"]), -1.0 if moved is None else float(moved))

    chosen = sorted(range(len(rows)), key=weight, reverse=True)[:max_rows]
    return [rows[i] for i in sorted(chosen)], True


BASE_WIDTH = 50
"""Terminal columns the per-iteration table needs besides the estimators."""
COLUMN_WIDTH = 9
WIDE_EXTRA = 30
PRIORITY = (
    "grpo",
    "dr_grpo",
    "rloo",
    "grpo_batch",
    "reinforce_pp_baseline",
    "gdpo",
    "reinforce_pp",
    "gpg",
    "opo",
    "remax",
)
"""Which estimators a narrow terminal keeps first: GRPO and its magnitude-keeping peers."""


def fitting(estimators: list[str], room: int) -> list[str]:
    """The estimators that fit in ``room`` columns, by :data:`PRIORITY`, in their order.

    >>> fitting(["grpo", "gpg", "dr_grpo", "rloo"], 27)
    ['grpo', 'dr_grpo', 'rloo']
    """
    count = max(1, room // COLUMN_WIDTH)
    ranked = sorted(estimators, key=lambda e: PRIORITY.index(e) if e in PRIORITY else 99)
    keep = set(ranked[:count])
    return [e for e in estimators if e in keep]


def iteration_table(report: dict[str, Any], max_rows: int, width: int = 120) -> RenderableType:
    """Per iteration: rewards, spread, each estimator's advantage scale, flags.

    In a narrow terminal the rollout/group counts and reward mean go first, then the
    estimators least central to the comparison (:func:`fitting`); the caption says which.
    """
    all_estimators = report["summary"]["estimators"]
    estimators = fitting(all_estimators, width - BASE_WIDTH)
    wide = len(estimators) == len(all_estimators) and (
        width - BASE_WIDTH - COLUMN_WIDTH * len(estimators) >= WIDE_EXTRA
    )
    hidden = [REGISTRY[e].short for e in all_estimators if e not in estimators]
    rows, cut = _pick_rows(report["iterations"], max_rows)
    shown = {c for row in rows for c in row["flags"]}  # the legend names only these
    legend = ", ".join(f"{v}={k}" for k, v in SHORT_CODES.items() if k in shown) or "none"
    table = plain_table(
        title="Per iteration: reward spread vs advantage scale (RMS) under each estimator",
        caption=(
            "spread: RMS deviation of rewards from their group mean; moved: the share of the "
            "iteration's update mass GRPO places differently from Dr. GRPO; estimator columns: "
            "RMS advantage; flags: "
            + legend
            + (
                f"\nshowing the {num(len(rows))} of {count(len(report['iterations']), 'iteration')}"
                " flagged or where GRPO moves the most mass; --format csv lists all"
                if cut
                else ""
            )
            + (
                f"\nnot shown at this width: {', '.join(hidden)} (a wider terminal, "
                "--format csv or --estimators shows them)"
                if hidden
                else ""
            )
        ),
    )
    table.add_column("step", justify="right", no_wrap=True)
    if wide:
        table.add_column("rollouts", justify="right", no_wrap=True)
        table.add_column("groups", justify="right", no_wrap=True)
        table.add_column("reward\nmean", justify="right", no_wrap=True)
    table.add_column("reward\nspread", justify="right", style="bold", no_wrap=True)
    table.add_column("const\ngroups", justify="right", no_wrap=True)
    table.add_column("moved", justify="right", no_wrap=True)
    for name in estimators:
        table.add_column(REGISTRY[name].short, justify="right", no_wrap=True)
    table.add_column("flags")
    for row in rows:
        zero = row["zero_variance_groups"]
        counts = (
            [cell(row["rollouts"]), cell(row["groups"]), cell(row["reward_mean"], 3)]
            if wide
            else []
        )
        table.add_row(
            str(row["step"]),
            *counts,
            cell(row["spread"], 3),
            f"{zero / max(row['groups'], 1):.0%}" if zero else "",
            percent(row.get("reallocated")),
            *(cell(row[f"scale_{name}"], 3) for name in estimators),
            Text(" ".join(SHORT_CODES.get(c, c) for c in row["flags"]), style="yellow"),
        )
    return table


def magnitude_table(report: dict[str, Any]) -> RenderableType:
    """How much reward magnitude each estimator keeps (elasticity; 1 keeps, 0 erases)."""
    table = plain_table(
        title="How much reward magnitude each estimator keeps",
        caption="elasticity: slope of log advantage scale on log reward spread (1 keeps "
        "magnitude, 0 erases it), over non-constant groups",
    )
    table.add_column("estimator")
    table.add_column("across groups\n(same iteration)", justify="right")
    table.add_column("across iterations", justify="right")
    table.add_column("by design")
    style = {"keeps": "green", "erases": "red", "partly": "yellow", "n/a": "dim"}
    for row in report["summary"]["magnitude"]:
        cells = []
        for which in ("within", "across"):
            value, word = row[f"elasticity_{which}"], row[f"verdict_{which}"]
            cells.append(Text(f"{slope(value)}  {word}", style=style[word]))
        table.add_row(row["estimator"], *cells, REGISTRY[row["estimator"]].keeps)
    return table


WHERE_ROOM = 24
"""The characters the findings table gives to the iterations a check fired on."""
IN_THE_VERDICT = frozenset({"reallocation"})
"""Findings the verdict panel states: the findings table leaves them out."""


def flags_table(report: dict[str, Any]) -> RenderableType:
    """Findings by consequence, one row per code: where it fired, the share of the run
    it affects, and its worst instance; not those the verdict panel states
    (:data:`IN_THE_VERDICT`).

    The JSON output lists every flag individually.
    """
    flags = [f for f in report["flags"] if f["code"] not in IN_THE_VERDICT]
    if not flags:
        if report["flags"]:
            return Text("No other findings: the verdict above is the run's one finding.")
        return Text(
            "No flags: no magnitude collapse, zero-variance or noise findings.", style="green"
        )
    table = plain_table(
        title="Findings, by the share of the run they affect (--format json lists each flag)",
        show_lines=True,
    )
    table.add_column("finding", no_wrap=True)
    table.add_column("iterations\naffects", no_wrap=True)
    table.add_column("worst instance", ratio=1)
    for code, group in flags_by_code(flags).items():  # the flags come worst first
        worst = group[0]
        severity = worst["severity"]
        table.add_row(
            Text(code, style=SEVERITY_STYLE[severity]).append(f"\n{severity}", style="dim"),
            f"{where_fired(group, WHERE_ROOM)}\n{affected(group)}",
            f"{location(worst['step'])}: {worst['message']}",
        )
    return table


def task_table(report: dict[str, Any], width: int = 120) -> RenderableType | None:
    """Each task's share of the reward spread and of each estimator's advantage mass."""
    tasks = report["summary"].get("tasks")
    if not tasks:
        return None
    estimators = fitting(report["summary"]["estimators"], width - 40)
    table = plain_table(
        title="Each task's say in the update (share of Σ advantage² over the run)",
        caption="reward spread: the say each task would have if magnitude passed through",
    )
    table.add_column("task")
    table.add_column("groups", justify="right")
    table.add_column("reward\nspread", justify="right", style="bold", no_wrap=True)
    for name in estimators:
        table.add_column(REGISTRY[name].short, justify="right", no_wrap=True)
    for row in tasks:
        table.add_row(
            str(row["task"]),
            cell(row["groups"]),
            percent(row["spread_share"]),
            *(percent(row[f"share_{name}"]) for name in estimators),
        )
    return table


def attribution_table(report: dict[str, Any]) -> RenderableType | None:
    """Each class of groups (the reward components varying in them) and its share of the
    update mass under GRPO and Dr. GRPO; shown only when there are two classes or more."""
    classes = report["summary"].get("attribution") or []
    if len(classes) < 2:
        return None
    table = plain_table(
        title="Update mass by reward components varying (Σ A², run)",
        caption="GRPO gives each group unit scale; Dr. GRPO keeps the weighted reward's",
    )
    table.add_column("components varying")
    table.add_column("groups", justify="right")
    table.add_column("GRPO", justify="right", no_wrap=True)
    table.add_column("Dr. GRPO", justify="right", no_wrap=True)
    table.add_column("ratio", justify="right", no_wrap=True)
    for row in classes:
        table.add_row(
            " + ".join(row["components"]) or "(none)",
            cell(row["groups"]),
            percent(row["share_grpo"]),
            percent(row["share_dr_grpo"]),
            ratio(row),
        )
    return table


def render_compare(report: dict[str, Any], max_rows: int = 30, width: int = 120) -> RenderableType:
    """The whole ``compare`` screen for a terminal ``width`` columns wide."""
    report = printable_tree(report)
    tasks = task_table(report, width)
    return Group(
        _header(report, width),
        verdict_panel(report),
        flags_table(report),
        *([Text(""), table] if (table := attribution_table(report)) is not None else []),
        *([Text(""), tasks] if tasks is not None else []),
        Text(""),
        iteration_table(report, max_rows, width),
        Text(""),
        magnitude_table(report),
    )


def render_watch(
    report: dict[str, Any] | None,
    folder: Any,
    max_rows: int = 15,
    width: int = 120,
    error: str | None = None,
) -> RenderableType:
    """The ``watch`` screen: the latest iterations and the flags; ``error`` says why the
    latest look failed (shown above the last good ``report``, or alone without one)."""
    from datetime import datetime

    stamp = Text(
        f"watching {printable(str(folder))} · updated {datetime.now():%H:%M:%S} · Ctrl-C to stop",
        style="dim",
    )
    waiting = Text(f"waiting: {printable(str(error))}", style="yellow")
    if report is None:
        return Group(stamp, waiting)
    report = printable_tree(report)
    latest = dict(report, iterations=report["iterations"][-max_rows:])
    return Group(
        stamp,
        *([waiting] if error else []),
        _header(report, width),
        verdict_panel(report),
        iteration_table(latest, max_rows, width),
        flags_table(report),
    )


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Any, width: int = 24) -> str:
    """A curve as block characters (0 → ▁, 1 → █), resampled to ``width``.

    >>> sparkline([0.0, 0.5, 1.0], width=3)
    '▁▅█'
    """
    import numpy as np

    v = np.asarray(values, float)
    picks = v[np.linspace(0, v.size - 1, min(width, v.size)).round().astype(int)]
    levels = np.rint(np.clip(picks, 0, 1) * (len(SPARK) - 1)).astype(int)
    return "".join(SPARK[i] for i in levels)


def render_simulation(outcome: Any) -> RenderableType:
    """The ``simulate`` screen: per estimator, the mean learning curve and the statistics."""
    s = outcome.setting
    kind = (
        "fitted to a log"
        if s.arm_means is not None
        else "one 0/1 verifier"
        if s.binary
        else f"{s.sources} summed reward sources, task scales "
        + "/".join(f"{x:g}" for x in s.scales)
    )
    table = plain_table(
        title=f"Learning on {s.tasks} tasks ({kind}); {s.seeds} seeds × {s.iterations} updates",
        caption="score: expected reward normalized per task to [0, 1] (worst to best "
        "response), tasks weighted equally; ± is the 95% confidence interval over seeds; "
        "the verdict compares the final score with GRPO's, paired by seed",
    )
    table.add_column("estimator", no_wrap=True, min_width=max(map(len, outcome.curves)))
    table.add_column("learning curve")
    table.add_column("final score", justify="right")
    table.add_column("area under curve", justify="right")
    table.add_column("vs GRPO", justify="right")
    table.add_column("verdict")
    style = {"ahead": "green", "behind": "red", "reference": "dim"}
    for row in outcome.summary.iter_rows(named=True):
        name = row["estimator"]
        table.add_row(
            name,
            sparkline(outcome.curves[name].mean(0)),
            plus_minus(row["final"], row["final_ci"]),
            plus_minus(row["auc"], row["auc_ci"]),
            ""
            if row["verdict"] == "reference"
            else plus_minus(row["vs_grpo"], row["vs_ci"], signed=True),
            Text(row["verdict"], style=style.get(row["verdict"], "")),
        )
    return table
