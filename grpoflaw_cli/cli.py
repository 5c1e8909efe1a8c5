"""The ``grpoflaw`` command line: parse options, call the library, render, map errors to exit codes.

No maths here. Exit codes: 0 ok, 1 a flag at or above ``--fail-on``, 2 bad input or
usage, 3 a bug in grpoflaw (re-run with ``--traceback``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback as tb
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from grpoflaw_cli import __version__
from grpoflaw_cli.errors import ExitCode, GrpoflawError, InputError, UsageError

if TYPE_CHECKING:
    from rich.console import Console  # imported where used: JSON/CSV output needs no Rich

app = typer.Typer(
    name="grpoflaw",
    help=(
        "See what your advantage estimator did to your reward signal: recompute GRPO, "
        "Dr. GRPO, RLOO, REINFORCE++, GPG, OPO, ReMax and GDPO advantages from rollout logs "
        "(verl, TRL, open-instruct, prime-rl, NeMo-RL, ART dumps; any JSONL, CSV or Parquet) with "
        "verl's, TRL's or OpenRLHF's numerics, and flag where GRPO's std normalisation erased "
        "reward magnitude."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class InspectFormat(str, Enum):
    table = "table"
    json = "json"


class FailOn(str, Enum):
    none = "none"
    info = "info"
    warning = "warning"
    error = "error"


# Options shared by every command that reads a log -------------------------------------
Paths = Annotated[
    list[str],
    typer.Argument(
        help="Log files, folders (every .jsonl/.csv/.parquet inside) or globs.", show_default=False
    ),
]
StepCol = Annotated[
    str | None, typer.Option("--step-col", help="Column holding the training step.")
]
GroupCol = Annotated[
    str | None, typer.Option("--group-col", help="Column identifying the prompt group.")
]
RewardCol = Annotated[
    list[str] | None,
    typer.Option("--reward-col", help="Reward column; repeat it to sum several components."),
]
RewardWeights = Annotated[
    str | None,
    typer.Option("--reward-weights", help="Comma-separated weights, one per --reward-col."),
]
GroupSize = Annotated[
    int | None,
    typer.Option(
        "--group-size",
        min=1,
        help="Groups are consecutive blocks of N rows within a step (as TRL writes them).",
    ),
]
LengthCol = Annotated[
    str | None, typer.Option("--length-col", help="Response length in tokens (token weighting).")
]
TaskCol = Annotated[str | None, typer.Option("--task-col", help="Task / data-source column.")]
BaselineCol = Annotated[
    str | None,
    typer.Option("--baseline-col", help="The greedy rollout's reward per rollout (ReMax)."),
]
ComponentCol = Annotated[
    list[str] | None,
    typer.Option(
        "--component-col",
        help="A reward component the reward already includes (repeat it): GDPO normalises "
        "each, the aliasing check compares them.",
    ),
]
Estimators = Annotated[
    str | None,
    typer.Option(
        "--estimators",
        help="Comma-separated estimators, or 'all' (default: the standard set, plus the "
        "trainer's own). See `grpoflaw estimators`.",
    ),
]
StdDdof = Annotated[
    int | None,
    typer.Option(
        "--std-ddof",
        min=0,
        max=1,
        help="Std denominator n-ddof: 1 unbiased (verl, TRL, OpenRLHF; the default), "
        "0 population (the paper).",
        show_default=False,
    ),
]
Eps = Annotated[
    float | None,
    typer.Option(
        "--eps",
        min=0.0,
        help="Added to the std before dividing [default: the framework's: verl 1e-6, "
        "TRL 1e-4, OpenRLHF 1e-9].",
        show_default=False,
    ),
]


class FrameworkName(str, Enum):
    verl = "verl"
    trl = "trl"
    openrlhf = "openrlhf"


FrameworkOpt = Annotated[
    FrameworkName | None,
    typer.Option(
        "--framework",
        help="Whose conventions to reproduce: epsilon, Bessel rounding, one-rollout groups, "
        "batch whitening [default: the one the log's source implies, else verl].",
        show_default=False,
    ),
]


Clip = Annotated[
    str | None,
    typer.Option(
        "--clip",
        help="Clamp shaped values to LO,HI before batch whitening (OpenRLHF's "
        "reward.clip_range; default -10,10 under --framework openrlhf), or 'none'.",
        show_default=False,
    ),
]


def _parse_clip(text: str | None) -> Any:
    """``--clip`` → (lo, hi), None for 'none', or "default" when not given."""
    if text is None:
        return "default"
    if text.strip().lower() == "none":
        return None
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(
            f"--clip '{text}' is not LO,HI", hint="e.g. --clip -10,10, or --clip none"
        ) from None
    return (lo, hi)


class SourceName(str, Enum):
    auto = "auto"
    generic = "generic"
    verl = "verl"
    trl = "trl"
    open_instruct = "open-instruct"
    prime_rl = "prime-rl"
    art = "art"
    nemo_rl = "nemo-rl"


SourceOpt = Annotated[
    SourceName,
    typer.Option(
        "--source",
        help="Which trainer wrote the log (its columns, grouping and conventions); auto "
        "recognises it.",
    ),
]
SkipBadLines = Annotated[
    bool,
    typer.Option(
        "--skip-bad-lines",
        help="Skip malformed JSONL lines (e.g. a truncated last line) and report how many.",
    ),
]
Traceback = Annotated[
    bool, typer.Option("--traceback", help="Show the Python traceback on errors (for bug reports).")
]


def _stderr() -> Console:
    """Messages on stderr; never hard-wrapped, so each stays one greppable line. Markup
    only where a call asks for it, around :func:`_plain` user text. Control characters
    in the strings printed (a path's newline or ESC) show as escapes: one line each."""
    from grpoflaw_cli.render.console import SafeConsole

    return SafeConsole(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _screen() -> Console:
    """The console for the rendered screens on stdout. Markup off: the renderables style
    with Text, and a log's own text (a prompt holding "[/INST]", a column named "[x]")
    must print as written, not be read as markup (nor as escape sequences: the renderers
    and :class:`~grpoflaw_cli.render.console.SafeConsole` show control characters)."""
    from grpoflaw_cli.render.console import SafeConsole

    return SafeConsole(markup=False)


def _plain(text: object) -> str:
    """User text (paths, values, messages quoting them) made safe inside a markup line:
    markup escaped, control characters shown as escapes."""
    from rich.markup import escape

    from grpoflaw_cli.textsafe import printable

    return escape(printable(str(text)))


def _shown_data(text: str) -> str:
    """Data text (CSV) for stdout: as it is when piped or redirected; on a terminal, as
    ``ls`` shows file names, the values' control characters written as escapes."""
    from grpoflaw_cli.textsafe import printable_csv

    return printable_csv(text) if sys.stdout.isatty() else text


FLAGS = {
    "step_col": "--step-col",
    "group_col": "--group-col",
    "reward_cols": "--reward-col",
    "reward_weights": "--reward-weights",
    "group_size": "--group-size",
    "length_col": "--length-col",
    "task_col": "--task-col",
    "baseline_col": "--baseline-col",
    "component_cols": "--component-col",
    "skip_bad_lines": "--skip-bad-lines",
    "source": "--source",
    "framework": "--framework",
    "estimators": "--estimators",
    "ddof": "--std-ddof",
    "eps": "--eps",
    "clip": "--clip",
    "format": "--format",
}
"""How the CLI spells each setting a library message names (see :func:`errors.option`)."""


def _fail(err: GrpoflawError) -> NoReturn:
    err = err.spelled(FLAGS)
    console = _stderr()
    console.print(
        f"[bold red]Error:[/bold red] {_plain(err.message)}", markup=True, highlight=False
    )
    if err.hint:
        console.print(f"[dim]Hint:[/dim] {_plain(err.hint)}", markup=True, highlight=False)
    raise typer.Exit(int(err.exit_code))


def _guard(show_traceback: bool, work: Callable[[], T]) -> T:
    """Run ``work``; typed errors become messages and exit codes, bugs exit 3."""
    try:
        return work()
    except typer.Exit:
        raise
    except GrpoflawError as err:
        if show_traceback:
            _print_traceback()
        _fail(err)
    except KeyboardInterrupt:
        _stderr().print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug: say so, do not blame the input
        _internal_error(exc, show_traceback)
    except BaseException as exc:  # a Rust panic inside Polars is a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        _internal_error(exc, show_traceback)
    raise AssertionError("unreachable")  # pragma: no cover


def _print_traceback() -> None:
    """The traceback of the exception being handled, on stderr, its control characters
    (those of the messages quoting a path or a value) shown as escapes."""
    from grpoflaw_cli.textsafe import printable_lines

    sys.stderr.write(printable_lines(tb.format_exc()))


def _internal_error(exc: BaseException, show_traceback: bool) -> NoReturn:
    """A bug (ours or a library's): say so with exit 3, never blame the input."""
    if show_traceback:
        _print_traceback()
    first_line = (str(exc).strip().splitlines() or [""])[0]
    console = _stderr()
    console.print(
        f"[bold red]Internal error:[/bold red] {type(exc).__name__}: {_plain(first_line)}",
        markup=True,
        highlight=False,
    )
    console.print("This is a bug in grpoflaw. Re-run with --traceback and report it.")
    raise typer.Exit(int(ExitCode.INTERNAL)) from None


def _column_map(
    step_col: str | None,
    group_col: str | None,
    reward_col: list[str] | None,
    reward_weights: str | None,
    group_size: int | None,
    length_col: str | None,
    task_col: str | None,
    baseline_col: str | None,
    component_col: list[str] | None,
) -> Any:
    from grpoflaw_cli.ingest import ColumnMap

    weights = None
    if reward_weights is not None:
        try:
            weights = tuple(float(w) for w in reward_weights.split(",") if w.strip())
        except ValueError:
            raise UsageError(
                f"--reward-weights '{reward_weights}' is not a comma-separated list of numbers",
                hint="e.g. --reward-weights 1,0.5,2",
            ) from None
    return ColumnMap(
        step=step_col,
        group=group_col,
        reward=tuple(reward_col or ()),
        reward_weights=weights,
        group_size=group_size,
        length=length_col,
        task=task_col,
        baseline=baseline_col,
        components=tuple(component_col or ()),
    )


def _output_path(raw: str | None, flag: str) -> Path | None:
    """An output option's path as typed: one ending in '/' names a folder, and is refused
    (a path would drop the '/')."""
    if raw is None:
        return None
    if raw.endswith(("/", os.sep)) and raw.strip("/"):
        raise UsageError(
            f"cannot write '{raw}': it names a folder (it ends with '/')",
            hint=f"give {flag} a file name",
        )
    return Path(raw)


def _estimators(names: str | None) -> list[str] | None:
    """``--estimators``, checked before any file is read; ``None`` if not given (the
    log then decides: :func:`grpoflaw_cli.api.log_defaults`)."""
    from grpoflaw_cli.estimators import resolve

    if names is None:
        return None
    try:
        return resolve(names)
    except KeyError as err:
        raise UsageError(str(err.args[0]), hint="see `grpoflaw estimators`") from None


def _framework(framework: FrameworkName | None) -> str | None:
    return framework.value if framework is not None else None


def _report_skipped(log: Any) -> None:
    """Say on stderr how many malformed lines --skip-bad-lines skipped, and where, and
    what else was read in a way the user may not expect (a column named twice)."""
    for warning in log.warnings:
        _stderr().print(f"Warning: {warning}", markup=False, highlight=False)
    for path, lines in log.skipped_lines:
        shown = ", ".join(map(str, lines[:10])) + (" …" if len(lines) > 10 else "")
        _stderr().print(
            f"[yellow]Skipped {len(lines)} malformed line(s)[/yellow] in '{_plain(path)}': "
            f"line {shown}",
            markup=True,
            highlight=False,
        )


PROGRESS_MIN_BYTES = 20_000_000
"""Logs at least this large get a progress indicator on stderr (when it is a terminal)."""


@contextmanager
def _reading(log: Any, enabled: bool = True) -> Iterator[None]:
    """A transient spinner with elapsed time on stderr while a large log is read.

    Only when stderr is a terminal and the log is large; never on stdout. Polars releases
    the GIL while it reads, so Rich's refresh thread keeps the display alive.
    """
    files = log.detection.files
    size = sum(f.stat().st_size for f in files if f.exists())
    if not (enabled and sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES):
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    label = f"reading {len(files):,} file{'s' * (len(files) > 1)} ({size / 1e6:,.0f} MB)"
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True, markup=False),
        transient=True,
    ) as progress:
        progress.add_task(label, total=None)
        yield


