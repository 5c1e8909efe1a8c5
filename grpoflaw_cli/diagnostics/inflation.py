"""Which reward components GRPO's normalization inflates.

``component_inflation``
    With several reward components: a class of non-constant groups (the set of
    components varying inside them, :mod:`grpoflaw_cli.attribution`) whose share of
    GRPO's update mass (Σ A² over the run) is ``component_ratio`` (3×) or more its share
    under Dr. GRPO, which keeps the weighted reward's magnitude: typically a shaping term
    (a format bonus) whose groups get the same ±1/√2 as groups that differ in accuracy.
    Over the run (``step`` is null); its score is the mass GRPO moves to the class (its
    GRPO share minus its Dr. GRPO share), the verdict's measure when it names a component.
    warning; error when that excess is :data:`ERROR_EXCESS` (10 %) of the run's update
    mass or more: how much of the run it affects, not how large the ratio of two small
    shares is.
"""

from __future__ import annotations

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.attribution import inflation
from grpoflaw_cli.diagnostics.flags import ROUNDING, Flag, Severity, Thresholds
from grpoflaw_cli.formatting import num, percent

ERROR_EXCESS = 0.1
"""component_inflation is an error when GRPO moves this share of the update mass to a class."""


def _varying(components: list[str]) -> str:
    """'only format varies', 'acc and format vary', 'none of the components varies'."""
    if not components:
        return "none of the reward components varies"
    if len(components) == 1:
        return f"only {components[0]} varies"
    return f"{', '.join(components[:-1])} and {components[-1]} vary"


def component_inflation(a: Analysis, t: Thresholds) -> list[Flag]:
    """Classes of groups (by the components varying in them) that GRPO's std division
    gives several times the update mass the reward's magnitude gives them."""
    flags = []
    for row in a.attribution:
        ratio = inflation(row)
        if ratio < t.component_ratio * ROUNDING or row["share_grpo"] < 0.01:
            continue
        excess = row["share_grpo"] - row["share_dr_grpo"]
        flags.append(
            Flag(
                code="component_inflation",
                severity=Severity.ERROR if excess >= ERROR_EXCESS else Severity.WARNING,
                step=None,
                group="+".join(row["components"]) or None,
                wording=(
                    f"groups where {_varying(row['components'])} carry "
                    f"{percent(row['share_grpo'])} of GRPO's update mass vs "
                    f"{percent(row['share_dr_grpo'])} under Dr. GRPO: {num(ratio)}× inflation "
                    "of a small reward term, as GRPO's std division gives every non-constant "
                    "group the same advantage scale"
                ),
                evidence={**row, "ratio": ratio, "excess": excess},
                score=excess,
            )
        )
    return flags
