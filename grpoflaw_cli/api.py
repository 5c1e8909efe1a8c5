"""The Python API: load a log, compare the estimators, get Polars frames and Plotly figures.

The CLI is a thin layer over these functions; notebooks use them directly::

    import grpoflaw_cli.api as gf

    log = gf.load("sample_data/multitask.jsonl")          # or files, folders, globs
    result = gf.compare(log)                              # every estimator, every check
    result.iterations                                     # Polars: one row per step
    result.magnitude                                      # how much magnitude each keeps
    [f.message for f in result.flags[:3]]                 # findings, worst first
    result.figure().show()                                # the report's Plotly charts
    rows = gf.advantages(log, estimators=["grpo", "rloo"])  # one row per rollout

Errors are :class:`~grpoflaw_cli.errors.GrpoflawError` with a message and a fix hint.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from grpoflaw_cli import ingest, progress
from grpoflaw_cli.analysis import Analysis, analyze_groups, with_logged
from grpoflaw_cli.diagnostics import Flag, Thresholds, diagnose
from grpoflaw_cli.errors import GrpoflawError, InputError, UsageError, option, spell
from grpoflaw_cli.estimators import (
    FRAMEWORKS,
    REGISTRY,
    Conventions,
    applicable,
    defaults,
    resolve,
)
from grpoflaw_cli.group_stats import needs_centering
from grpoflaw_cli.ingest import INTERNAL_PREFIX, ColumnMap, Log, carried_name, input_name
from grpoflaw_cli.merge import merge_moments, merge_steps, merge_sums
from grpoflaw_cli.passes import (
    centered_sums_query,
    group_stats_query,
    row_variable_query,
    sorted_groups,
    with_centered_sums,
)
from grpoflaw_cli.ray_engine import Engine, run
from grpoflaw_cli.ray_engine import group_table as ray_group_table
from grpoflaw_cli.result import Header, build_report
from grpoflaw_cli.rollout_advantages import (
    advantages_query,
    logged_comparison_query,
    with_advantages,
)

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from grpoflaw_cli.simulate import Setting

Clip = tuple[float, float] | Literal["default"] | None


def load(
    paths: str | Path | Sequence[str | Path],
    *,
    step_col: str | None = None,
    group_col: str | None = None,
    reward_cols: Sequence[str] = (),
    reward_weights: Sequence[float] | None = None,
    group_size: int | None = None,
    length_col: str | None = None,
    task_col: str | None = None,
    baseline_col: str | None = None,
    component_cols: Sequence[str] = (),
    source: str = "auto",
    framework: str | None = None,
    skip_bad_lines: bool = False,
) -> Log:
    """Read a log lazily (nothing but schemas is read until you compare).

    Column arguments override detection (``grpoflaw inspect`` shows what was detected).
    ``framework="trl"`` brings TRL's rule for missing rewards; otherwise the source decides.
    """
    if isinstance(reward_cols, str):  # one column, not its letters
        reward_cols = [reward_cols]
    if isinstance(component_cols, str):
        component_cols = [component_cols]
    mapping = ColumnMap(
        step=step_col,
        group=group_col,
        reward=tuple(reward_cols),
        reward_weights=tuple(reward_weights) if reward_weights is not None else None,
        group_size=group_size,
        length=length_col,
        task=task_col,
        baseline=baseline_col,
        components=tuple(component_cols),
    )
    return read(
        [paths] if isinstance(paths, (str, Path)) else paths,
        mapping,
        source=source,
        framework=framework,
        skip_bad_lines=skip_bad_lines,
    )


def read(
    paths: Sequence[str | Path],
    mapping: ColumnMap,
    *,
    source: str = "auto",
    framework: str | None = None,
    skip_bad_lines: bool = False,
) -> Log:
    """Read a log lazily with a column map (what :func:`load` builds from its keywords);
    its errors name settings by :func:`~grpoflaw_cli.errors.option`, for the caller to
    spell."""
    return ingest.load(
        list(paths),
        mapping,
        skip_bad_lines=skip_bad_lines,
        source=source,
        nan_rewards=ingest.missing_rewards(framework),
    )


def describe(log: Log) -> dict[str, Any]:
    """What was detected in the log and why (what ``grpoflaw inspect`` shows): ``facts``
    (the source, files, formats, columns, and the counts a read of the log gives),
    ``reasons`` and ``files``."""
    det = log.detection
    facts: dict[str, Any] = {
        "source": det.source,
        "conventions": conventions_for(log).describe(),
        "files": len(det.files),
        "formats": _formats(det.files, det.formats),
        "columns": ", ".join(det.columns),
    }
    facts.update(ingest.facts(log))
    return {"facts": facts, "reasons": list(det.reasons), "files": [str(f) for f in det.files]}


def _formats(files: Sequence[Path], formats: Sequence[str]) -> str:
    """The formats of a log's files, each named once."""
    return ", ".join(
        sorted({ingest.shown_format(f, fmt) for f, fmt in zip(files, formats, strict=True)})
    )


