"""The ``grpoflaw`` command line: parse options, call the library, render, map errors to
exit codes. No maths here.

:mod:`~grpoflaw_cli.cli.app` holds the Typer app and the error handling,
:mod:`~grpoflaw_cli.cli.options` the options the commands share, and each command has
its module (``compare``, ``advantages``, ``inspect``, ``watch``, ``simulate``,
``estimators``).
"""

from grpoflaw_cli.cli.app import app, main
from grpoflaw_cli.cli.options import FLAGS, SourceName

__all__ = ["FLAGS", "SourceName", "app", "main"]
