"""grpoflaw: see what your advantage estimator did to your reward signal.

The package is a library first and a CLI second, in layers (docs/architecture.md):

- reading: :mod:`~grpoflaw_cli.ingest` (files, column detection, one module per trainer);
- computing: :mod:`~grpoflaw_cli.passes` and :mod:`~grpoflaw_cli.group_stats` (one
  streaming pass to per-group statistics), :mod:`~grpoflaw_cli.estimators` (each an
  ``Affine`` map of them), :mod:`~grpoflaw_cli.analysis`,
  :mod:`~grpoflaw_cli.diagnostics` and :mod:`~grpoflaw_cli.result`;
- front ends: :mod:`~grpoflaw_cli.api` (Python), :mod:`~grpoflaw_cli.render`
  (terminal, HTML) and :mod:`~grpoflaw_cli.cli` (options, one module per command).

The reading and computing layers import no front end (``tests/test_structure.py``).
"""

__version__ = "0.1.0"