def describe_columns(
    paths: Sequence[str | Path], missing: GrpoflawError, *, skip_bad_lines: bool = False
) -> dict[str, Any]:
    """What :func:`describe` gives for a log whose roles cannot be detected (no reward
    column, say): its files, formats and columns, and what is ``missing`` (the error a
    :func:`read` raised), so that ``inspect`` still shows what the log holds."""
    found = ingest.survey(list(paths), skip_bad_lines=skip_bad_lines)
    facts: dict[str, Any] = {
        "files": len(found.files),
        "formats": _formats(found.files, found.formats),
        "columns": ", ".join(found.columns),
        "missing": "the reward column: nothing can be compared until one is named",
    }
    reasons = [missing.message] + ([missing.hint] if missing.hint else [])
    return {"facts": facts, "reasons": reasons, "files": [str(f) for f in found.files]}


def conventions_for(
    log: Log,
    framework: str | None = None,
    ddof: int | None = None,
    eps: float | None = None,
    clip: Clip = "default",
) -> Conventions:
    """The given conventions, else those the log's source implies (its framework, and for
    some trainers their own ddof/eps)."""
    det = log.detection
    name = framework or det.framework
    implied = framework is None or framework == det.framework
    # A trainer's own ddof/eps (open-instruct, NeMo-RL, ART), unless the user chose others
    own = (
        implied
        and det.source not in (*FRAMEWORKS, "generic")
        and (det.ddof is not None or det.eps is not None)
        and ddof is None
        and eps is None
    )
    conv = Conventions.of(
        name,  # type: ignore[arg-type]  # Conventions.of checks the name
        ddof=ddof if ddof is not None else (det.ddof if implied else None),
        eps=eps if eps is not None else (det.eps if implied else None),
        clip=clip,
    )
    return replace(conv, trainer=det.source) if own else conv


def inputs(log: Log) -> set[str]:
    """The optional canonical columns the log has (what some estimators need)."""
    det = log.detection
    return {
        role
        for role, col in (("length", det.length_col), ("baseline", det.baseline_col))
        if col is not None
    }


def log_defaults(log: Log) -> list[str]:
    """The estimators computed when none are chosen: the defaults, plus the one the log's
    trainer computes by default when that needs a second pass (NeMo-RL's ``grpo_loo``)."""
    return list(dict.fromkeys([*defaults(), log.detection.logged_estimator]))


