"""``grpoflaw advantages``: one row per rollout with each estimator's advantage."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from grpoflaw_cli.cli.display import note_skipped, report_skipped, shown_data, stderr
from grpoflaw_cli.cli.options import (
    DEFAULT_CONVENTIONS,
    FLAGS,
    NO_COLUMNS,
    ConventionsChoice,
    Estimators,
    LogColumns,
    Paths,
    SkipBadLines,
    SourceName,
    SourceOpt,
    chosen_estimators,
    column_options,
    conventions_options,
    output_path,
    read_log,
)
from grpoflaw_cli.cli.progress_bar import progress_shown
from grpoflaw_cli.formatting import count


@column_options
@conventions_options
def advantages(
    paths: Paths,
    output_arg: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="Output file: .parquet, .csv or .jsonl.", show_default=False
        ),
    ],
    columns: LogColumns = NO_COLUMNS,
    skip_bad_lines: SkipBadLines = False,
    estimators: Estimators = None,
    source: SourceOpt = SourceName.auto,
    conventions: ConventionsChoice = DEFAULT_CONVENTIONS,
) -> None:
    """Write one row per rollout, in input order, with an adv_<estimator> column per estimator."""
    from grpoflaw_cli.safe_output import check_output, frame_format

    to_stdout = output_arg == "-"  # "./-" is a file named "-"
    output = Path("-") if to_stdout else output_path(output_arg, FLAGS["output"])
    assert output is not None
    if not to_stdout:  # refuse a bad output before reading anything
        frame_format(output)
        check_output(output, paths)
    mapping = columns.mapping()
    names = chosen_estimators(estimators)
    settings = conventions.settings()
    from grpoflaw_cli import api

    with progress_shown():
        log = read_log(paths, mapping, skip_bad_lines, source, conventions.framework)
    report_skipped(log)
    kept, skipped = api.usable(log, names)
    note_skipped(skipped, explicit=True)  # the output file has no header to say it

    def write(to: Any) -> int:
        with progress_shown():
            return int(api.write_advantages(log, to, names, **settings))

    if to_stdout:
        sys.stdout.flush()
        if sys.stdout.isatty():  # a screen: the rows in memory, control characters shown
            import io

            rows = io.BytesIO()
            write(rows)
            sys.stdout.write(shown_data(rows.getvalue().decode("utf-8", "replace")))
        else:  # a pipe or a file: streamed as written
            write(sys.stdout.buffer)
        return
    written = write(output)
    stderr().print(
        f"wrote {count(written, 'rollout')} × {count(len(kept), 'estimator')} to {output}",
        highlight=False,
    )
