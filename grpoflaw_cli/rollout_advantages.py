"""Per-rollout advantages: each estimator's per-group coefficients broadcast to the rows.

:func:`with_advantages` for rows in memory, :func:`advantages_query` streaming, and
:func:`logged_comparison_query`, the trainer's logged advantages against the recomputed
ones.

>>> import polars as pl
>>> from grpoflaw_cli.analysis import analyze_groups
>>> from grpoflaw_cli.passes import group_stats_query
>>> rows = pl.DataFrame({"step": [0, 0, 0], "group": [0, 0, 0], "reward": [0.0, 1.0, 2.0]})
>>> table = group_stats_query(rows.lazy(), has_length=False).collect()
>>> out = with_advantages(rows, analyze_groups(table, ["grpo", "dr_grpo"]))
>>> out["adv_dr_grpo"].to_list()
[-1.0, 0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.estimators import RowVariable, apply
from grpoflaw_cli.ingest import INTERNAL_PREFIX, input_name

_GROUP_INDEX = "__group_index"
_STEP_INDEX = "__step_index"


def with_advantages(rows: pl.DataFrame, analysis: Analysis) -> pl.DataFrame:
    """``rows`` (canonical columns, any order) plus one ``adv_<estimator>`` column each.

    Row order is kept. Every row's (step, group) must be one of the analyzed groups.
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
    scored = rows
    if "__session" in rows.columns:  # verl multi-turn: every output gets its session's
        # advantage, computed from the session's last output: its reward, and whatever
        # else the estimators read (GDPO's components, say)
        read = _inputs_of(list(analysis.row_variables.values()), rows.columns)
        scored = rows.with_columns(
            pl.col(c).sort_by("__output").last().over("__session")
            for c in dict.fromkeys(["reward", *read])
        )
    reward = scored["reward"].cast(pl.Float64).to_numpy()
    baseline = rows["baseline"].to_numpy() if "baseline" in rows.columns else None
    unscorable = rows["reward"].is_null().to_numpy()  # TRL: advantage 0 (nan_to_num)
    values = _row_values(scored, analysis)
    out = {}
    for name in analysis.estimators:
        coef = analysis.coefficients[name]
        if coef.variable in values:  # a second-pass value: A = mult·(y − shift)
            adv = apply(coef, values[coef.variable], group_index, step_index)
        else:
            adv = apply(coef, reward, group_index, step_index, baseline)
        if analysis.conventions.framework == "trl":
            adv = np.nan_to_num(adv, nan=0.0)  # TRL's last step
        out[f"adv_{name}"] = np.where(unscorable, 0.0, adv) + 0.0  # no -0.0 (0 · −r)
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
        pl.Series(column, arr) for v in variables for column, arr in v.columns.items()
    )


