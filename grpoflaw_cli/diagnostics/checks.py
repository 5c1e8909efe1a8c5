"""Every check, and :func:`diagnose`, which runs them and orders the flags worst first."""

from __future__ import annotations

from collections.abc import Sequence

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.diagnostics.composition import component_aliasing, task_reweighting
from grpoflaw_cli.diagnostics.consequence import by_consequence, with_consequence
from grpoflaw_cli.diagnostics.flags import Flag, Thresholds
from grpoflaw_cli.diagnostics.groups import ragged_groups, singleton_groups, zero_variance
from grpoflaw_cli.diagnostics.magnitude import magnitude_collapse, noise_amplification
from grpoflaw_cli.diagnostics.pairs import collapsed_pairs
from grpoflaw_cli.diagnostics.provenance import logged_advantage, steps_across_files
from grpoflaw_cli.diagnostics.structure import run_level

CHECKS = (
    collapsed_pairs,
    magnitude_collapse,
    zero_variance,
    noise_amplification,
    singleton_groups,
    ragged_groups,
    logged_advantage,
    task_reweighting,
    component_aliasing,
)


def diagnose(
    a: Analysis, thresholds: Thresholds | None = None, files: Sequence[str] = ()
) -> list[Flag]:
    """Run every check; flags ranked by consequence (:mod:`.consequence`: the share of
    the run's update mass or rollouts a check's flags affect, largest first).

    ``files`` (the log's files, in the order of the rows' source index) lets the
    several-files check name them. A structural finding (groups of two, a check firing
    on every iteration) is merged into one run-level flag (:func:`.structure.run_level`).
    """
    t = thresholds or Thresholds()
    flags = [flag for check in CHECKS for flag in check(a, t)]
    flags += steps_across_files(a, files)
    flags = with_consequence(flags, a)
    flags = run_level(flags, a.iterations.height, _groups_of_two(a))
    return by_consequence(flags)


def _groups_of_two(a: Analysis) -> bool:
    """Whether every group of two rollouts or more has exactly two."""
    sizes = a.groups["n"].to_numpy()
    sizes = sizes[sizes >= 2]
    return bool(sizes.size) and bool((sizes == 2).all())
