"""Diagnostics: pure checks over an :class:`~grpoflaw_cli.analysis.Analysis` returning flags.

Each flag is ``{code, severity, step, group, message, evidence}``; every threshold is in
:class:`Thresholds` and can be overridden. One module per family of findings, each
describing its checks: :mod:`.pairs` (``collapsed_pair``), :mod:`.magnitude`
(``magnitude_collapse``, ``magnitude_collapse_groups``, ``noise_amplification``),
:mod:`.groups` (``zero_variance``, ``singleton_groups``, ``ragged_groups``),
:mod:`.composition` (``component_aliasing``, ``task_reweighting``),
:mod:`.inflation` (``component_inflation``), :mod:`.reallocation` (``reallocation``, the
verdict's headline) and :mod:`.provenance` (``step_in_several_files``,
``logged_advantage_mismatch``); :mod:`.checks` runs them all.

>>> import polars as pl
>>> from grpoflaw_cli.analysis import analyze_groups
>>> from grpoflaw_cli.passes import group_stats_query
>>> rewards = [-1.0, -1, -1, 0, 1, 1, 1]
>>> rows = pl.LazyFrame({"step": [1] * 14 + [2] * 7, "group": [0] * 7 + [1] * 14,
...                      "reward": rewards + [5 * r for r in rewards] * 2})
>>> table = group_stats_query(rows, has_length=False).collect()
>>> [(f.code, f.step) for f in diagnose(analyze_groups(table, ["grpo", "dr_grpo"]))]
[('collapsed_pair', 1), ('magnitude_collapse_groups', 1), ('reallocation', None)]
"""

from grpoflaw_cli.diagnostics.checks import CHECKS, diagnose
from grpoflaw_cli.diagnostics.flags import Flag, Severity, Thresholds

__all__ = ["CHECKS", "Flag", "Severity", "Thresholds", "diagnose"]