def _read(
    paths: Sequence[str | Path], mapping: Any, skip_bad_lines: bool, source: Any, framework: Any
) -> Any:
    """Read the log as the flags say."""
    from grpoflaw_cli import ingest

    return ingest.load(
        list(paths),
        mapping,
        skip_bad_lines=skip_bad_lines,
        source=source.value,
        nan_rewards=ingest.missing_rewards(framework),
    )


def _load(paths: list[str], mapping: Any, skip_bad_lines: bool, source: Any, framework: Any) -> Any:
    """Read the log as the flags say, and report skipped lines."""
    log = _read(paths, mapping, skip_bad_lines, source, framework)
    _report_skipped(log)
    return log


def _note_skipped(skipped: dict[str, str], explicit: bool) -> None:
    """Estimators the user named but the log cannot feed: one line each on stderr."""
    if explicit:
        for name, why in skipped.items():
            _stderr().print(
                f"[yellow]Skipped estimator {_plain(name)}:[/yellow] {_plain(why)}", markup=True
            )


# Commands ---------------------------------------------------------------------------------


@app.command()
def compare(
    paths: Paths,
    step_col: StepCol = None,
    group_col: GroupCol = None,
    reward_col: RewardCol = None,
    reward_weights: RewardWeights = None,
    group_size: GroupSize = None,
    length_col: LengthCol = None,
    task_col: TaskCol = None,
    baseline_col: BaselineCol = None,
    component_col: ComponentCol = None,
    skip_bad_lines: SkipBadLines = False,
    estimators: Estimators = None,
    source: SourceOpt = SourceName.auto,
    framework: FrameworkOpt = None,
    std_ddof: StdDdof = None,
    eps: Eps = None,
    clip: Clip = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="table (Rich), json or csv (per iteration).")
    ] = OutputFormat.table,
    html_out: Annotated[
        str | None,
        typer.Option("--html", help="Also write a self-contained HTML report here."),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 if a flag at or above this severity is raised."),
    ] = FailOn.none,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1, help="Iterations shown in the terminal table.")
    ] = 30,
    collapse_ratio: Annotated[
        float, typer.Option("--collapse-ratio", help="collapsed_pair: spread ratio that counts.")
    ] = 2.0,
    magnitude_ratio: Annotated[
        float,
        typer.Option("--magnitude-ratio", help="magnitude_collapse: spread ratio vs typical."),
    ] = 3.0,
    noise_ratio: Annotated[
        float,
        typer.Option("--noise-ratio", help="noise_amplification: spread below this × typical."),
    ] = 0.05,
    zero_variance_warning: Annotated[
        float, typer.Option("--zero-variance-warning", help="zero_variance: share that warns.")
    ] = 0.5,
    show_traceback: Traceback = False,
) -> None:
    """Recompute advantages under every estimator side by side and flag magnitude collapse."""

    def work() -> int:
        from grpoflaw_cli.diagnostics import Severity, Thresholds

        html = _output_path(html_out, "--html")
        mapping = _column_map(
            step_col,
            group_col,
            reward_col,
            reward_weights,
            group_size,
            length_col,
            task_col,
            baseline_col,
            component_col,
        )
        names = _estimators(estimators)
        try:
            thresholds = Thresholds(
                collapse_ratio=collapse_ratio,
                magnitude_ratio=magnitude_ratio,
                noise_ratio=noise_ratio,
                zero_variance_warning=zero_variance_warning,
            )
        except ValueError as err:
            raise UsageError(str(err)) from None
        from grpoflaw_cli import api

        if html is not None:
            from grpoflaw_cli.output import check_output

            check_output(html, paths)
        log = _load(paths, mapping, skip_bad_lines, source, framework)
        reading = partial(_reading, enabled=output_format is OutputFormat.table)
        result = api.compare(
            log,
            names,
            framework=_framework(framework),
            ddof=std_ddof,
            eps=eps,
            clip=_parse_clip(clip),
            thresholds=thresholds,
            reading=reading,
        )
        _note_skipped(result.skipped, explicit=estimators is not None)
        report = result.report()
        flags = result.flags

        if html is not None:
            from grpoflaw_cli.output import write_text_atomic
            from grpoflaw_cli.render.html import render_html

            write_text_atomic(html, render_html(report, result.analysis, result.sample()))

        if output_format is OutputFormat.json:
            sys.stdout.write(json.dumps(report, indent=2) + "\n")
        elif output_format is OutputFormat.csv:
            sys.stdout.write(_shown_data(_iterations_csv(report)))
        else:
            from grpoflaw_cli.render.terminal import render_compare

            console = _screen()
            console.print(render_compare(report, max_rows=max_rows, width=console.width))
            if html is not None:
                console.print(f"HTML report written to {html}")

        if fail_on is not FailOn.none:
            bar = Severity(fail_on.value).rank
            if any(f.severity.rank >= bar for f in flags):
                return int(ExitCode.FLAGS)
        return int(ExitCode.OK)

    code = _guard(show_traceback, work)
    if code:
        raise typer.Exit(code)


