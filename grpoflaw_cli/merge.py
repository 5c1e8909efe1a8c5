"""Merging the group tables of parts of a log (some files each) into the log's one.

A pass over part of the rows (:func:`~grpoflaw_cli.passes.group_stats_query` with
``partial=True``) gives each group's statistics over that part; a group whose rollouts are
in several files has a row in several parts. :func:`merge_group_tables` merges those rows
into the table one pass over every row gives, in one vectorised ``group_by``:

* counts and sums (``n``, ``n_null``, ``n_nonzero``, the power sums about the shared
  ``shift``, the token-weighted sums) add; minima and maxima take the least and greatest;
* means and variances merge by Chan et al.'s rule: over parts of ``c_i`` values with mean
  ``m_i`` and population variance ``v_i``, ``μ = Σ c_i m_i / C`` and
  ``C·var = Σ c_i v_i + Σ c_i (m_i − μ)²`` (the reward's means are about the shift: near
  the rewards, they carry less rounding into ``m_i − μ`` than means far from zero would);
* the distinct values the parts list (tasks, component patterns, reward values) are
  counted once over the union;
* the statistics without a group's maximum (minimum) take each part's own where that
  part holds the maximum, and the whole part's where it does not;
* the task is the first one named, in the parts' order.

A group that sits in one part keeps that part's values as they are, bit for bit. The
second passes' tables merge as simply: :func:`merge_sums` (sums and maxima per group or
step), :func:`merge_moments` (the row variables' means and variances).

>>> part = pl.DataFrame({"step": [0], "group": [0], "n": [2], "n_null": [0],
...                      "mean_shifted": [1.0], "var0": [1.0], "shift": [0.0]})
>>> other = part.with_columns(n=pl.lit(1), mean_shifted=pl.lit(4.0), var0=pl.lit(0.0))
>>> merge_group_tables([part, other]).select("n", "mean_shifted", "var0").row(0)
(3, 2.0, 2.6666666666666665)
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from grpoflaw_cli.passes import KEYS

SUMS = (
    "n",
    "n_null",
    "n_nonzero",
    "sum_r3",
    "sum_r4",
    "len_sum",
    "len_r",
    "len_rr",
    "baseline_null",
)
LEAST = ("min", "len_min", "source_min")
GREATEST = ("max", "source_max")
DISTINCT = ("component_patterns", "reward_values")
MOMENTS = {"mean_shifted": "var0", "gap_mean": "gap_var0"}
"""Each mean merged by Chan's rule and its variance."""
COUNTS = {"mean_shifted": pl.col("n") - pl.col("n_null"), "gap_mean": pl.col("gap_n")}
"""How many values each mean is over."""


