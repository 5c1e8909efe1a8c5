"""Structural facts: a finding that is a property of the run's setup is reported once.

Two cases become one run-level flag (``step`` None) instead of one flag per step:

* **groups of two**: when every group of two rollouts or more has exactly two, GRPO gives
  every untied pair ±1/√2 ≈ ±0.707 whatever its reward gap, so ``collapsed_pair`` says
  nothing new per step;
* **(nearly) every iteration**: a check that fires on every iteration of a run of two or
  more, or on nine in ten of them (:data:`MOST`: 37 of 40, 34 of 36): a property of the
  run, whose few quiet steps the evidence lists.

The run-level flag keeps the worst instance's severity, score and message, and its
evidence keeps the per-step record: ``count`` (iterations), ``steps``, ``first_step``,
``last_step``, ``per_step`` (each step's evidence) and ``structural`` (why).

>>> from grpoflaw_cli.diagnostics.flags import Flag, Severity
>>> per_step = [Flag("zero_variance", Severity.INFO, s, "x", score=s / 10) for s in (1, 2, 3)]
>>> [(f.step, f.evidence["count"], f.evidence["steps"]) for f in run_level(per_step, 3, False)]
[(None, 3, [1, 2, 3])]
>>> [f.step for f in run_level(per_step[:2], 3, False)]  # not every iteration: kept per step
[1, 2]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from grpoflaw_cli.diagnostics.flags import Flag, steady_score

PAIR_CODES = frozenset({"collapsed_pair"})
"""The checks that groups of two make structural."""

MOST = 0.9
"""The share of a run's iterations on which a check firing is one run-level finding."""


def _range(steps: Sequence[Any]) -> str:
    return f"{steps[0]}–{steps[-1]}" if len(steps) > 1 else str(steps[0])


def _order(step: Any) -> tuple[bool, Any]:
    """A step's place: numbers in order, then anything else by its text."""
    return (
        not isinstance(step, (int, float)),
        step if isinstance(step, (int, float)) else str(step),
    )


def _merged(code: str, flags: list[Flag], iterations: int, pairs: bool) -> Flag:
    """One run-level flag for ``flags`` (one code, several steps)."""
    flags = sorted(flags, key=lambda f: (-f.severity.rank, -steady_score(f.score), _order(f.step)))
    worst = flags[0]
    steps = sorted({f.step for f in flags}, key=_order)
    consequence = sum(f.evidence.get("consequence", 0.0) for f in flags)
    if pairs and code in PAIR_CODES:
        why = "groups of two"
        wording = (
            f"groups of two: GRPO gives every untied pair ±1/√2 ≈ ±0.707 whatever its "
            f"reward gap ({len(steps)} of {iterations} iterations, steps {_range(steps)}); "
            f"worst, step {worst.step}: {worst.wording}"
        )
    else:
        why = "every iteration" if len(steps) >= iterations else "most iterations"
        where = why if len(steps) >= iterations else f"{len(steps)} of {iterations} iterations"
        wording = f"{where}; worst, step {worst.step}: {worst.wording}"
    evidence: dict[str, Any] = {
        **worst.evidence,
        "structural": why,
        "count": len(steps),
        "steps": steps,
        "first_step": steps[0],
        "last_step": steps[-1],
        "worst_step": worst.step,
        "per_step": [{"step": f.step, **f.evidence} for f in flags],
    }
    if "consequence" in worst.evidence:
        evidence["consequence"] = min(consequence, 1.0) if math.isfinite(consequence) else 0.0
    return worst.changed(step=None, wording=wording, evidence=evidence)


def run_level(flags: list[Flag], iterations: int, pairs: bool) -> list[Flag]:
    """``flags`` with each structural finding merged into one run-level flag.

    ``iterations`` is the run's number of iterations; ``pairs`` says every group of two
    rollouts or more has exactly two.
    """
    by_code: dict[str, list[Flag]] = {}
    for flag in flags:
        if flag.step is not None:
            by_code.setdefault(flag.code, []).append(flag)
    merged: dict[str, Flag] = {}
    for code, group in by_code.items():
        steps = {f.step for f in group}
        every = iterations >= 2 and len(steps) >= math.ceil(MOST * iterations)
        if len(steps) >= 2 and (every or (pairs and code in PAIR_CODES)):
            merged[code] = _merged(code, group, iterations, pairs)
    out = [f for f in flags if f.step is None or f.code not in merged]
    return out + list(merged.values())
