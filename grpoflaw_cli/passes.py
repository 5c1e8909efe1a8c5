"""The streaming passes over the rollouts, as lazy Polars queries.

* :func:`group_stats_query`, the one pass every run makes: per-group sufficient
  statistics (:mod:`grpoflaw_cli.group_stats` turns them into NumPy arrays);
* :func:`centered_sums_query`, a second pass over the rows of the groups whose power sums
  would cancel (:func:`~grpoflaw_cli.group_stats.needs_centering`);
* :func:`row_variable_query`, a second pass for the estimators that are no affine map of
  the reward (:class:`~grpoflaw_cli.estimators.RowVariable`).

Each is a plain ``group_by`` that Polars' streaming engine runs in bounded memory.

>>> rows = pl.LazyFrame({"step": [0, 0, 0], "group": [0, 0, 0], "reward": [1.0, 2.0, 3.0]})
>>> group_stats_query(rows, has_length=False).collect()["var0"].round(4).to_list()
[0.6667]
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from grpoflaw_cli.estimators import SUMS_CENTER, RowVariable, group_column
from grpoflaw_cli.group_stats import group_mean

KEYS = ("step", "group")
GLOBAL_CATEGORIES = hasattr(pl, "Categories")
"""Polars with ``pl.Categories`` keeps one mapping of text to categories for the process
(its string cache is gone): a streaming query's morsels all cast text to the same codes.
An older Polars could give each its own local mapping, so text keys are grouped as text
there (as before issue 14: correct, with more memory)."""
SAME = 12
"""Significant digits to which rewards count as equal where equality is the question."""


def group_stats_query(
    rows: pl.LazyFrame,
    *,
    has_length: bool,
    has_task: bool = False,
    source_col: str | None = None,
    has_baseline: bool = False,
    components: Sequence[str] = (),
    extremes: bool = False,
    shift: float = 0.0,
    sort: bool = True,
    partial: bool = False,
) -> pl.LazyFrame:
    """The aggregation over canonical rows: one row per (step, group), sorted (unless
    ``sort`` is false: then :func:`sorted_groups` sorts the collected table, faster; with
    text keys, a sort in the streaming query held about 0.3 GB more on a 3 GB text dump).

    Columns: ``n``, ``n_null``, ``mean_shifted`` (the mean of ``r − shift``: see
    :func:`~grpoflaw_cli.group_stats.group_mean`), ``var0`` (population variance), ``min``,
    ``max``, ``n_nonzero``, ``sum_r3``, ``sum_r4`` (power sums of ``r − shift``: plain sums
    stream faster than Polars' skew/kurtosis; ``shift``, a typical reward of the log, keeps
    them from cancelling when centered, see
    :func:`~grpoflaw_cli.group_stats.needs_centering`), the ``shift``; with lengths
    ``len_sum``, ``len_r``, ``len_rr`` (Σ L, Σ L·(r − shift), Σ L·(r − shift)², over the
    rollouts with a reward) and ``len_min`` (−1 if a length is missing); with tasks ``task``
    (the first one its rollouts name) and ``task_mixed`` (whether one names another); with
    ``source_col`` (the index of the file a row came from) ``source_min`` and
    ``source_max``; with a baseline ``gap_mean``, ``gap_var0``,
    ``baseline_null``; with several ``components`` ``component_patterns`` and
    ``reward_values``; with ``extremes`` (several times the cost of the rest: gathered only
    for the estimators that need it) the columns of
    :class:`~grpoflaw_cli.group_stats.Extremes`.

    ``partial`` gives the table of one part of the rows (some files) that
    :func:`grpoflaw_cli.merge.merge_group_tables` merges with the other parts' into this
    one: ``task_mixed``, ``component_patterns`` and ``reward_values`` hold the group's
    distinct values as lists (not their count), and a baseline adds ``gap_n``.
    """
    aggs = _reward_aggs(shift)
    if has_length:
        aggs += _length_aggs(shift)
    if has_task:
        # The group's task is the first one its rollouts name (a missing one names none);
        # it is mixed when another rollout names another. (A comparison with the first
        # row did not see [None, "a", "b"] as mixed.)
        task = pl.col("task")
        first = task.drop_nulls().first()
        aggs += [
            first.alias("task"),
            task.drop_nulls().unique().alias("task_mixed")
            if partial
            else (task != first).any().alias("task_mixed"),
        ]
    if len(components) > 1:
        aggs += _component_aggs(components, partial)
    if has_baseline:
        aggs += _baseline_aggs(partial)
    if extremes:
        aggs += _extremes_aggs()
    if source_col is not None:
        aggs += [
            pl.col(source_col).min().alias("source_min"),
            pl.col(source_col).max().alias("source_max"),
        ]
    table = group_by_keys(rows, aggs)
    if sort:
        table = table.sort(*KEYS, nulls_last=True)
    return table.with_columns(pl.lit(float(shift)).alias("shift"))  # a scalar: no memory


def group_by_keys(rows: pl.LazyFrame, aggs: Sequence[pl.Expr]) -> pl.LazyFrame:
    """``rows`` grouped by (step, group) into ``aggs``. Text keys (a verl dump's prompt,
    1-2 KB behind its system prompt) are grouped as categories and read back as text: the
    streaming group_by holds each distinct text once, where string keys kept the buffers
    they were read in (0.58 GB for a 3 GB dump, not 0.24 GB)."""
    if rows.collect_schema().get("group") == pl.String and GLOBAL_CATEGORIES:
        rows = rows.with_columns(pl.col("group").cast(pl.Categorical))
        return rows.group_by(*KEYS).agg(aggs).with_columns(pl.col("group").cast(pl.String))
    return rows.group_by(*KEYS).agg(aggs)


def sorted_groups(table: pl.DataFrame) -> pl.DataFrame:
    """A collected group table sorted by (step, group), nulls last, as
    :func:`group_stats_query` sorts it: by group, then stably by step. Two one-key sorts
    of the collected keys take less than half the time of the query's two-key sort (on
    1.25M groups, 0.07 s against 0.16 s); the order is the same.

    >>> t = pl.DataFrame({"step": [2, 1, None, 1], "group": ["b", "b", "a", None]})
    >>> sorted_groups(t).rows()
    [(1, 'b'), (1, None), (2, 'b'), (None, 'a')]
    """
    # The order is found on the keys alone and the table gathered once, a column at a time
    # (each made contiguous first: the streaming pass leaves it in chunks, which Polars
    # gathers from three times slower). Sorting the whole table twice held three copies of
    # it at once: on 1.25M groups ~100 MB more peak RSS, for ~30 ms less.
    order = (
        table.select(*KEYS, pl.int_range(pl.len(), dtype=pl.UInt32).alias("__order"))
        .sort("group", nulls_last=True)
        .sort("step", nulls_last=True, maintain_order=True)
    )["__order"]
    gathered = pl.DataFrame([column.rechunk().gather(order) for column in table.get_columns()])
    # Flagged sorted by step, as the sort flagged it: Polars groups a sorted column by runs,
    # so later per-step sums add in the same order from one run to the next.
    return gathered.with_columns(pl.col("step").set_sorted())


def _shifted(shift: float) -> pl.Expr:
    """The reward less ``shift``, the offset the power sums are taken about."""
    r = pl.col("reward")
    return r - shift if shift else r


def _reward_aggs(shift: float) -> list[pl.Expr]:
    """Count, mean, variance, range and power sums of the reward."""
    r, x = pl.col("reward"), _shifted(shift)
    return [
        pl.len().alias("n"),
        r.null_count().alias("n_null"),
        x.mean().alias("mean_shifted"),  # exact about the shift; + shift in group_mean
        r.var(ddof=0).alias("var0"),
        r.min().alias("min"),
        r.max().alias("max"),
        (r != 0).sum().alias("n_nonzero"),
        (x * x * x).sum().alias("sum_r3"),
        (x * x * x * x).sum().alias("sum_r4"),
    ]


def _length_aggs(shift: float) -> list[pl.Expr]:
    """Token-weighted sums of the reward, and the smallest length for the input check."""
    r, x, length = pl.col("reward"), _shifted(shift), pl.col("length")
    return [
        # over the rollouts with a reward (TRL's unscorable ones have none), as Σ L·r
        pl.when(r.is_not_null()).then(length).sum().alias("len_sum"),
        (length * x).sum().alias("len_r"),
        (length * x * x).sum().alias("len_rr"),
        # One statistic for the input check: a missing length counts as negative.
        length.fill_null(-1.0).min().alias("len_min"),
    ]


def _component_aggs(components: Sequence[str], partial: bool = False) -> list[pl.Expr]:
    """Each reward component's count, mean, variance and range, and how many distinct
    component vectors and summed rewards the group has (``partial``: which)."""
    aggs: list[pl.Expr] = []
    for k, column in enumerate(components):
        part = pl.col(column).cast(pl.Float64).fill_nan(None)
        aggs += [
            part.count().alias(f"component{k}_n"),
            part.mean().alias(f"component{k}_mean"),
            part.var(ddof=0).alias(f"component{k}_var0"),
            part.min().alias(f"component{k}_min"),
            part.max().alias(f"component{k}_max"),
        ]
    # Distinct component vectors vs distinct summed rewards: more of the former means
    # different reward-component outcomes that the summed reward (and so GRPO) aliases.
    # Both to 12 significant digits: 0.1 + 0.2 and 0.3 + 0 are one reward to GRPO.
    patterns = pl.struct([pl.col(c).cast(pl.Float64).round_sig_figs(SAME) for c in components])
    values = pl.col("reward").round_sig_figs(SAME)
    if partial:
        distinct = [patterns.unique().alias("component_patterns"), values.unique()]
    else:
        distinct = [patterns.n_unique().alias("component_patterns"), values.n_unique()]
    return [*aggs, *distinct[:1], distinct[1].alias("reward_values")]


def _baseline_aggs(partial: bool = False) -> list[pl.Expr]:
    """Mean and variance of the reward less its baseline (ReMax); ``partial``: their count."""
    gap = pl.col("reward") - pl.col("baseline")
    return [
        gap.mean().alias("gap_mean"),
        gap.var(ddof=0).alias("gap_var0"),
        pl.col("baseline").null_count().alias("baseline_null"),
        *([gap.count().alias("gap_n")] if partial else []),
    ]


def _extremes_aggs() -> list[pl.Expr]:
    """The columns :class:`~grpoflaw_cli.group_stats.Extremes` is read from."""
    r = pl.col("reward")
    without_top, without_bottom = r.filter(r < r.max()), r.filter(r > r.min())
    return [
        (r == r.max()).sum().alias("n_at_max"),
        (r == r.min()).sum().alias("n_at_min"),
        without_top.max().alias("below_max"),
        without_top.mean().alias("mean_without_max"),
        without_top.var(ddof=0).alias("var0_without_max"),
        without_bottom.mean().alias("mean_without_min"),
        without_bottom.var(ddof=0).alias("var0_without_min"),
    ]


def centered_sums_query(rows: pl.LazyFrame, groups: pl.DataFrame, has_length: bool) -> pl.LazyFrame:
    """The second pass for :func:`~grpoflaw_cli.group_stats.needs_centering`'s groups:
    with ``d = r − μ`` (``μ`` the group's mean in the group table ``groups``),
    ``sum_d3 = Σ d³``, ``sum_d4 = Σ d⁴`` and with lengths ``len_d1 = Σ L·d``,
    ``len_d2 = Σ L·d²``, per (step, group). Only those groups' rows are kept (an inner
    join), so the aggregation is as small as they are.

    >>> rows = pl.LazyFrame({"step": [0, 0], "group": [0, 0], "reward": [1e6, 1e6 + 2]})
    >>> table = pl.DataFrame({"step": [0], "group": [0], "mean_shifted": [1.0], "shift": [1e6]})
    >>> centered_sums_query(rows, table, has_length=False).collect()["sum_d4"].item()
    2.0
    """
    d = pl.col("reward") - pl.col("__mean")
    aggs = [(d * d * d).sum().alias("sum_d3"), (d * d * d * d).sum().alias("sum_d4")]
    if has_length:
        length = pl.col("length")
        aggs += [(length * d).sum().alias("len_d1"), (length * d * d).sum().alias("len_d2")]
    means = groups.select("step", "group", group_mean().alias("__mean")).lazy()
    joined = rows.join(means, on=list(KEYS), how="inner", nulls_equal=True)
    return joined.group_by(*KEYS).agg(aggs)


def with_centered_sums(table: pl.DataFrame, sums: pl.DataFrame) -> pl.DataFrame:
    """The group table with :func:`centered_sums_query`'s columns (null for the groups it
    did not need), in the table's order."""
    return table.join(sums, on=list(KEYS), how="left", nulls_equal=True, maintain_order="left")


def row_variable_query(
    rows: pl.LazyFrame, keys: pl.DataFrame, variables: Sequence[RowVariable], has_length: bool
) -> pl.LazyFrame:
    """The second streaming pass: each row variable computed per rollout (its per-group
    numbers joined on), summarized per group like the reward. ``keys`` is the group
    table's (step, group) in its order; the result has the same order.
    """
    columns = {column: arr for v in variables for column, arr in v.columns.items()}
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
            if SUMS_CENTER in v.per_group:  # about it (see RowVariable)
                y = y - pl.col(group_column(v.name, SUMS_CENTER))
            aggs += [
                length.filter(y.is_not_null()).sum().alias(f"{v.name}_lsum"),
                (length * y).sum().alias(f"{v.name}_lx"),
                (length * y * y).sum().alias(f"{v.name}_lxx"),
            ]
    return joined.group_by("__order").agg(aggs).sort("__order")