def _iterations_csv(report: dict[str, Any]) -> str:
    import polars as pl

    rows = [{**r, "flags": ";".join(r["flags"])} for r in report["iterations"]]
    # every row decides a column's type (a scale that is None for the first 100 iterations)
    return pl.DataFrame(rows, infer_schema_length=None).write_csv()


@app.command()
def advantages(
    paths: Paths,
    output_arg: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="Output file: .parquet, .csv or .jsonl.", show_default=False
        ),
    ],
    step_col: StepCol = None,
    group_col: GroupCol = None,
    reward_col: RewardCol = None,
    reward_weights: RewardWeights = None,
    group_size: GroupSize = None,
    length_col: LengthCol = None,
    task_col: TaskCol = None,
    baseline_col: BaselineCol = None,
    component_col: ComponentCol = None,
    skip_bad_lines: SkipBadLines = False,
    estimators: Estimators = None,
    source: SourceOpt = SourceName.auto,
    framework: FrameworkOpt = None,
    std_ddof: StdDdof = None,
    eps: Eps = None,
    clip: Clip = None,
    show_traceback: Traceback = False,
) -> None:
    """Write one row per rollout, in input order, with an adv_<estimator> column per estimator."""

    def work() -> None:
        from grpoflaw_cli.output import check_output, frame_format

        to_stdout = output_arg == "-"  # "./-" is a file named "-"
        output = Path("-") if to_stdout else _output_path(output_arg, "-o")
        assert output is not None
        if not to_stdout:  # refuse a bad output before reading anything
            frame_format(output)
            check_output(output, paths)
        mapping = _column_map(
            step_col,
            group_col,
            reward_col,
            reward_weights,
            group_size,
            length_col,
            task_col,
            baseline_col,
            component_col,
        )
        names = _estimators(estimators)
        from grpoflaw_cli import api

        log = _load(paths, mapping, skip_bad_lines, source, framework)
        kept, skipped = api.usable(log, names)
        _note_skipped(skipped, explicit=True)  # the output file has no header to say it
        settings = {
            "framework": _framework(framework),
            "ddof": std_ddof,
            "eps": eps,
            "clip": _parse_clip(clip),
            "reading": _reading,
        }
        if to_stdout:
            sys.stdout.flush()
            if sys.stdout.isatty():  # a screen: the rows in memory, control characters shown
                import io

                screen = io.BytesIO()
                api.write_advantages(log, screen, names, **settings)
                sys.stdout.write(_shown_data(screen.getvalue().decode("utf-8", "replace")))
            else:  # a pipe or a file: streamed as written
                api.write_advantages(log, sys.stdout.buffer, names, **settings)
            return
        rows = api.write_advantages(log, output, names, **settings)
        _stderr().print(
            f"wrote {rows:,} rollouts × {len(kept)} estimators to {output}", highlight=False
        )

    _guard(show_traceback, work)


