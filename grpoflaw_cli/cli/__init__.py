"""The ``grpoflaw`` command line: parse options, call the library, render, map errors to
exit codes. No maths here.

:mod:`~grpoflaw_cli.cli.app` holds the Typer app and the error handling,
:mod:`~grpoflaw_cli.cli.options` the options the commands share, and each command has
its module (``compare``, ``advantages``, ``inspect``, ``watch``, ``simulate``,
``estimators``).
"""

import os
import sys

# Polars allocates through its own jemalloc, whose background thread returns the pages a
# finished query freed after Polars' setting (``dirty_decay_ms:500,muzzy_decay_ms:1000``,
# put in the environment when Polars is imported): the aggregation's memory stayed
# resident under NumPy's arrays (another allocator) through the analysis (peak RSS ~840 MB
# for ~600 MB live on a 10M-row log of 9,766 steps). Returned after 50 ms by that same
# thread, it costs no measurable time and takes the peak to ~540 MB (200 ms: 550-660 MB,
# varying with the load; 0, on every free: 0.4 s slower). Not for ``advantages``, whose
# writing allocates and frees as it goes: 0.1 s slower (of 3.9) for 110 MB less.
# Polars reads the variable when first imported, so it is set before; a user's own setting
# wins, but not the one Polars leaves in the environment of a Python process that ran
# this one.
_JEMALLOC = "_RJEM_MALLOC_CONF"
_COMMAND = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
if _COMMAND != "advantages" and os.environ.get(_JEMALLOC) in (
    None,
    "",
    "dirty_decay_ms:500,muzzy_decay_ms:1000",
):
    os.environ[_JEMALLOC] = "dirty_decay_ms:50,muzzy_decay_ms:0"

from grpoflaw_cli.cli.app import app, main  # noqa: E402 (after the variable)
from grpoflaw_cli.cli.options import FLAGS, SourceName  # noqa: E402

__all__ = ["FLAGS", "SourceName", "app", "main"]
