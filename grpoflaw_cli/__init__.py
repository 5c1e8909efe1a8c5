"""grpoflaw: see what your advantage estimator did to your reward signal.

The package is a library first and a CLI second. The pure layers
(:mod:`grpoflaw_cli.estimators`, :mod:`grpoflaw_cli.group_stats`,
:mod:`grpoflaw_cli.analysis`, :mod:`grpoflaw_cli.diagnostics`) know nothing of
files or terminals; :mod:`grpoflaw_cli.ingest`, :mod:`grpoflaw_cli.render` and
:mod:`grpoflaw_cli.cli` are thin layers around them.
"""

__version__ = "0.1.0"
