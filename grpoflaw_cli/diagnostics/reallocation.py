"""The verdict's headline as a finding, so that a gate (``--fail-on``) sees it.

``reallocation``
    GRPO's std normalization places a share of the run's update mass differently from
    Dr. GRPO, which keeps reward magnitude: the verdict's ``reallocated``
    (:mod:`grpoflaw_cli.verdict`). With a task column, its within-task part counts, since
    moving mass between tasks on different reward scales may be the weighting the user
    wants. Over the run (``step`` is null); its score and consequence are that share.
    info from 5 % (the verdict's ``LITTLE``), warning from 25 % (``MUCH``): the verdict's
    "some" and "much". The seed log's two groups (spreads 1 and 5) give 46.2 %, a warning,
    although no per-group check can fire on a run of one group per iteration.
"""

from __future__ import annotations

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.attribution import GRPO
from grpoflaw_cli.diagnostics.flags import Flag, Severity, Thresholds
from grpoflaw_cli.formatting import percent
from grpoflaw_cli.verdict import LITTLE, MUCH, moved


def reallocation(a: Analysis, t: Thresholds) -> list[Flag]:
    """One run-level flag when GRPO moves at least :data:`LITTLE` of the update mass."""
    if f"scale_{GRPO}" not in a.groups.columns:
        return []
    share, split = moved(a)
    if share is None:
        return []
    evidence: dict[str, float | str] = {"reallocated": share}
    matters, where = share, ""
    if split is not None:
        matters, where = split["within"], " within tasks"
        evidence |= {"within_tasks": split["within"], "across_tasks": split["across"]}
    if matters < LITTLE:
        return []
    of_all = f" ({percent(share)} in all)" if where else ""
    return [
        Flag(
            code="reallocation",
            severity=Severity.WARNING if matters >= MUCH else Severity.INFO,
            step=None,
            wording=(
                f"GRPO's std normalization places {percent(matters)} of the run's update mass"
                f"{where} differently from Dr. GRPO, which keeps reward magnitude{of_all}"
            ),
            evidence=evidence,
            score=matters,
        )
    ]
