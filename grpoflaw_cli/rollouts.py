"""Per-rollout advantages: broadcast each estimator's per-group coefficients to the rows.

>>> out = with_advantages(rows, analysis)           # doctest: +SKIP
>>> out.columns[-2:]                                 # doctest: +SKIP
['adv_grpo', 'adv_dr_grpo']
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.estimators import apply

_GROUP_INDEX = "__group_index"
_STEP_INDEX = "__step_index"


def with_advantages(rows: pl.DataFrame, analysis: Analysis) -> pl.DataFrame:
    """``rows`` (canonical columns, any order) plus one ``adv_<estimator>`` column each.

    Row order is kept. Every row's (step, group) must be one of the analysed groups.
    """
    keys = analysis.groups.select("step", "group").with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(_GROUP_INDEX),
        pl.Series(_STEP_INDEX, analysis.stats.step_index),
    )
    index = rows.select("step", "group").join(
        keys, on=["step", "group"], how="left", nulls_equal=True, maintain_order="left"
    )
    group_index = index[_GROUP_INDEX].to_numpy()
    step_index = index[_STEP_INDEX].to_numpy()
    reward = rows["reward"].cast(pl.Float64).to_numpy()
    baseline = rows["baseline"].to_numpy() if "baseline" in rows.columns else None
    unscorable = rows["reward"].is_null().to_numpy()  # TRL: advantage 0 (nan_to_num)
    return rows.with_columns(
        pl.Series(
            f"adv_{name}",
            np.where(unscorable, 0.0, apply(coef, reward, group_index, step_index, baseline)),
        )
        for name, coef in analysis.coefficients.items()
        if name in analysis.estimators
    )


def coefficient_table(analysis: Analysis) -> pl.DataFrame:
    """One row per group: its keys and, per estimator, the four numbers of its affine map
    (``A = mult·(scale·(r − center) − shift)``), ready to join onto rows lazily."""
    step = analysis.stats.step_index
    cols: dict[str, np.ndarray] = {}
    for name, coef in analysis.coefficients.items():
        size = coef.scale.shape[0]
        cols[f"__scale_{name}"] = coef.scale
        cols[f"__center_{name}"] = coef.center
        cols[f"__shift_{name}"] = coef.shift[step] if coef.shift is not None else np.zeros(size)
        cols[f"__mult_{name}"] = coef.mult[step] if coef.mult is not None else np.ones(size)
    return analysis.groups.select("step", "group").with_columns(
        pl.Series(k, v) for k, v in cols.items()
    )


def advantage_expr(name: str, variables: Mapping[str, str]) -> pl.Expr:
    """Per-rollout advantage of ``name`` on rows joined with :func:`coefficient_table`
    (0 for an unscorable rollout, as TRL's ``nan_to_num``)."""
    x = pl.col("reward")
    if variables.get(name) == "gap":
        x = x - pl.col("baseline")
    adv = pl.col(f"__mult_{name}") * (
        pl.col(f"__scale_{name}") * (x - pl.col(f"__center_{name}")) - pl.col(f"__shift_{name}")
    )
    return pl.when(pl.col("reward").is_null()).then(0.0).otherwise(adv)


def logged_comparison_query(rows: pl.LazyFrame, analysis: Analysis, logged: str) -> pl.LazyFrame:
    """Per step: the trainer's logged advantages against every recomputed estimator.

    Columns: ``step``, ``logged_n``, ``logged_ss`` (Σ logged²) and, per estimator,
    ``diff_ss_<name>`` (Σ (logged − A)²) and ``diff_max_<name>`` (max |logged − A|).
    One streaming pass; the rows never need to fit in memory.
    """
    coef = coefficient_table(analysis).lazy()
    joined = rows.select(
        "step", "group", "reward", pl.col(logged).cast(pl.Float64).alias("__logged")
    )
    joined = joined.join(coef, on=["step", "group"], how="left", nulls_equal=True)
    variables = {name: coef.variable for name, coef in analysis.coefficients.items()}
    diffs = {
        name: pl.col("__logged") - advantage_expr(name, variables) for name in analysis.coefficients
    }
    return (
        joined.group_by("step")
        .agg(
            pl.col("__logged").is_not_null().sum().alias("logged_n"),
            (pl.col("__logged") ** 2).sum().alias("logged_ss"),
            *((d**2).sum().alias(f"diff_ss_{n}") for n, d in diffs.items()),
            *(d.abs().max().alias(f"diff_max_{n}") for n, d in diffs.items()),
        )
        .sort("step")
    )
