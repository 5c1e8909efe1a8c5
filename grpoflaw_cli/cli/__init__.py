"""The ``grpoflaw`` command line: parse options, call the library, render, map errors to
exit codes. No maths here.

:mod:`~grpoflaw_cli.cli.app` holds the Typer app and the error handling,
:mod:`~grpoflaw_cli.cli.options` the options the commands share, and each command has
its module (``compare``, ``advantages``, ``inspect``, ``watch``, ``simulate``,
``estimators``).
"""

import os

# Polars allocates through its own jemalloc, which keeps the pages a finished query freed
# for ten seconds (with a background thread that returns them to the system): the
# aggregation's memory stayed resident under NumPy's arrays for the rest of a run (peak
# RSS ~840 MB for ~600 MB live on a 10M-row log of 9,766 steps). Returning them after
# 50 ms, by that same thread, costs no measurable time and takes the peak to ~540 MB
# (200 ms: 550-660 MB, varying with the load; 0, on every free: 0.4 s slower).
# Read when Polars is first imported, so set before it is; a user's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:50,muzzy_decay_ms:0")

from grpoflaw_cli.cli.app import app, main
from grpoflaw_cli.cli.options import FLAGS, SourceName

__all__ = ["FLAGS", "SourceName", "app", "main"]