class CoefficientColumns:
    """Every estimator's affine map as columns to join onto rows: per-group numbers keyed
    by (step, group), per-iteration ones (whitening) keyed by step. Constant arrays become
    literals and equal arrays share a column, so the joins stay narrow: a wide join is
    what makes a streamed pass over 10M rows slow.
    """

    def __init__(self, analysis: Analysis) -> None:
        self._group: list[tuple[str, np.ndarray]] = []
        self._step: list[tuple[str, np.ndarray]] = []
        self.terms: dict[str, tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]] = {}
        """Per estimator: (scale, center, shift, mult) as expressions on the joined rows."""
        self.variables: dict[str, str] = {}
        for name, coef in analysis.coefficients.items():  # each map computed once
            shift, mult = coef.shift, coef.mult
            self.terms[name] = (
                self._column(self._group, "__g", coef.scale),
                self._column(self._group, "__g", coef.center),
                self._column(self._step, "__s", shift) if shift is not None else pl.lit(0.0),
                self._column(self._step, "__s", mult) if mult is not None else pl.lit(1.0),
            )
            self.variables[name] = coef.variable
        self.nan_to_zero = analysis.conventions.framework == "trl"
        """TRL's last step, ``nan_to_num(A, nan=0)``."""
        self.row_variables = analysis.row_variables
        keys = analysis.groups.select("step", "group")
        self.groups = keys.with_columns(
            *(pl.Series(n, a) for n, a in self._group),
            *(
                pl.Series(column, arr)
                for v in analysis.row_variables.values()
                for column, arr in v.columns.items()
            ),
        )
        self.steps = analysis.iterations.select("step").with_columns(
            pl.Series(n, a) for n, a in self._step
        )

    @staticmethod
    def _column(columns: list[tuple[str, np.ndarray]], prefix: str, arr: np.ndarray) -> pl.Expr:
        values = np.asarray(arr, dtype=np.float64)
        if values.size == 0 or np.array_equal(values, np.full_like(values, values[0]), True):
            return pl.lit(float(values[0]) if values.size else 0.0, pl.Float64)
        for name, seen in columns:
            if np.array_equal(values, seen, equal_nan=True):
                return pl.col(name)
        name = f"{prefix}{len(columns)}"
        columns.append((name, values))
        return pl.col(name)

    def join(self, rows: pl.LazyFrame, *, keep_order: bool = False) -> pl.LazyFrame:
        """``rows`` with the coefficient columns joined on (row order kept if asked)."""
        order: Literal["left"] | None = "left" if keep_order else None
        joined = rows.join(
            self.groups.lazy(),
            on=["step", "group"],
            how="left",
            nulls_equal=True,
            maintain_order=order,
        )
        if self.steps.width > 1:
            joined = joined.join(
                self.steps.lazy(), on="step", how="left", nulls_equal=True, maintain_order=order
            )
        return joined

    def advantage(self, name: str) -> pl.Expr:
        """Per-rollout advantage of ``name`` on joined rows (0 for an unscorable rollout,
        as TRL's ``nan_to_num``)."""
        x = pl.col("reward")
        variable = self.variables.get(name, "reward")
        if variable == "gap":
            x = x - pl.col("baseline")
        elif variable in self.row_variables:
            x = self.row_variables[variable].expr
        scale, center, shift, mult = self.terms[name]
        adv = mult * (scale * (x - center) - shift)
        adv = pl.when(adv == 0.0).then(0.0).otherwise(adv)  # no -0.0 (0 · −r); + 0.0 is
        # simplified away
        # a row value that is missing (GDPO with every component missing) is NaN, as in
        # with_advantages; TRL zeroes it
        adv = adv.fill_null(float("nan"))
        if self.nan_to_zero:
            adv = adv.fill_nan(0.0)
        return pl.when(pl.col("reward").is_null()).then(0.0).otherwise(adv)


def advantages_query(rows: pl.LazyFrame, analysis: Analysis) -> pl.LazyFrame:
    """``rows`` plus one ``adv_<estimator>`` column per reported estimator, lazily: the
    per-group coefficients joined on, row order kept, grpoflaw's own columns dropped. The
    streaming counterpart of :func:`with_advantages` (not for verl multi-turn sessions,
    whose outputs take their session's advantage)."""
    names = rows.collect_schema().names()
    coef = CoefficientColumns(analysis)
    kept = [pl.col(n).alias(input_name(n)) for n in names if not n.startswith(INTERNAL_PREFIX)]
    return coef.join(rows, keep_order=True).select(
        *kept, *(coef.advantage(name).alias(f"adv_{name}") for name in analysis.estimators)
    )


def logged_comparison_query(rows: pl.LazyFrame, analysis: Analysis, logged: str) -> pl.LazyFrame:
    """Per step: the trainer's logged advantages against every recomputed estimator.

    Columns: ``step``, ``logged_n``, ``logged_ss`` (Σ logged²) and, per estimator,
    ``diff_ss_<name>`` (Σ (logged − A)²) and ``diff_max_<name>`` (max |logged − A|).
    One streaming pass; the rows never need to fit in memory.
    """
    coef = CoefficientColumns(analysis)
    present = rows.collect_schema().names()
    optional = [c for c in ("baseline", "length") if c in present]
    inputs = _inputs_of(list(analysis.row_variables.values()), present)
    joined = rows.select(
        "step",
        "group",
        *dict.fromkeys(["reward", *optional, *inputs]),
        pl.col(logged).cast(pl.Float64).alias("__logged"),
    )
    joined = coef.join(joined)
    diffs = {name: pl.col("__logged") - coef.advantage(name) for name in analysis.coefficients}
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
