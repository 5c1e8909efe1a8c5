"""``grpoflaw inspect``: what was detected in a log, and why."""

from __future__ import annotations

import sys

from grpoflaw_cli.cli.display import report_skipped, screen
from grpoflaw_cli.cli.options import (
    NO_COLUMNS,
    LogColumns,
    Paths,
    SkipBadLines,
    SourceName,
    SourceOpt,
    TableOrJson,
    column_options,
    output_options,
    read_log,
)
from grpoflaw_cli.cli.progress_bar import progress_shown


@column_options
@output_options()
def inspect(
    paths: Paths,
    columns: LogColumns = NO_COLUMNS,
    skip_bad_lines: SkipBadLines = False,
    source: SourceOpt = SourceName.auto,
    output_format: TableOrJson = TableOrJson.table,
) -> None:
    """Show what grpoflaw detected in a log (columns, rows, iterations, groups) and why."""
    from grpoflaw_cli import api
    from grpoflaw_cli.ingest import NoRewardColumn

    try:
        with progress_shown():
            log = read_log(paths, columns.mapping(), skip_bad_lines, source)
    except NoRewardColumn as missing:  # the discovery command: show what the log holds
        found = api.describe_columns(paths, missing, skip_bad_lines=skip_bad_lines)
    else:
        report_skipped(log)
        with progress_shown():
            found = api.describe(log)
    if output_format is TableOrJson.json:
        from grpoflaw_cli.render.formats import json_text

        sys.stdout.write(json_text(found, default=str))
    else:
        from grpoflaw_cli.render.inspect import render_inspect

        screen().print(render_inspect({"facts": found["facts"], "reasons": found["reasons"]}))
