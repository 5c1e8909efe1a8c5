"""Per-rollout advantages: broadcast each estimator's per-group coefficients to the rows.

>>> out = with_advantages(rows, analysis)           # doctest: +SKIP
>>> out.columns[-2:]                                 # doctest: +SKIP
['adv_grpo', 'adv_dr_grpo']
"""

from __future__ import annotations

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
    return rows.with_columns(
        pl.Series(f"adv_{name}", apply(coef, reward, group_index, step_index))
        for name, coef in analysis.coefficients.items()
    )