@app.command()
def inspect(
    paths: Paths,
    step_col: StepCol = None,
    group_col: GroupCol = None,
    reward_col: RewardCol = None,
    reward_weights: RewardWeights = None,
    group_size: GroupSize = None,
    length_col: LengthCol = None,
    task_col: TaskCol = None,
    baseline_col: BaselineCol = None,
    component_col: ComponentCol = None,
    skip_bad_lines: SkipBadLines = False,
    source: SourceOpt = SourceName.auto,
    output_format: Annotated[
        InspectFormat, typer.Option("--format", help="table or json.")
    ] = InspectFormat.table,
    show_traceback: Traceback = False,
) -> None:
    """Show what grpoflaw detected in a log (columns, rows, iterations, groups) and why."""

    def work() -> None:

        from grpoflaw_cli import ingest

        mapping = _column_map(
            step_col,
            group_col,
            reward_col,
            reward_weights,
            group_size,
            length_col,
            task_col,
            baseline_col,
            component_col,
        )
        log = ingest.load(paths, mapping, skip_bad_lines=skip_bad_lines, source=source.value)
        _report_skipped(log)
        det = log.detection
        facts: dict[str, Any] = {
            "source": det.source
            + (
                f" ({det.source} conventions, {det.framework}'s rules where it has none: "
                f"std ddof={det.ddof}, eps={det.eps:g})"
                if det.eps is not None and det.ddof is not None
                else f" ({det.framework} conventions)"
            ),
            "files": len(det.files),
            "formats": ", ".join(sorted(set(det.formats))),
            "columns": ", ".join(det.columns),
        }
        with _reading(log):
            facts.update(ingest.facts(log))
        if output_format is InspectFormat.json:
            payload = {
                "facts": facts,
                "reasons": list(det.reasons),
                "files": [str(f) for f in det.files],
            }
            sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        else:
            from grpoflaw_cli.render.inspect import render_inspect

            _screen().print(render_inspect({"facts": facts, "reasons": det.reasons}))

    _guard(show_traceback, work)


