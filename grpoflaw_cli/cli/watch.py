"""``grpoflaw watch``: the table and flags of a dump folder, or of one JSONL file a
logger appends to, refreshed as rollouts land."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from grpoflaw_cli.cli.display import screen, stderr
from grpoflaw_cli.cli.options import (
    DEFAULT_CONVENTIONS,
    NO_COLUMNS,
    ConventionsChoice,
    Estimators,
    LogColumns,
    SourceName,
    SourceOpt,
    chosen_estimators,
    column_options,
    conventions_options,
    output_options,
)
from grpoflaw_cli.errors import UsageError


@column_options
@conventions_options
@output_options(max_rows="Latest iterations shown.")
def watch(
    path: Annotated[
        Path,
        typer.Argument(
            help="The trainer's rollout dump folder (or an s3://, gs://, az://, hf:// prefix), "
            "or one JSONL file a logger appends to.",
            show_default=False,
        ),
    ],
    interval: Annotated[
        float,
        typer.Option(
            "--interval", min=0.1, max=3600, help="Seconds between looks at the folder or file."
        ),
    ] = 2.0,
    columns: LogColumns = NO_COLUMNS,
    source: SourceOpt = SourceName.auto,
    estimators: Estimators = None,
    conventions: ConventionsChoice = DEFAULT_CONVENTIONS,
    max_rows: int = 15,
    refreshes: Annotated[
        int | None,
        typer.Option("--refreshes", min=1, help="Stop after this many looks (default: never)."),
    ] = None,
) -> None:
    """Follow a rollout dump during training: the table and flags refresh as step files
    land in the folder, or as rollouts are appended to the file (its newest step is held
    back until the next begins). Ctrl-C to stop."""
    from rich.live import Live

    from grpoflaw_cli import watch as watching
    from grpoflaw_cli.render.terminal import render_watch

    if not math.isfinite(interval):
        raise UsageError(f"--interval must be a number of seconds, got {interval}")
    watching.check_watched(path)
    mapping = columns.mapping()
    names = chosen_estimators(estimators)
    settings = conventions.settings()
    looks = watching.follow(
        path,
        mapping,
        estimators=names,
        source=source.value,
        interval=interval,
        refreshes=refreshes,
        **settings,
    )
    console = screen()
    with Live(console=console, auto_refresh=False) as live:
        try:
            for report, problem in looks:
                view = render_watch(
                    report, path, max_rows=max_rows, width=console.width, error=problem
                )
                live.update(view, refresh=True)
        except KeyboardInterrupt:  # Ctrl-C is the normal way out of watch
            pass
    if not console.is_terminal:  # Live leaves its last line open when piped
        console.line()
    stderr().print("stopped watching")
