"""Row variables: per-rollout values that group statistics cannot give.

An estimator that is no affine map of the reward (OpenRLHF's clip, GDPO's per-component
sum, leave-one-out GRPO, pass@k) defines a :class:`RowVariable`: a Polars expression over
the canonical columns and per-group numbers joined onto the rows. A second streaming pass
evaluates it and summarizes it per group like the reward
(:func:`~grpoflaw_cli.passes.row_variable_query`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from grpoflaw_cli.estimators.affine import Affine

SUMS_CENTER = "sums_center"
"""The per-group number, if a row variable has one, that its token-weighted sums are taken
about (see :class:`RowVariable`)."""


@dataclass(frozen=True)
class RowVariable:
    """A per-rollout value that group statistics cannot give: computed row by row in a
    second streaming pass, then summarized per group like the reward.

    ``per_group`` arrays are joined onto the rows (as :func:`group_column`); ``expr`` builds
    the value from the canonical columns and those. A :data:`SUMS_CENTER` among them (a
    value near each group's mean of the variable) is what its token-weighted sums are taken
    about, so that they do not cancel when the variable sits far from zero.
    """

    name: str
    per_group: dict[str, np.ndarray]
    expr: pl.Expr

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The per-group numbers under the names ``expr`` reads them by."""
        return {group_column(self.name, key): arr for key, arr in self.per_group.items()}


def group_column(variable: str, key: str) -> str:
    """The column a row variable's per-group number ``key`` is joined onto the rows as.

    >>> group_column("grpo_loo", "mean")
    '__grpo_loo_mean'
    """
    return f"__{variable}_{key}"


def clipped(name: str, a: Affine, bounds: tuple[float, float], x_mean: np.ndarray) -> RowVariable:
    """OpenRLHF's clamp of the shaped value ``scale·(x − center)`` to ``bounds``
    (``x_mean``: each group's mean of ``x``, whose shaped value is the sums' center)."""
    x = pl.col("reward") - pl.col("baseline") if a.variable == "gap" else pl.col("reward")
    shaped = pl.col(group_column(name, "scale")) * (x - pl.col(group_column(name, "center")))
    with np.errstate(invalid="ignore"):
        center = np.clip(np.nan_to_num(a.scale * (x_mean - a.center)), bounds[0], bounds[1])
    return RowVariable(
        name=name,
        per_group={"scale": a.scale, "center": a.center, SUMS_CENTER: center},
        expr=shaped.clip(bounds[0], bounds[1]),
    )


def evaluate(var: RowVariable, reward: np.ndarray, group_index: np.ndarray) -> np.ndarray:
    """A row variable's per-rollout values, for rewards already in memory.

    >>> w = pl.col(group_column("twice", "w"))
    >>> twice = RowVariable("twice", {"w": np.array([2.0])}, pl.col("reward") * w)
    >>> evaluate(twice, np.array([1.0, 3.0]), np.zeros(2, dtype=np.int64)).tolist()
    [2.0, 6.0]
    """
    joined = {column: arr[group_index] for column, arr in var.columns.items()}
    return pl.DataFrame({"reward": reward, **joined}).select(var.expr).to_series().to_numpy()