@app.command()
def watch(
    folder: Annotated[
        Path, typer.Argument(help="The trainer's rollout dump folder.", show_default=False)
    ],
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.1, max=3600, help="Seconds between looks at the folder."),
    ] = 2.0,
    step_col: StepCol = None,
    group_col: GroupCol = None,
    reward_col: RewardCol = None,
    reward_weights: RewardWeights = None,
    group_size: GroupSize = None,
    length_col: LengthCol = None,
    task_col: TaskCol = None,
    baseline_col: BaselineCol = None,
    component_col: ComponentCol = None,
    source: SourceOpt = SourceName.auto,
    estimators: Estimators = None,
    framework: FrameworkOpt = None,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1, help="Latest iterations shown.")
    ] = 15,
    refreshes: Annotated[
        int | None,
        typer.Option(
            "--refreshes", min=1, help="Stop after this many looks at the folder (default: never)."
        ),
    ] = None,
    show_traceback: Traceback = False,
) -> None:
    """Follow a rollout dump folder during training: the table and flags refresh as step
    files land (Ctrl-C to stop)."""

    def work() -> None:
        from rich.live import Live

        from grpoflaw_cli.ingest import file_format
        from grpoflaw_cli.render.terminal import render_watch

        if not math.isfinite(interval):
            raise UsageError(f"--interval must be a number of seconds, got {interval}")
        if not folder.is_dir():
            raise InputError(f"'{folder}' is not a folder", hint="watch a rollout dump folder")
        mapping = _column_map(
            step_col,
            group_col,
            reward_col,
            reward_weights,
            group_size,
            length_col,
            task_col,
            baseline_col,
            component_col,
        )
        names = _estimators(estimators)
        console = _screen()
        seen: tuple[tuple[str, int, int], ...] | None = None
        last: dict[str, Any] | None = None
        done = 0
        with Live(console=console, auto_refresh=False) as live:
            try:
                while refreshes is None or done < refreshes:
                    files = _listing(folder, file_format)
                    if files is not None and files != seen:
                        seen = files
                        report, problem = _look(files, folder, mapping, source, framework, names)
                        last = report or last  # a failed look keeps the last good view
                        view = render_watch(
                            last, folder, max_rows=max_rows, width=console.width, error=problem
                        )
                        live.update(view, refresh=True)
                    done += 1
                    if refreshes is not None and done >= refreshes:
                        break
                    time.sleep(interval)
            except KeyboardInterrupt:  # Ctrl-C is the normal way out of watch
                pass
        if not console.is_terminal:  # Live leaves its last line open when piped
            console.line()
        _stderr().print("stopped watching")

    _guard(show_traceback, work)


