"""The report as plain data: the JSON the CLI prints, and what every renderer reads.

>>> import polars as pl
>>> from grpoflaw_cli.analysis import analyze_groups
>>> from grpoflaw_cli.diagnostics import diagnose
>>> from grpoflaw_cli.passes import group_stats_query
>>> rows = pl.LazyFrame({"step": [1, 1, 2, 2], "group": [0] * 4, "reward": [0.0, 1, 0, 5]})
>>> analysis = analyze_groups(group_stats_query(rows, has_length=False).collect(), ["grpo"])
>>> header = Header(files=("run.jsonl",), columns={}, conventions="verl", ddof=1, eps=1e-6)
>>> report = build_report(analysis, diagnose(analysis), header)
>>> sorted(report), report["summary"]["rollouts"]
(['flags', 'grpoflaw_version', 'iterations', 'summary'], 4)

With a task column, also ``tasks`` (per step) and ``summary.tasks`` (the run). A log of
several files adds ``source_min``/``source_max`` to each iteration: the indices, in
``summary.files``, of the first and last file its rows came from.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from grpoflaw_cli import __version__
from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.diagnostics import Flag, Severity, Thresholds
from grpoflaw_cli.verdict import per_iteration_frame, verdict


@dataclass(frozen=True)
class Header:
    """Where the numbers came from: shown on top of every output."""

    files: tuple[str, ...]
    columns: dict[str, Any]
    conventions: str
    ddof: int
    eps: float
    framework: str = "verl"
    source: str = "generic"
    logged_advantage: str | None = None
    logged_tolerance: float = Thresholds.logged_tolerance
    """The run's tolerance for a logged advantage to match (as its diagnostics used)."""
    skipped_estimators: dict[str, str] = field(default_factory=dict)
    """Estimators left out because the log lacks their inputs, with the reason."""
    skipped_lines: dict[str, list[int]] = field(default_factory=dict)
    """Malformed JSONL lines skipped on request (``skip_bad_lines``), per file."""
    reward_weights: dict[str, float] | None = None
    """Each reward column's weight in the reward, when the user gave weights."""


_PLAIN = frozenset({int, str, bool, type(None)})


def clean(value: Any) -> Any:
    """Make a value JSON-safe: NaN/inf → None, tuples → lists, recursively."""
    kind = type(value)
    if kind in _PLAIN:  # most of a report: returned without a further test
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):  # a plain value kept without a call (evidence, per step)
        return {
            k if type(k) is str else str(k): v if type(v) in _PLAIN else clean(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        if all(type(v) in _PLAIN for v in value):  # a list of steps: nothing to clean
            return list(value)
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return clean(value.item())
    return value


class Rows(list):  # type: ignore[type-arg]
    """A table of the report: the list of row dicts every renderer reads, made from
    ``frame`` (NaN and infinities as nulls), which the JSON writer
    (:func:`~grpoflaw_cli.render.formats.report_json`) writes a column at a time."""

    frame: pl.DataFrame | None

    def __init__(self, frame: pl.DataFrame) -> None:
        if any(t.is_nested() and t != pl.List(pl.String) for t in frame.dtypes):
            # numbers inside lists or records (none today): cleaned row by row, no frame
            super().__init__(clean(frame.to_dicts()))
            self.frame = None
            return
        floats = [c for c, t in frame.schema.items() if t.is_float()]
        frame = frame.with_columns(pl.when(pl.col(c).is_finite()).then(pl.col(c)) for c in floats)
        super().__init__(frame.to_dicts())
        self.frame = frame


def flags_by_step(flags: list[Flag]) -> dict[Any, list[str]]:
    out: dict[Any, list[str]] = defaultdict(list)
    for flag in flags:
        if flag.code not in out[flag.step]:
            out[flag.step].append(flag.code)
    return out


def _iterations(analysis: Analysis, flags: list[Flag]) -> Rows:
    """``iterations``: each iteration's numbers, its ``reallocated``
    (:func:`~grpoflaw_cli.verdict.per_iteration_frame`) and its ``flags``' codes (last)."""
    it = analysis.iterations
    by_step = flags_by_step(flags)
    steps = [step for step, codes in by_step.items() for _ in codes]
    codes = (
        pl.DataFrame(
            {
                "step": pl.Series(steps, dtype=it["step"].dtype, strict=False),
                "flags": pl.Series(
                    [c for codes in by_step.values() for c in codes], dtype=pl.String
                ),
            }
        )
        .group_by("step", maintain_order=True)
        .agg("flags")
    )
    join = {"on": "step", "how": "left", "nulls_equal": True, "maintain_order": "left"}
    frame = (
        it.join(per_iteration_frame(analysis), **join)  # type: ignore[arg-type]
        .join(codes, **join)  # type: ignore[arg-type]
        .with_columns(pl.col("flags").fill_null([]))
    )
    return Rows(frame)


def _logged_summary(analysis: Analysis, header: Header) -> dict[str, Any] | None:
    """How the trainer's own advantages compare with the recomputed ones, over the run."""
    it = analysis.iterations
    if header.logged_advantage is None or "logged_error" not in it.columns:
        return None
    best = it["logged_best"].drop_nulls().mode()
    error = it["logged_error"].max()
    worst = None if error is None else float(error)  # type: ignore[arg-type]
    return {
        "column": header.logged_advantage,
        "expected": analysis.logged_estimator,
        "max_relative_error": worst,
        "matches": worst is not None and worst <= header.logged_tolerance,
        "tolerance": header.logged_tolerance,
        "best_match": best[0] if best.len() else None,
    }


def build_report(
    analysis: Analysis,
    flags: list[Flag],
    header: Header,
) -> dict[str, Any]:
    """Everything ``compare`` knows, as one JSON-ready dict; the flags' messages name
    settings as the front end spells them (:func:`~grpoflaw_cli.errors.spelled_as`)."""
    iterations = _iterations(analysis, flags)
    counts = {s.value: sum(f.severity == s for f in flags) for s in Severity}
    summary = {
        "rollouts": analysis.rollouts,
        "iterations": analysis.iterations.height,
        "groups": analysis.groups.height,
        "files": list(header.files),
        "columns": header.columns,
        "conventions": {
            "framework": header.framework,
            "std_ddof": header.ddof,
            "eps": header.eps,
            "text": header.conventions,
        },
        "estimators": list(analysis.estimators),
        "flags": counts,
        "magnitude": analysis.magnitude.to_dicts(),
        "skipped_lines": header.skipped_lines,
        "source": header.source,
        "skipped_estimators": header.skipped_estimators,
        "logged_advantage": _logged_summary(analysis, header),
    }
    if header.reward_weights is not None:
        summary["reward_weights"] = header.reward_weights
    summary["verdict"] = verdict(
        analysis,
        header.source,
        header.framework,
        bool(analysis.components),
        logged_tolerance=header.logged_tolerance,
    )
    if analysis.tasks is not None:
        tasks = analysis.tasks
        summary["tasks"] = tasks.filter(pl.col("step").is_null()).drop("step").to_dicts()
    if analysis.components:  # several reward components: who carries the update mass
        summary["attribution"] = analysis.attribution
    report: dict[str, Any] = {
        "grpoflaw_version": __version__,
        "summary": clean(summary),
        "iterations": iterations,  # a frame made JSON-safe a column at a time
        "flags": clean([f.to_dict() for f in flags]),
    }
    if analysis.tasks is not None:
        report["tasks"] = Rows(analysis.tasks.filter(pl.col("step").is_not_null()))
    return report
