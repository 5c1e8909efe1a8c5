"""Where the rows came from: several files for one step, the trainer's own advantages.

``step_in_several_files``
    An iteration whose rollouts come from more than one file: normal for sharded
    writers, a double count when a resumed run rewrote the step. info.
``logged_advantage_mismatch``
    The trainer's own logged advantages differ from the estimator its default
    configuration computes (under the same conventions) by more than ``logged_tolerance``
    (1e-3 relative RMS), naming the estimator that matches instead. warning.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.diagnostics.flags import Flag, Severity, Thresholds, plain
from grpoflaw_cli.formatting import num


def steps_across_files(a: Analysis, files: Sequence[str]) -> list[Flag]:
    """Iterations whose rows come from several files (a resumed run can duplicate a step)."""
    if "source_min" not in a.iterations.columns or len(files) < 2:
        return []
    it = a.iterations.filter(pl.col("source_min") != pl.col("source_max"))
    return [
        Flag(
            code="step_in_several_files",
            severity=Severity.INFO,
            step=plain(row["step"]),
            wording=(
                f"its rollouts come from several files ('{files[row['source_min']]}' … "
                f"'{files[row['source_max']]}'); if a resumed run wrote this step twice, its "
                "rollouts are counted twice"
            ),
            evidence={
                "first_file": files[row["source_min"]],
                "last_file": files[row["source_max"]],
            },
        )
        for row in it.iter_rows(named=True)
    ]


def logged_advantage(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations whose logged (trainer) advantages differ from the recomputed ones."""
    if "logged_error" not in a.iterations.columns:
        return []
    expected = a.logged_estimator
    flags = []
    for row in a.iterations.filter(pl.col("logged_error") > t.logged_tolerance).iter_rows(
        named=True
    ):
        best, best_error = row["logged_best"], row["logged_best_error"]
        closest = (
            f"they match {best} instead (relative error {num(best_error)}): a setting you did "
            "not expect?"
            if best != expected and best_error <= t.logged_tolerance
            else f"the closest estimator is {best} ({num(best_error)})"
        )
        flags.append(
            Flag(
                code="logged_advantage_mismatch",
                severity=Severity.WARNING,
                step=plain(row["step"]),
                wording=(
                    f"the trainer's logged advantages differ from {expected} under "
                    f"{a.conventions.framework} conventions by {row['logged_error']:.2%} "
                    f"(relative RMS); {closest}"
                ),
                evidence={
                    "expected": expected,
                    "relative_error": row["logged_error"],
                    "best_match": best,
                    "best_error": best_error,
                },
                score=row["logged_error"],
            )
        )
    return flags