def merge_group_tables(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The parts' partial group tables (in the order of their files) merged into the
    group table of all their rows, unsorted (:func:`~grpoflaw_cli.passes.sorted_groups`
    sorts it), its columns in the order a single pass gives them."""
    stacked = pl.concat(parts, how="vertical_relaxed")
    order = [n for n in stacked.columns if n != "gap_n"]
    # Most groups sit in one file, so in one part: their rows are kept as they are (only
    # the distinct values counted); the group_by merges the others alone (on 625k groups
    # in 8 parts, 0.13–0.2 s, not the 0.9–1 s of merging every group).
    split = stacked.select(pl.struct(*KEYS).is_duplicated()).to_series()
    lone = stacked.filter(~split).with_columns(_counted(stacked.columns)).select(order)
    several = stacked.filter(split).group_by(*KEYS).agg(_merged(stacked.schema))
    return pl.concat([lone, several.select(order)])


def _counted(names: Sequence[str]) -> list[pl.Expr]:
    """A lone part's lists of distinct values as the counts a single pass gives."""
    counts = [pl.col(n).list.len().cast(pl.UInt32) for n in names if n in DISTINCT]
    if "task_mixed" in names:
        counts.append((pl.col("task_mixed").list.len() > 1).alias("task_mixed"))
    return counts


def _merged(schema: pl.Schema) -> list[pl.Expr]:
    """The aggregations that merge a group's rows of several parts."""
    exprs: list[pl.Expr] = []
    for name, dtype in schema.items():
        if name in KEYS or name == "gap_n":
            continue
        if name in MOMENTS or (name.startswith("component") and name.endswith("_mean")):
            exprs += _moments(name, schema)
        elif name in MOMENTS.values() or name.endswith("_var0") or name.startswith("var0_"):
            continue  # merged with its mean
        elif name in SUMS or (name.startswith("component") and name.endswith("_n")):
            exprs.append(pl.col(name).sum().cast(dtype))
        elif name in LEAST or (name.startswith("component") and name.endswith("_min")):
            exprs.append(pl.col(name).min())
        elif name in GREATEST or (name.startswith("component") and name.endswith("_max")):
            exprs.append(pl.col(name).max())
        elif name in DISTINCT:
            exprs.append(pl.col(name).explode().n_unique().cast(pl.UInt32))
        elif name == "task_mixed":
            exprs.append((pl.col(name).explode().drop_nulls().n_unique() > 1).alias(name))
        elif name == "task":  # the first one named, as in passes
            exprs.append(pl.col(name).drop_nulls().first())
        elif name == "shift":
            exprs.append(pl.col(name).first())
        elif name in ("n_at_max", "n_at_min", "below_max"):
            exprs.append(_extreme_count(name))
        elif name in ("mean_without_max", "mean_without_min"):
            exprs += _without_extreme(name.removeprefix("mean_without_"))
        else:
            raise ValueError(f"no rule merges the group table's column {name!r}")
    return exprs


def _chan(count: pl.Expr, mean: pl.Expr, var: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The merged mean and population variance of parts of ``count`` values each (Chan
    et al.'s rule); null where there is no value."""
    c = count.cast(pl.Float64)
    total, live = c.sum(), c > 0
    # About the first part's mean: parts with one mean (a constant group split across
    # files) merge to that mean and a variance of exactly 0, as one pass gives; Σ c·m / C
    # could miss the mean by an ulp, and a variance of 1e-33 is not a constant group
    # (GRPO would divide it by eps, grpo_loo's left-out std too).
    ref = pl.when(live).then(mean).drop_nulls().first()
    d = pl.when(live).then(mean - ref).otherwise(0.0)
    shift = (c * d).sum() / total
    m2 = (c * pl.when(live).then(var).otherwise(0.0)).sum() + (c * (d - shift) ** 2).sum()
    return pl.when(total > 0).then(ref + shift), pl.when(total > 0).then(m2 / total)


def _moments(mean: str, schema: pl.Schema) -> list[pl.Expr]:
    """A mean and its variance, merged."""
    var = MOMENTS.get(mean, mean.removesuffix("_mean") + "_var0")
    count = COUNTS.get(mean, pl.col(mean.removesuffix("_mean") + "_n"))
    mu, v = _chan(count, pl.col(mean), pl.col(var))
    # Values all equal have no spread, exactly, as one pass finds: their means about the
    # shift can differ by an ulp from part to part, and m2 ≠ 0 is no constant group.
    base = "" if mean == "mean_shifted" else mean.removesuffix("_mean") + "_"
    low, high = f"{base}min", f"{base}max"
    if low in schema and high in schema:
        v = pl.when(pl.col(low).min() == pl.col(high).max()).then(0.0).otherwise(v)
    return [mu.alias(mean), v.alias(var)]


def _extreme_count(name: str) -> pl.Expr:
    """How many values reach the group's maximum (minimum), and the largest value below
    its maximum: from the parts that reach it, and the others' maxima."""
    side = "min" if name == "n_at_min" else "max"
    reaches = pl.col(side) == (pl.col(side).min() if side == "min" else pl.col(side).max())
    if name == "below_max":
        return pl.when(reaches).then(pl.col("below_max")).otherwise(pl.col("max")).max()
    return pl.when(reaches).then(pl.col(name)).otherwise(0).sum().cast(pl.UInt32)


def _without_extreme(side: str) -> list[pl.Expr]:
    """The mean and variance of the values below the group's maximum (above its minimum):
    a part that reaches it gives its own such statistics, another all of its values."""
    extreme = pl.col(side).min() if side == "min" else pl.col(side).max()
    reaches = pl.col(side) == extreme
    values = pl.col("n") - pl.col("n_null")
    count = pl.when(reaches).then(values - pl.col(f"n_at_{side}")).otherwise(values)
    # A part of equal values is that value with no spread, exactly (its mean about the
    # shift, shifted back, can miss it by an ulp: the lone maximum's others would then
    # have a spread of rounding, which grpo_loo divides by eps).
    constant = pl.col("min") == pl.col("max")
    whole_mean = (
        pl.when(constant).then(pl.col("min")).otherwise(pl.col("mean_shifted") + pl.col("shift"))
    )
    whole_var = pl.when(constant).then(0.0).otherwise(pl.col("var0"))
    mean = pl.when(reaches).then(pl.col(f"mean_without_{side}")).otherwise(whole_mean)
    var = pl.when(reaches).then(pl.col(f"var0_without_{side}")).otherwise(whole_var)
    mu, v = _chan(count, mean, var)
    return [mu.alias(f"mean_without_{side}"), v.alias(f"var0_without_{side}")]


MAXIMA = ("diff_max_",)
"""Columns of a second pass's table that are maxima (the largest |logged − A|), not sums."""


def merge_sums(
    parts: Sequence[pl.DataFrame], keys: Sequence[str] = KEYS, *, sort: bool = False
) -> pl.DataFrame:
    """The parts' tables of sums per ``keys`` (a second pass's: centered sums per group,
    the logged-advantage comparison per step) merged: sums add, maxima (:data:`MAXIMA`)
    take the greatest; sorted by ``keys`` if asked.

    >>> part = pl.DataFrame({"step": [1, 2], "logged_n": [3, 1], "diff_max_grpo": [0.5, 0.1]})
    >>> merge_sums([part, part.head(1)], ["step"], sort=True).rows()
    [(1, 6, 0.5), (2, 1, 0.1)]
    """
    stacked = pl.concat(parts, how="vertical_relaxed")
    aggs = [
        pl.col(name).max() if name.startswith(MAXIMA) else pl.col(name).sum().cast(dtype)
        for name, dtype in stacked.schema.items()
        if name not in keys
    ]
    merged = stacked.group_by(*keys, maintain_order=True).agg(aggs)
    return merged.sort(*keys) if sort else merged


def merge_moments(parts: Sequence[pl.DataFrame], key: str = "__order") -> pl.DataFrame:
    """The parts' tables of the row-variable pass (per group ``key``: each variable's
    ``_n``, ``_mean``, ``_var0`` and token-weighted sums) merged, sorted by ``key``: means
    and variances by Chan et al.'s rule, the rest added; a group in one part kept as it is.

    >>> part = pl.DataFrame({"__order": [0], "y_n": [2], "y_mean": [1.0], "y_var0": [1.0]})
    >>> merge_moments([part, part.with_columns(y_mean=pl.lit(3.0))]).row(0)
    (0, 4, 2.0, 2.0)
    """
    stacked = pl.concat(parts, how="vertical_relaxed")
    aggs: list[pl.Expr] = []
    for name, dtype in stacked.schema.items():
        if name == key or name.endswith("_var0"):
            continue
        if name.endswith("_mean"):
            base = name.removesuffix("_mean")
            mu, v = _chan(pl.col(f"{base}_n"), pl.col(name), pl.col(f"{base}_var0"))
            aggs += [mu.alias(name), v.alias(f"{base}_var0")]
        else:
            aggs.append(pl.col(name).sum().cast(dtype))
    split = stacked.select(pl.col(key).is_duplicated()).to_series()
    several = stacked.filter(split).group_by(key).agg(aggs).select(stacked.columns)
    return pl.concat([stacked.filter(~split), several]).sort(key)


def merge_steps(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """:func:`merge_sums` per step, sorted: the logged-advantage comparison's tables."""
    return merge_sums(parts, ("step",), sort=True)
