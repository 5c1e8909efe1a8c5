"""``grpoflaw compare``: every estimator side by side, and the flags."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from grpoflaw_cli.cli.display import note_skipped, report_skipped, screen, shown_data
from grpoflaw_cli.cli.options import (
    DEFAULT_CONVENTIONS,
    NO_COLUMNS,
    ConventionsChoice,
    EngineName,
    EngineOpt,
    Estimators,
    LogColumns,
    OutputFormat,
    Paths,
    SkipBadLines,
    SourceName,
    SourceOpt,
    chosen_estimators,
    column_options,
    conventions_options,
    engine_ready,
    output_options,
    output_path,
    read_log,
)
from grpoflaw_cli.cli.progress_bar import progress_shown
from grpoflaw_cli.errors import ExitCode


class FailOn(str, Enum):
    """``none`` or a :class:`~grpoflaw_cli.diagnostics.Severity`, spelled out so that
    ``--help`` does not import the diagnostics (a test keeps them equal)."""

    none = "none"
    info = "info"
    warning = "warning"
    error = "error"


FailOnOpt = Annotated[
    FailOn, typer.Option("--fail-on", help="Exit 1 if a flag at or above this severity is raised.")
]
# The diagnostics' thresholds (grpoflaw_cli.diagnostics.Thresholds)
CollapseRatio = Annotated[
    float, typer.Option("--collapse-ratio", help="collapsed_pair: spread ratio that counts.")
]
MagnitudeRatio = Annotated[
    float, typer.Option("--magnitude-ratio", help="magnitude_collapse: spread ratio vs typical.")
]
NoiseRatio = Annotated[
    float, typer.Option("--noise-ratio", help="noise_amplification: spread below this × typical.")
]
ZeroVarianceWarning = Annotated[
    float, typer.Option("--zero-variance-warning", help="zero_variance: share that warns.")
]


@column_options
@conventions_options
@output_options(
    output_format="table (Rich), json or csv (per iteration).",
    html_out="Also write a self-contained HTML report here.",
    max_rows="Iterations shown in the terminal table.",
)
def compare(
    paths: Paths,
    columns: LogColumns = NO_COLUMNS,
    skip_bad_lines: SkipBadLines = False,
    estimators: Estimators = None,
    source: SourceOpt = SourceName.auto,
    conventions: ConventionsChoice = DEFAULT_CONVENTIONS,
    output_format: OutputFormat = OutputFormat.table,
    html_out: str | None = None,
    fail_on: FailOnOpt = FailOn.none,
    max_rows: int = 12,
    collapse_ratio: CollapseRatio = 2.0,
    magnitude_ratio: MagnitudeRatio = 3.0,
    noise_ratio: NoiseRatio = 0.05,
    zero_variance_warning: ZeroVarianceWarning = 0.5,
    engine: EngineOpt = EngineName.local,
) -> int:
    """Recompute advantages under every estimator side by side and flag magnitude collapse."""
    from grpoflaw_cli.diagnostics import Severity, Thresholds

    html = output_path(html_out, "--html")
    mapping = columns.mapping()
    names = chosen_estimators(estimators)
    settings = conventions.settings()
    thresholds = Thresholds(  # checks its values: a UsageError naming the flag
        collapse_ratio=collapse_ratio,
        magnitude_ratio=magnitude_ratio,
        noise_ratio=noise_ratio,
        zero_variance_warning=zero_variance_warning,
    )
    engine_ready(engine)
    from grpoflaw_cli import api

    if html is not None:
        from grpoflaw_cli.safe_output import check_output

        check_output(html, paths)
    with progress_shown():  # on a terminal, once it takes 2 s: the read and the pass
        log = read_log(paths, mapping, skip_bad_lines, source, conventions.framework)
        report_skipped(log)
        result = api.compare(log, names, thresholds=thresholds, engine=engine.value, **settings)
    note_skipped(result.skipped, explicit=estimators is not None)
    _show(result, output_format, html, max_rows)
    if fail_on is not FailOn.none:
        bar = Severity(fail_on.value).rank
        failing = [f for f in result.flags if f.severity.rank >= bar]
        if failing:
            from grpoflaw_cli.cli.display import stderr

            for line in fail_note(failing, fail_on.value).splitlines():
                stderr().print(line)  # one print per line: the console escapes a newline
            return int(ExitCode.FLAGS)
    return int(ExitCode.OK)


def fail_note(failing: list[Any], bar: str) -> str:
    """What ``--fail-on`` says on stderr when it exits 1: the findings at or above ``bar``
    by code (how many, at which steps), and the worst one's message.

    >>> from grpoflaw_cli.diagnostics import Flag, Severity
    >>> print(fail_note([Flag("zero_variance", Severity.WARNING, 3, "no signal")], "warning"))
    --fail-on warning: exit 1 because of 1 finding at warning or worse: zero_variance ×1 (step 3)
      worst: zero_variance (warning) at step 3: no signal
    """
    codes: dict[str, list[Any]] = {}
    for flag in failing:
        codes.setdefault(flag.code, []).append(flag.step)
    by_code = ", ".join(f"{code} ×{len(steps)} ({_steps(steps)})" for code, steps in codes.items())
    worst = max(failing, key=lambda f: (f.severity.rank, f.score))
    where = "" if worst.step is None else f" at step {worst.step}"
    return (
        f"--fail-on {bar}: exit 1 because of {len(failing):,} "
        f"finding{'' if len(failing) == 1 else 's'} at {bar} or worse: {by_code}\n"
        f"  worst: {worst.code} ({worst.severity.value}){where}: {worst.message}"
    )


def _steps(steps: list[Any]) -> str:
    """The steps a code fired at, for the note: 'step 3', 'steps 1–12'."""
    known = list({s for s in steps if s is not None})
    try:
        known.sort()
    except TypeError:  # steps of mixed types: as text
        known.sort(key=str)
    if not known:
        return "the run"
    if len(known) == 1:
        return f"step {known[0]}"
    return f"steps {known[0]}–{known[-1]}"


def _show(result: Any, output_format: OutputFormat, html: Path | None, max_rows: int) -> None:
    """The HTML report, if asked for, and the report on stdout in the format asked for."""
    report = result.report()
    if html is not None:
        from grpoflaw_cli.render.html import render_html
        from grpoflaw_cli.safe_output import write_text_atomic

        write_text_atomic(html, render_html(report, result.analysis, result.sample()))

    if output_format is OutputFormat.json:
        from grpoflaw_cli.render.formats import report_json

        sys.stdout.write(report_json(report))
    elif output_format is OutputFormat.csv:
        from grpoflaw_cli.render.formats import iterations_csv

        sys.stdout.write(shown_data(iterations_csv(report)))
    else:
        from grpoflaw_cli.render.terminal import render_compare

        console = screen()
        console.print(render_compare(report, max_rows=max_rows, width=console.width))
        if html is not None:
            console.print(f"HTML report written to {html}")
