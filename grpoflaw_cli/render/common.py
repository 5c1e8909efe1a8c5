"""What the terminal and HTML renderers share: severities and their styles, step ranges,
the number formatter, and the pieces of the report's header.

>>> step_ranges([1, 2, 3, 7, 9, 10])
'1-3, 7, 9-10'
>>> where_fired([{"step": 1}, {"step": 2}, {"step": 2}]), where_fired([{"step": None}])
('2: 1-2', 'whole run')
>>> logged = {"column": "adv", "expected": "grpo", "max_relative_error": 0.2, "matches": False,
...           "best_match": "rloo"}
>>> logged_verdict(logged), logged_verdict(logged, detail=False)
('differs from grpo (up to 20.0%); closest: rloo', 'differs from grpo; closest: rloo')
>>> affected([{"evidence": {"consequence": 0.25, "consequence_of": "rollouts"}}] * 2)
'50.0% rollouts'
>>> cell(12345.6), cell(None), plus_minus(0.5, 0.01, signed=True)
('1.235e+04', '—', '+0.500 ± 0.010')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from grpoflaw_cli.attribution import inflation
from grpoflaw_cli.formatting import num, percent

__all__ = [
    "SEVERITIES",
    "SEVERITY_COLOR",
    "SEVERITY_STYLE",
    "affected",
    "cell",
    "flags_by_code",
    "location",
    "logged_verdict",
    "num",
    "percent",
    "plus_minus",
    "skipped_text",
    "step_ranges",
    "where_fired",
]

SEVERITIES = ("error", "warning", "info")
"""Worst first, as the headers count them."""
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
"""Rich styles."""
SEVERITY_COLOR = {"error": "#c0392b", "warning": "#d68910", "info": "#2874a6"}
"""HTML colors."""


def cell(x: Any, digits: int = 4) -> str:
    """A table cell: :func:`~grpoflaw_cli.formatting.num` with large values in scientific
    notation, as the tables have always shown them."""
    return num(x, digits, group_large=False)


def slope(x: float | None) -> str:
    """An elasticity, to the two decimals its verdict reads (1 keeps, 0 erases): a fit's
    3.97e-06 is 0.00, never a signed zero; n/a when there is none.

    >>> slope(3.971e-06), slope(-0.0001516), slope(1.0083), slope(None), slope(float("nan"))
    ('0.00', '0.00', '1.01', 'n/a', 'n/a')
    """
    if x is None or x != x:
        return "n/a"
    return f"{x:.2f}".replace("-0.00", "0.00")


def plus_minus(value: float, half: float, signed: bool = False) -> str:
    """An estimate and its interval's half-width: ``0.500 ± 0.010``."""
    return f"{value:+.3f} ± {half:.3f}" if signed else f"{value:.3f} ± {half:.3f}"


def step_ranges(steps: list[Any], room: int | None = None) -> str:
    """Compress steps into ranges: [1, 2, 3, 7] → "1-3, 7"; "whole run" for run-level flags.
    With ``room``, the ranges that fit in that many characters, then "…".

    >>> step_ranges([1, 2, 3, 7, 9, 10, 12]), step_ranges([1, 2, 3, 7, 9, 10, 12], room=10)
    ('1-3, 7, 9-10, 12', '1-3, 7, …')
    """
    if all(s is None for s in steps):
        return "whole run"
    if not all(isinstance(s, int) for s in steps):
        return ", ".join(map(str, steps))
    ordered = sorted(set(steps))
    parts: list[str] = []
    start = prev = ordered[0] if ordered else 0
    for s in [*ordered[1:], None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if s is not None:
            start = prev = s
    text = ", ".join(parts)
    if room is None or len(text) <= room:
        return text
    kept: list[str] = []
    for part in parts:
        if len(", ".join([*kept, part, "…"])) > room:
            break
        kept.append(part)
    return ", ".join([*kept, "…"])


def ratio(row: Mapping[str, Any]) -> str:
    """An attribution class's GRPO share over its Dr. GRPO share: ``13.5×``, or ``—``.

    >>> ratio({"share_grpo": 0.16, "share_dr_grpo": 0.0118})
    '13.6×'
    >>> ratio({"share_grpo": 0.1, "share_dr_grpo": 0})
    '—'
    """
    factor = inflation(row)
    return f"{num(factor)}×" if math.isfinite(factor) else "—"


def flags_by_code(flags: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The report's flags grouped by check, in the order they come (worst first)."""
    by_code: dict[str, list[dict[str, Any]]] = {}
    for flag in flags:
        by_code.setdefault(flag["code"], []).append(flag)
    return by_code


def where_fired(group: list[dict[str, Any]], room: int | None = None) -> str:
    """How many iterations a check's flags are about, and which: ``3: 1-2, 7`` (a
    run-level finding's steps are in its evidence); the steps cut to ``room`` characters."""
    steps = [s for f in group for s in f.get("evidence", {}).get("steps") or [f["step"]]]
    if all(s is None for s in steps):
        return "whole run"
    told = f"{len(set(map(str, steps)))}: "
    return told + step_ranges(steps, None if room is None else room - len(told))


def affected(group: list[dict[str, Any]]) -> str:
    """The share of the run a check's flags affect together (their evidence's
    ``consequence``, summed), and of what: ``51.4% mass`` (GRPO's update mass) or
    ``26.3% rollouts``."""
    share = min(sum(f.get("evidence", {}).get("consequence", 0.0) for f in group), 1.0)
    of = group[0].get("evidence", {}).get("consequence_of", "rollouts")
    return f"{percent(share)} {'mass' if of == 'update mass' else of}"


def location(step: Any) -> str:
    """Where a flag points: ``step 3``, or ``run`` for a run-level flag."""
    return "run" if step is None else f"step {step}"


def logged_verdict(logged: Mapping[str, Any], detail: bool = True) -> str:
    """How the logged advantages compare (the report's ``summary.logged_advantage``);
    ``detail`` adds how far they differ."""
    error = logged["max_relative_error"]
    if logged["matches"]:
        return f"matches {logged['expected']} (max relative error {error:.1e})"
    far = f" (up to {error:.1%})" if detail else ""
    return f"differs from {logged['expected']}{far}; closest: {logged['best_match']}"


def skipped_text(skipped: Mapping[str, str]) -> str:
    """The estimators left out, each with why."""
    return "; ".join(f"{name} ({why})" for name, why in skipped.items())


def advice_for(recommendation: Mapping[str, Any]) -> str:
    """Whose settings a verdict's advice names, saying so when the log named no trainer.

    >>> advice_for({"trainer": "verl", "assumed": True})
    'verl, assumed: the log names no trainer'
    """
    guess = ", assumed: the log names no trainer" if recommendation.get("assumed") else ""
    return str(recommendation["trainer"]) + guess
