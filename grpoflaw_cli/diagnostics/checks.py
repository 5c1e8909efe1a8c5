"""Every check, and :func:`diagnose`, which runs them and orders the flags worst first."""

from __future__ import annotations

from collections.abc import Sequence

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.diagnostics.composition import (
    component_aliasing,
    mixed_task_groups,
    task_reweighting,
)
from grpoflaw_cli.diagnostics.consequence import by_consequence, with_consequence
from grpoflaw_cli.diagnostics.flags import Flag, Thresholds
from grpoflaw_cli.diagnostics.float32 import gdpo_float32_noise
from grpoflaw_cli.diagnostics.groups import ragged_groups, singleton_groups, zero_variance
from grpoflaw_cli.diagnostics.inflation import component_inflation
from grpoflaw_cli.diagnostics.magnitude import magnitude_collapse, noise_amplification
from grpoflaw_cli.diagnostics.pairs import collapsed_pairs
from grpoflaw_cli.diagnostics.provenance import logged_advantage, steps_across_files
from grpoflaw_cli.diagnostics.reallocation import reallocation
from grpoflaw_cli.diagnostics.structure import run_level
from grpoflaw_cli.labels import group_labels

CHECKS = (
    collapsed_pairs,
    magnitude_collapse,
    zero_variance,
    noise_amplification,
    singleton_groups,
    ragged_groups,
    logged_advantage,
    gdpo_float32_noise,
    task_reweighting,
    mixed_task_groups,
    component_aliasing,
    component_inflation,
    reallocation,
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
    flags = _labelled(flags, a)
    flags = with_consequence(flags, a)
    flags = run_level(flags, a.iterations.height, _groups_of_two(a))
    return by_consequence(flags)


def _groups_of_two(a: Analysis) -> bool:
    """Whether every group of two rollouts or more has exactly two."""
    sizes = a.groups["n"].to_numpy()
    sizes = sizes[sizes >= 2]
    return bool(sizes.size) and bool((sizes == 2).all())


LABEL_SAMPLE = 2000
"""How many of the run's group keys (besides the flagged ones) the labels' shared prefix
is measured on."""


def _labelled(flags: list[Flag], a: Analysis) -> list[Flag]:
    """Flags naming a group by its short label (:func:`~grpoflaw_cli.labels.group_labels`)
    in their message; the full key stays in ``evidence["group_key"]`` (and
    ``partner_group``), the label in ``group_label``."""
    named = [f for f in flags if f.group is not None and f.code != "task_reweighting"]
    if not named:
        return flags
    keys = [f.group for f in named] + [
        f.evidence["partner_group"] for f in named if "partner_group" in f.evidence
    ]
    labels = group_labels([*keys, *a.groups["group"].head(LABEL_SAMPLE).to_list()])
    out = []
    for f in flags:
        if f.group is None or f.code == "task_reweighting":
            out.append(f)
            continue
        wording, evidence = f.wording, {**f.evidence, "group_key": f.group}
        evidence["group_label"] = labels[f.group]
        for key in (f.group, f.evidence.get("partner_group")):
            if key is not None and labels[key] != str(key):
                wording = wording.replace(repr(key), repr(labels[key]))
        if "partner_group" in f.evidence:
            evidence["partner_label"] = labels[f.evidence["partner_group"]]
        out.append(f.changed(wording=wording, evidence=evidence))
    return out
