"""Per-rollout advantages: broadcast each estimator's per-group coefficients to the rows.

>>> out = with_advantages(rows, analysis)           # doctest: +SKIP
>>> out.columns[-2:]                                 # doctest: +SKIP
['adv_grpo', 'adv_dr_grpo']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.estimators import Affine, RowVariable, apply

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
    if "__session" in rows.columns:  # verl multi-turn: every output gets its session's
        rows = rows.with_columns(  # advantage, computed from the session's last output
            pl.col("reward").sort_by("__output").last().over("__session").alias("__session_reward")
        )
        reward = rows["__session_reward"].cast(pl.Float64).to_numpy()
        rows = rows.drop("__session_reward")
    else:
        reward = rows["reward"].cast(pl.Float64).to_numpy()
    baseline = rows["baseline"].to_numpy() if "baseline" in rows.columns else None
    unscorable = rows["reward"].is_null().to_numpy()  # TRL: advantage 0 (nan_to_num)
    values = _row_values(rows, analysis)
    out = {}
    for name in analysis.estimators:
        coef = analysis.coefficients[name]
        if coef.variable in values:  # a second-pass value: A = mult·(y − shift)
            adv = apply(coef, values[coef.variable], group_index, step_index)
        else:
            adv = apply(coef, reward, group_index, step_index, baseline)
        out[f"adv_{name}"] = np.where(unscorable, 0.0, adv)
    return rows.with_columns(pl.Series(k, v) for k, v in out.items())


def _row_values(rows: pl.DataFrame, analysis: Analysis) -> dict[str, np.ndarray]:
    """Each row variable's per-rollout value, in row order."""
    variables = list(analysis.row_variables.values())
    if not variables:
        return {}
    coef = _variable_columns(analysis, variables)
    needed = _inputs_of(variables, rows.columns)
    joined = rows.select("step", "group", *needed).join(
        coef, on=["step", "group"], how="left", nulls_equal=True, maintain_order="left"
    )
    computed = joined.select(v.expr.alias(v.name) for v in variables)
    return {v.name: computed[v.name].to_numpy() for v in variables}


def _inputs_of(variables: Sequence[RowVariable], present: Sequence[str]) -> list[str]:
    """The row columns the variables' expressions read (besides their joined numbers)."""
    names = {n for v in variables for n in v.expr.meta.root_names()}
    return [c for c in present if c in names and c not in ("step", "group")]


def _variable_columns(analysis: Analysis, variables: Sequence[RowVariable]) -> pl.DataFrame:
    """The group keys and every row variable's per-group numbers, to join onto rows."""
    return analysis.groups.select("step", "group").with_columns(
        pl.Series(f"__{v.name}_{k}", arr) for v in variables for k, arr in v.per_group.items()
    )


def coefficient_table(analysis: Analysis, coefficients: Mapping[str, Affine]) -> pl.DataFrame:
    """One row per group: its keys and, per estimator, the four numbers of its affine map
    (``A = mult·(scale·(r − center) − shift)``), ready to join onto rows lazily."""
    step = analysis.stats.step_index
    cols: dict[str, np.ndarray] = {}
    for name, coef in coefficients.items():
        size = coef.scale.shape[0]
        cols[f"__scale_{name}"] = coef.scale
        cols[f"__center_{name}"] = coef.center
        cols[f"__shift_{name}"] = coef.shift[step] if coef.shift is not None else np.zeros(size)
        cols[f"__mult_{name}"] = coef.mult[step] if coef.mult is not None else np.ones(size)
    for var in analysis.row_variables.values():
        for key, arr in var.per_group.items():
            cols[f"__{var.name}_{key}"] = arr
    return analysis.groups.select("step", "group").with_columns(
        pl.Series(k, v) for k, v in cols.items()
    )


def advantage_expr(
    name: str, variables: Mapping[str, str], row_variables: Mapping[str, RowVariable]
) -> pl.Expr:
    """Per-rollout advantage of ``name`` on rows joined with :func:`coefficient_table`
    (0 for an unscorable rollout, as TRL's ``nan_to_num``)."""
    x = pl.col("reward")
    variable = variables.get(name, "reward")
    if variable == "gap":
        x = x - pl.col("baseline")
    elif variable in row_variables:
        x = row_variables[variable].expr
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
    coefficients = dict(analysis.coefficients)  # each computed once
    coef = coefficient_table(analysis, coefficients).lazy()
    present = rows.collect_schema().names()
    optional = [c for c in ("baseline", "length") if c in present]
    inputs = _inputs_of(list(analysis.row_variables.values()), present)
    joined = rows.select(
        "step",
        "group",
        *dict.fromkeys(["reward", *optional, *inputs]),
        pl.col(logged).cast(pl.Float64).alias("__logged"),
    )
    joined = joined.join(coef, on=["step", "group"], how="left", nulls_equal=True)
    variables = {name: coef.variable for name, coef in coefficients.items()}
    diffs = {
        name: pl.col("__logged") - advantage_expr(name, variables, analysis.row_variables)
        for name in coefficients
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


def row_variable_query(
    rows: pl.LazyFrame, keys: pl.DataFrame, variables: Sequence[RowVariable], has_length: bool
) -> pl.LazyFrame:
    """The second streaming pass: each row variable computed per rollout (its per-group
    numbers joined on), summarised per group like the reward. ``keys`` is the group
    table's (step, group) in its order; the result has the same order.
    """
    columns = {f"__{v.name}_{k}": arr for v in variables for k, arr in v.per_group.items()}
    coef = keys.select("step", "group").with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("__order"),
        *(pl.Series(k, arr) for k, arr in columns.items()),
    )
    joined = rows.join(coef.lazy(), on=["step", "group"], how="left", nulls_equal=True)
    joined = joined.with_columns(v.expr.alias(v.name) for v in variables)
    aggs: list[pl.Expr] = []
    for v in variables:
        y = pl.col(v.name)
        aggs += [
            y.count().alias(f"{v.name}_n"),
            y.mean().alias(f"{v.name}_mean"),
            y.var(ddof=0).alias(f"{v.name}_var0"),
        ]
        if has_length:
            length = pl.col("length")
            aggs += [
                length.filter(y.is_not_null()).sum().alias(f"{v.name}_lsum"),
                (length * y).sum().alias(f"{v.name}_lx"),
                (length * y * y).sum().alias(f"{v.name}_lxx"),
            ]
    return joined.group_by("__order").agg(aggs).sort("__order")