def _listing(
    folder: Path, file_format: Callable[[Path], Any]
) -> tuple[tuple[str, int, int], ...] | None:
    """The watched files with size and mtime, or None when the folder changed under us
    (a trainer renaming a temp file): look again next time. A subfolder that cannot be
    read is listed with size -1, so that the look names it (its files would be missing)."""
    found: list[tuple[str, int, int]] = []

    def unreadable(err: OSError) -> None:
        if err.filename is not None and os.path.exists(err.filename):  # not a rename
            found.append((str(err.filename), UNREADABLE, 0))

    try:
        for root, _, names in os.walk(folder, onerror=unreadable):
            for name in names:
                path = Path(root, name)
                if file_format(path) and path.is_file():
                    stat = path.stat()
                    found.append((str(path), stat.st_size, stat.st_mtime_ns))
    except OSError:
        return None
    return tuple(sorted(found))


UNREADABLE = -1
"""The size :func:`_listing` gives a subfolder it cannot read."""


def _look(
    files: tuple[tuple[str, int, int], ...],
    folder: Path,
    mapping: Any,
    source: Any,
    framework: FrameworkName | None,
    names: list[str] | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """One look at the watched files: the report (None if nothing can be read yet) and
    why some or all of them could not be read (None if all could).

    Files still being written: empty ones are left out, a half-written last line is
    skipped, and a file that cannot be read yet (a Parquet file before its footer) is
    left out and named until a later look can read it.
    """
    from grpoflaw_cli import api

    def report(paths: list[Path]) -> dict[str, Any]:
        # A file still being written ends mid-line: skip that line, silently (the
        # screen is the live view's).
        log = _read(paths, mapping, True, source, framework)
        return api.compare(log, names, framework=_framework(framework)).report()

    locked = [f for f, size, _ in files if size == UNREADABLE]
    files = tuple(entry for entry in files if entry[1] != UNREADABLE)
    if locked:  # its files are not in the view: say so on every look
        shown = ", ".join(f"'{f}'" for f in locked)
        why = f"cannot read the folder {shown}: its files are left out"
        if not files:
            return None, why
        view, problem = _look(files, folder, mapping, source, framework, names)
        return view, why + (f"; {problem}" if problem else "")
    paths = [Path(f) for f, size, _ in files if size > 0]
    if files and not paths:
        return None, f"{len(files)} empty file(s) so far"
    try:
        return report(paths or [folder]), None
    except (GrpoflawError, OSError) as err:
        problem = _watch_message(err)
        if len(paths) < 2:
            return None, problem
    # Error path only: find the files that cannot be read alone, and show the others.
    readable = []
    for path in paths:
        try:
            report([path])
            readable.append(path)
        except (GrpoflawError, OSError):
            pass
    left_out = ", ".join(p.name for p in paths if p not in readable)
    if not readable or len(readable) == len(paths):
        return None, problem
    try:
        return report(readable), f"left out {left_out} for now: {problem}"
    except (GrpoflawError, OSError):
        return None, problem


def _watch_message(err: Exception) -> str:
    """Why this look failed, without hints for flags that watch does not have."""
    if isinstance(err, GrpoflawError):
        hint = err.hint if err.hint and "--skip-bad-lines" not in err.hint else None
        return err.message + (f" ({hint})" if hint else "")
    return f"{getattr(err, 'filename', None) or ''} changed while being read; looking again".strip()


class SimSetting(str, Enum):
    multiscale = "multiscale"
    binary = "binary"


@app.command()
def simulate(
    setting: Annotated[
        SimSetting,
        typer.Option(
            "--setting",
            help="multiscale: 4 tasks, 8 summed reward sources, scales 0.1/1/10/50; "
            "binary: one 0/1 verifier per rollout.",
        ),
    ] = SimSetting.multiscale,
    from_log: Annotated[
        list[str] | None,
        typer.Option("--from-log", help="Fit the tasks to a log's reward shapes (per task)."),
    ] = None,
    estimators: Estimators = None,
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Independent runs.")] = 30,
    iterations: Annotated[
        int, typer.Option("--iterations", min=1, help="Policy updates per run.")
    ] = 150,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Makes the experiment reproducible.")
    ] = 0,
    output_format: Annotated[
        InspectFormat, typer.Option("--format", help="table or json.")
    ] = InspectFormat.table,
    html_out: Annotated[
        str | None, typer.Option("--html", help="Also write the learning curves as HTML.")
    ] = None,
    show_traceback: Traceback = False,
) -> None:
    """Does GRPO's normalisation cost learning on your kind of rewards? A seeded
    multi-task policy-gradient experiment, every estimator on the same budget."""

    def work() -> None:
        from grpoflaw_cli import simulate as sim
        from grpoflaw_cli.estimators import applicable, defaults

        html = _output_path(html_out, "--html")
        names, cannot = applicable(_estimators(estimators) or defaults(), set())
        if cannot and estimators is not None and estimators.strip() == "all":
            _note_skipped(  # "all" means all that can run here
                {n: f"{why}: simulated rollouts have rewards only" for n, why in cannot.items()},
                explicit=True,
            )
        elif estimators is not None and cannot:
            raise UsageError(
                "simulate cannot run "
                + "; ".join(f"{n} (it {why})" for n, why in cannot.items())
                + ": its rollouts have rewards only",
                hint="leave it out of --estimators",
            )
        names = ["grpo", *(n for n in names if n != "grpo")]  # GRPO is the reference
        if html is not None:
            from grpoflaw_cli.output import check_output

            check_output(html, from_log or ())
        base = sim.Setting(seeds=seeds, iterations=iterations, seed=seed)
        if setting is SimSetting.binary:
            base = sim.Setting(
                seeds=seeds,
                iterations=iterations,
                seed=seed,
                binary=True,
                scales=(1.0,) * 4,
                sources=1,
            )
        if from_log:
            from grpoflaw_cli import api

            if setting is SimSetting.binary:
                raise UsageError(
                    "--from-log takes the reward shapes from the log, --setting binary "
                    "replaces them with a 0/1 verifier",
                    hint="drop --setting binary: a log whose rewards are all 0/1 is "
                    "simulated as a verifier",
                )
            groups = api.compare(api.load(from_log), ["grpo"]).groups
            try:
                base = sim.setting_from_log(groups, base)
            except ValueError as err:
                raise InputError(
                    f"'{', '.join(from_log)}': {err}",
                    hint="see how the log is grouped with `grpoflaw inspect`",
                ) from None
        outcome = sim.run(base, names)
        if html is not None:
            from grpoflaw_cli.output import write_text_atomic
            from grpoflaw_cli.render.html import render_simulation

            write_text_atomic(html, render_simulation(outcome))
        if output_format is InspectFormat.json:
            payload = {
                "setting": {k: v for k, v in vars(outcome.setting).items()},
                "summary": outcome.summary.to_dicts(),
                "curves": {k: v.mean(0).tolist() for k, v in outcome.curves.items()},
            }
            sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        else:
            from grpoflaw_cli.render.terminal import render_simulation as show

            _screen().print(show(outcome))

    _guard(show_traceback, work)