def usable(log: Log, estimators: Sequence[str] | None) -> tuple[list[str], dict[str, str]]:
    """The estimators the log has inputs for, and the others with the reason."""
    if isinstance(estimators, str):  # "grpo" or "grpo,rloo", as on the command line
        estimators = [estimators]
    names = log_defaults(log) if estimators is None else resolve(",".join(estimators))
    kept, skipped = applicable(names, inputs(log))
    named = {n.strip() for e in estimators or [] for n in e.split(",")}  # "all" names none
    kept, skipped = _unweighted_components(log, kept, skipped, chosen="gdpo" in named)
    if not kept:
        raise UsageError(
            "none of the chosen estimators can be computed from this log",
            hint="; ".join(f"{n} {w}" for n, w in skipped.items()),
        )
    return kept, skipped


def _unweighted_components(
    log: Log, kept: list[str], skipped: dict[str, str], *, chosen: bool
) -> tuple[list[str], dict[str, str]]:
    """GDPO weighs each component (``Σ_k w_k z_k``): over the user's ``component_cols``
    with no weights it is refused if named, else left out, never weighted 1 silently."""
    det = log.detection
    if "gdpo" not in kept or not log.read_as[0].components or det.fitted_weights:
        return kept, skipped
    if chosen:
        raise UsageError(
            f"GDPO over {option('component_cols')} needs each component's weight in the reward",
            hint=f"give one {option('reward_weights')} per {option('component_cols')}, "
            f"in the same order (e.g. {option('reward_weights')} "
            + ",".join("1" for _ in det.component_cols)
            + ")",
        )
    why = spell(f"needs the components' weights ({option('reward_weights')})")
    return [n for n in kept if n != "gdpo"], {**skipped, "gdpo": why}


def analyze_log(
    log: Log,
    estimators: list[str],
    conventions: Conventions,
    compare_logged: bool = False,
    engine: Engine = "local",
) -> Analysis:
    """One streaming pass over the log → the analysis (a second pass where clipping, GDPO
    over several reward columns or the trainer's logged advantages need the rows). With
    ``engine="ray"`` the passes run as Ray tasks (:mod:`grpoflaw_cli.ray_engine`)."""
    det = log.detection
    components = tuple(carried_name(c) for c in det.components)
    logged = det.logged_advantage if compare_logged else None
    extra = applicable(log_defaults(log), inputs(log))[0] if logged else []
    settings: dict[str, Any] = {
        "has_length": det.length_col is not None,
        "has_task": det.task_col is not None,
        # which files a step's rows came from (unless steps are split by design)
        "source_col": ingest.FILE_COL if len(det.files) > 1 and not det.group_per_file else None,
        "has_baseline": det.baseline_col is not None,
        "components": components,
        "extremes": any("extremes" in REGISTRY[n].requires for n in [*estimators, *extra]),
        "shift": typical_reward(log),
        "sort": False,  # group_table sorts the collected table
    }
    progress.advance("the pass over the rows", 0)
    local = partial(group_stats_query, **settings)
    table = ray_group_table(log, settings) if engine == "ray" else group_table(log, local)
    if table.height == 0 or int(table["n"].sum()) == 0:
        raise InputError(
            f"the log has no rows ({', '.join(str(f) for f in det.files[:3])})",
            hint="point grpoflaw at the files the trainer wrote its rollouts to",
        )
    ingest.check_rewards(log, table)
    center = needs_centering(table)
    if center.any():  # rewards far from zero relative to their spread: a second pass
        progress.advance("a second pass: the groups far from zero", 0)
        far = table.filter(center)
        sums = run(engine, log, centered_sums_query, merge_sums, far, det.length_col is not None)
        table = with_centered_sums(table, sums)
    keys = table.select("step", "group")

    def row_stats(variables: Any) -> pl.DataFrame:
        progress.advance("a second pass: the estimators that need the rows", 0)
        query, has_length = row_variable_query, det.length_col is not None
        return run(engine, log, query, merge_moments, keys, variables, has_length)

    # analyze_groups gets the only reference to the table, so the columns it has read can go as it
    # goes on (at 6.25M groups, ~0.5 GB).
    handed_over = [table]
    del table
    analysis = analyze_groups(
        handed_over.pop(),
        estimators,
        conventions,
        extra=extra,
        row_stats=row_stats,
        components=components,
        weights=det.component_weights,
    )
    if logged:
        progress.advance("a second pass: the trainer's logged advantages", 0)
        query = logged_comparison_query
        comparison = run(engine, log, query, merge_steps, analysis, logged, every_row=True)
        analysis = with_logged(analysis, comparison, det.logged_estimator)
    return analysis


