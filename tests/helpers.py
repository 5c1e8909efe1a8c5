"""Test helpers: run the pure pipeline on an in-memory frame, and a plain-loop reference."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis, analyze_groups
from grpoflaw_cli.estimators import Conventions
from grpoflaw_cli.passes import group_stats_query, row_variable_query
from grpoflaw_cli.rollout_advantages import with_advantages


def analyze(df: pl.DataFrame, estimators: list[str], conv: Conventions | None = None) -> Analysis:
    has_length = "length" in df.columns
    table = group_stats_query(
        df.lazy(), has_length=has_length, has_baseline="baseline" in df.columns, extremes=True
    ).collect()

    def row_stats(variables):  # the second pass, as the CLI runs it
        keys = table.select("step", "group")
        return row_variable_query(df.lazy(), keys, variables, has_length).collect()

    return analyze_groups(table, estimators, conv, row_stats=row_stats)


def advantages(
    rewards: list[float] | np.ndarray,
    groups: list[object] | np.ndarray,
    estimator: str,
    conv: Conventions | None = None,
    steps: list[object] | np.ndarray | None = None,
    lengths: list[float] | np.ndarray | None = None,
    baseline: list[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Per-rollout advantages of one estimator through the library path."""
    n = len(rewards)
    cols: dict[str, object] = {
        "step": list(steps) if steps is not None else [0] * n,
        "group": list(groups),
        "reward": np.asarray(rewards, dtype=np.float64),
    }
    if lengths is not None:
        cols["length"] = np.asarray(lengths, dtype=np.float64)
    if baseline is not None:
        cols["baseline"] = np.asarray(baseline, dtype=np.float64)
    df = pl.DataFrame(cols)
    a = analyze(df, [estimator], conv)
    return with_advantages(df, a)[f"adv_{estimator}"].to_numpy()


def reference_loop(
    rewards: np.ndarray, groups: np.ndarray, estimator: str, ddof: int = 1, eps: float = 1e-6
) -> np.ndarray:
    """The textbook formulas, one group at a time, in plain Python/NumPy (one iteration).

    Independent of the package's vectorised code; used to cross-check it.
    """
    out = np.zeros(len(rewards))
    members: dict[object, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    if estimator == "grpo_batch":
        batch_std = float(np.std(rewards, ddof=ddof)) if len(rewards) > ddof else 0.0
    for idx in members.values():
        r = rewards[idx]
        n = len(r)
        if estimator == "grpo":
            out[idx] = (
                r / float(np.float32(1) + np.float32(eps))
                if n == 1
                else ((r - r.mean()) / (np.std(r, ddof=ddof) + eps))
            )
        elif estimator == "grpo_batch":
            out[idx] = (r - r.mean()) / (batch_std + eps)
        elif estimator == "dr_grpo":
            out[idx] = r if n == 1 else r - r.mean()
        elif estimator == "rloo":
            out[idx] = (
                r if n == 1 else np.array([r[j] - (r.sum() - r[j]) / (n - 1) for j in range(n)])
            )
        else:
            raise ValueError(estimator)
    return out