@app.command("estimators")
def list_estimators() -> None:
    """List the estimators, what each does to reward magnitude, and their formulas."""
    from rich.table import Table
    from rich.text import Text

    from grpoflaw_cli.estimators import REGISTRY

    table = Table(header_style="bold")
    table.add_column("name")
    table.add_column("estimator")
    table.add_column("keeps magnitude")
    table.add_column("definition")
    for est in REGISTRY.values():
        summary = (est.fn.__doc__ or "").strip().split("\n\n")[0]
        doc = Text(" ".join(summary.split()).replace("``", ""))
        if est.row_variable is not None:
            doc.append(
                " (a second pass over the rows: computed on request, or on the logs of a "
                "trainer whose default it is)",
                style="dim",
            )
        elif not est.by_default:
            doc.append(" (a framework variant: on request)", style="dim")
        table.add_row(est.name, est.title, est.keeps, doc)
    _screen().print(table)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grpoflaw {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """grpoflaw: what your advantage estimator did to your reward signal."""
    # A log's values may nest as deep as Polars reads them (1,024 levels); walking their
    # types (a hash, a comparison) takes a Python frame or two per level.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6_000))


def main() -> None:
    """Console-script entry point: the standard streams made safe (:mod:`grpoflaw_cli.stdio`),
    and what is left in standard output's buffer written before the exit code is decided."""
    from grpoflaw_cli import stdio

    stdio.prepare()
    code: Any = 0
    try:
        app()
    except SystemExit as done:
        code = done.code
    try:
        _guard(False, stdio.flush)
    except typer.Exit as failed:
        code = failed.exit_code
    sys.exit(code)