def typical_reward(log: Log) -> float:
    """The median of the log's first (up to 1,000) finite rewards: what the pass takes its
    power sums about, so that rewards sitting far from zero (a reward model's 4.5 ± 0.02)
    do not cancel when centered. 0 if there is none."""
    r = pl.col("reward")
    head = log.stats_frame.select(r).head(1000).select(r.filter(r.is_finite()).median())
    value = ingest.collect(log, head).item()
    return float(value) if value is not None and np.isfinite(value) else 0.0


CHUNK_ROWS = 12_500_000
"""Above this many rows, a Parquet log's group statistics are gathered a step range at a
time: each range's groups are complete (a group never spans steps), Parquet's row-group
statistics skip the other ranges, and the aggregation's memory stays bounded."""


def group_table(log: Log, query: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.DataFrame:
    """Collect the per-group statistics, in step-range chunks for large Parquet logs, each
    sorted by (step, group) once collected (:func:`~grpoflaw_cli.passes.sorted_groups`).

    Text formats are read in one pass (a step filter cannot skip any of their bytes).
    """
    det = log.detection
    frame = log.stats_frame
    chunks = 1
    # A step range skips other ranges through Parquet's statistics: a step column stored as
    # numbers, not text read as integers (each range would re-read the whole file).
    stored = det.step_col is not None and not det.step_as_integer
    if stored and all(fmt == "parquet" for fmt in det.formats):
        rows = int(ingest.collect(log, frame.select(pl.len())).item())
        chunks = -(-rows // CHUNK_ROWS)
    if chunks > 1:
        bounds = ingest.collect(
            log, frame.select(pl.col("step").min().alias("lo"), pl.col("step").max().alias("hi"))
        )
        lo, hi = bounds.row(0)
        if isinstance(lo, int) and isinstance(hi, int):
            edges = [lo + (hi - lo + 1) * i // chunks for i in range(chunks + 1)]
            parts = []
            for done, (a, b) in enumerate(pairwise(edges)):
                progress.advance("the pass over the rows, a step range at a time", done, chunks)
                part = query(frame.filter((pl.col("step") >= a) & (pl.col("step") < b)))
                parts.append(sorted_groups(ingest.collect(log, part, streaming=True)))
            return pl.concat(parts)
    return sorted_groups(ingest.collect(log, query(frame), streaming=True))


@dataclass(frozen=True)
class Comparison:
    """What ``grpoflaw compare`` computes, as Python objects."""

    log: Log
    analysis: Analysis
    flags: list[Flag]
    conventions: Conventions
    skipped: dict[str, str] = field(default_factory=dict)
    """Estimators left out because the log lacks their inputs, with the reason."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    """The thresholds its flags were raised with."""

    @property
    def iterations(self) -> pl.DataFrame:
        return self.analysis.iterations

    @property
    def groups(self) -> pl.DataFrame:
        return self.analysis.groups

    @property
    def magnitude(self) -> pl.DataFrame:
        return self.analysis.magnitude

    @property
    def tasks(self) -> pl.DataFrame | None:
        return self.analysis.tasks

    def report(self) -> dict[str, Any]:
        """The JSON report (what the CLI prints as JSON)."""
        return build_report(self.analysis, self.flags, header(self))

    def sample(self, target_rows: int = 20_000) -> pl.DataFrame:
        """Per-rollout advantages for an evenly spaced sample of whole groups (about
        ``target_rows`` rows, at least one group)."""
        groups = self.analysis.groups.select("step", "group")
        keys = groups.gather_every(max(1, self.analysis.rollouts // max(target_rows, 1)))
        rows = ingest.collect(
            self.log,
            self.log.frame.join(keys.lazy(), on=["step", "group"], how="semi", nulls_equal=True),
        )
        return with_advantages(rows, self.analysis)

    def figure(self) -> Figure:
        """The HTML report's charts as one Plotly figure."""
        from grpoflaw_cli.render.html import figure

        return figure(self.report(), self.analysis, self.sample())

    def to_json(self) -> str:
        """The report as JSON text: what ``grpoflaw compare`` prints as JSON."""
        from grpoflaw_cli.render.formats import report_json

        return report_json(self.report())

    def to_csv(self) -> str:
        """The per-iteration table as CSV text: what ``grpoflaw compare`` prints as CSV
        (to a file or a pipe)."""
        from grpoflaw_cli.render.formats import iterations_csv

        return iterations_csv(self.report())

    def to_html(self) -> str:
        """The self-contained HTML report."""
        from grpoflaw_cli.render.html import render_html

        return render_html(self.report(), self.analysis, self.sample())


def header(result: Comparison) -> Header:
    """Where the numbers came from: the files, columns and conventions, for every output."""
    det, conv = result.log.detection, result.conventions
    blocks = f"blocks of {det.group_size}" if det.group_mode == "blocks" else "whole iteration"
    return Header(
        files=tuple(str(f) for f in det.files),
        columns={
            "step": det.step_col,
            "group": det.group_col if det.group_mode == "column" else blocks,
            "reward": ingest.reward_text(det),
            "length": det.length_col,
            "task": det.task_col,
            **(
                {"components": ingest.components_text(det, "gdpo" in result.analysis.estimators)}
                if det.component_cols
                else {}
            ),
        },
        conventions=conv.describe(),
        ddof=conv.ddof,
        eps=conv.eps,
        framework=conv.framework,
        source=det.source,
        logged_advantage=det.logged_advantage,
        logged_tolerance=result.thresholds.logged_tolerance,
        skipped_estimators=result.skipped,
        skipped_lines={path: list(lines) for path, lines in result.log.skipped_lines},
        reward_weights=ingest.weights_given(det, result.log.read_as[0]),
    )


def _prepare(
    log: Log | str | Path | Sequence[str | Path],
    estimators: Sequence[str] | None,
    framework: str | None,
    ddof: int | None,
    eps: float | None,
    clip: Clip,
) -> tuple[Log, Conventions, list[str], dict[str, str]]:
    """The log (read if given as paths), its conventions, and the estimators it can give
    (with the reasons for the others): what every entry point starts from."""
    if not isinstance(log, Log):
        log = load(log, framework=framework)
    elif (rule := ingest.missing_rewards(framework)) is not None:  # as load(framework=...) reads
        log = ingest.reread(log, rule)
    names, skipped = usable(log, estimators)
    return log, conventions_for(log, framework, ddof, eps, clip), names, skipped


def compare(
    log: Log | str | Path | Sequence[str | Path],
    estimators: Sequence[str] | None = None,
    *,
    framework: str | None = None,
    ddof: int | None = None,
    eps: float | None = None,
    clip: Clip = "default",
    thresholds: Thresholds | None = None,
    engine: Engine = "local",
) -> Comparison:
    """Recompute every estimator (or ``estimators``) and run every diagnostic."""
    log, conv, names, skipped = _prepare(log, estimators, framework, ddof, eps, clip)
    analysis = analyze_log(log, names, conv, compare_logged=True, engine=engine)
    thresholds = thresholds or Thresholds()
    flags = diagnose(analysis, thresholds, [str(f) for f in log.detection.files])
    return Comparison(log, analysis, flags, conv, skipped, thresholds)


def advantages(
    log: Log | str | Path | Sequence[str | Path],
    estimators: Sequence[str] | None = None,
    *,
    framework: str | None = None,
    ddof: int | None = None,
    eps: float | None = None,
    clip: Clip = "default",
) -> pl.DataFrame:
    """One row per rollout, in input order: the canonical columns, the input's others, and
    one ``adv_<estimator>`` column each."""
    log, conv, names, _ = _prepare(log, estimators, framework, ddof, eps, clip)
    rows = ingest.collect(log, log.frame)
    analysis = analyze_log(replace(log, frame=rows.lazy()), names, conv)  # the rows, read once
    out = with_advantages(rows, analysis)
    out = out.drop(c for c in out.columns if c.startswith(INTERNAL_PREFIX))
    return out.rename({c: input_name(c) for c in out.columns if input_name(c) != c})


def write_advantages(
    log: Log | str | Path | Sequence[str | Path],
    path: str | Path | IO[bytes],
    estimators: Sequence[str] | None = None,
    *,
    framework: str | None = None,
    ddof: int | None = None,
    eps: float | None = None,
    clip: Clip = "default",
) -> int:
    """Write :func:`advantages` to ``path`` (Parquet, CSV or JSONL by its extension),
    atomically, or as CSV to an open binary stream (``sys.stdout.buffer``), and return the
    number of rollouts written. A path the log is read from (or, for a log file, inside an
    input folder) is refused before anything is read.

    Streamed: the analysis reads the log once or twice, the rows are read again and
    written as they go, so a log larger than memory works. (verl multi-turn sessions,
    whose outputs take their session's advantage, are computed in memory.)
    """
    from grpoflaw_cli import safe_output

    def write(frame: pl.LazyFrame) -> None:
        if isinstance(path, (str, Path)):
            safe_output.sink_frame_atomic(Path(path), frame)
        else:
            stdout = path is getattr(sys.stdout, "buffer", None)
            what = "to standard output" if stdout else "to the output stream"
            safe_output.sink_csv_stream(frame, path, what)

    if isinstance(path, (str, Path)):
        safe_output.frame_format(Path(path))
        safe_output.check_output(Path(path), _input_paths(log))
    log, conv, names, _ = _prepare(log, estimators, framework, ddof, eps, clip)
    if log.detection.sessions:
        rows = advantages(log, names, framework=framework, ddof=ddof, eps=eps, clip=clip)
        write(rows.lazy())
        return rows.height
    analysis = analyze_log(log, names, conv)
    written = int(analysis.groups["n"].sum())
    query = advantages_query(log.frame, analysis)
    # The query holds only the coefficients it joins on; the rest of the analysis (at
    # 6.25M groups, ~0.5 GB of per-group columns and statistics) can go before the sink.
    del analysis
    with ingest.explained(log):
        write(query)
    return written


def _input_paths(log: Log | str | Path | Sequence[str | Path]) -> Sequence[str | Path]:
    """The files, folders and globs a log is (or was) read from."""
    if isinstance(log, Log):
        return log.detection.files
    return [log] if isinstance(log, (str, Path)) else log


def simulation_fitted_to(paths: Sequence[str | Path] | Log, base: Setting, **how: Any) -> Setting:
    """``base`` with its tasks fitted to the reward shapes of the log at ``paths`` (or
    the :class:`Log` read with its column options: :func:`load`)
    (:func:`~grpoflaw_cli.simulate.setting_from_log`), read with :func:`compare`'s
    keywords ``how`` (``engine="ray"``); an :class:`InputError` if the log cannot give them."""
    from grpoflaw_cli.simulate import setting_from_log

    log = paths if isinstance(paths, Log) else load(paths)
    paths = [str(f) for f in log.detection.files] if isinstance(paths, Log) else paths
    groups = compare(log, ["grpo"], **how).groups
    try:
        return setting_from_log(groups, base)
    except ValueError as err:
        raise InputError(
            f"'{', '.join(map(str, paths))}': {err}",
            hint="see how the log is grouped with `grpoflaw inspect`",
        ) from None
