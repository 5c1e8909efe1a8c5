"""From per-group statistics to the comparison: per-group and per-iteration advantage
scales under every estimator, and how much reward magnitude each estimator keeps.

Definitions (used by the tables, the JSON and the diagnostics):

* **spread** of a group: the RMS deviation of its rewards from the group mean,
  ``sqrt(m2 / n)``; of an iteration: ``sqrt(Σ m2 / N)`` over its groups. It is the
  magnitude of the signal a group baseline leaves, and equals Dr. GRPO's advantage scale.
* **scale** of an estimator on a group or iteration: the RMS of its advantages there.
* **elasticity**: the slope of log(scale) against log(spread). 1 means the estimator
  passes reward magnitude through; 0 means it erases it. *Within iterations* compares
  groups of the same iteration (iteration fixed effects removed); *across iterations*
  compares the iterations' totals.

>>> import polars as pl
>>> from grpoflaw_cli.passes import group_stats_query
>>> rows = pl.LazyFrame({"step": [1] * 7 + [2] * 7, "group": [0] * 14,
...                      "reward": [-1., -1, -1, 0, 1, 1, 1, -5, -5, -5, 0, 5, 5, 5]})
>>> table = group_stats_query(rows, has_length=False).collect()
>>> result = analyze_groups(table, ["grpo", "dr_grpo"])
>>> result.magnitude["elasticity_across"].round(3).to_list()
[0.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.attribution import GRPO, MAGNITUDE, attribution, update_mass
from grpoflaw_cli.estimators import (
    REFERENCE,
    REGISTRY,
    SUMS_CENTER,
    Affine,
    Conventions,
    RowVariable,
    applicable,
    clipped,
    constant,
    gdpo_components,
    group_sum_sq,
    identity,
    whiten,
)
from grpoflaw_cli.group_stats import (
    Groups,
    component_stats,
    standardized_moments,
    to_groups,
    variable_groups,
    varying_components,
)
from grpoflaw_cli.magnitude import geometric_median, live_groups, magnitude_frame


@dataclass(frozen=True)
class Analysis:
    """The comparison, as Polars frames plus what is needed to recompute rows."""

    conventions: Conventions
    estimators: tuple[str, ...]
    groups: pl.DataFrame
    """One row per (step, group): ``n, mean, min, max, std, spread, zero_variance``,
    the GRPO signature columns ``z_min, z_max, skew, kurtosis`` and ``scale_<estimator>``
    (always including ``scale_grpo``, which the diagnostics examine)."""
    iterations: pl.DataFrame
    """One row per step: ``rollouts, groups, reward_mean, reward_min, reward_max, spread,
    zero_variance_groups, singleton_groups, group_size_min`` (over groups of two or more,
    those a group baseline applies to; 0 if none), ``group_size_max`` (over all groups),
    ``scale_<estimator>`` and, when the rows' files are known, ``source_min/source_max``."""
    magnitude: pl.DataFrame
    """One row per estimator: ``estimator, title, elasticity_within, elasticity_across,
    verdict``."""
    coefficients: Mapping[str, Affine]
    """Every computed estimator's affine map (the reported ones, GRPO, and any extra);
    see :class:`Coefficients`."""
    stats: Groups
    row_variables: dict[str, RowVariable] = field(default_factory=dict)
    """The second-pass values some coefficients apply to (by :attr:`Affine.variable`)."""
    tasks: pl.DataFrame | None = None
    """Per (step, task) shares of reward spread and advantage mass (:func:`task_shares`)."""
    logged_estimator: str = REFERENCE
    """The estimator the trainer's logged advantages should equal (see :func:`with_logged`)."""
    gdpo_parts: GdpoParts | None = None
    """GDPO over several reward components: what it was computed from."""
    components: tuple[str, ...] = ()
    """The reward's components (several, else none); with them ``groups`` has
    ``components_varying``, a bit mask of those that vary in each group
    (:func:`~grpoflaw_cli.group_stats.varying_components`)."""

    @property
    def rollouts(self) -> int:
        """Every rollout, TRL's unscorable ones (no reward) too."""
        return int(self.groups["n"].sum())

    @cached_property
    def live(self) -> np.ndarray:
        """Mask of the groups that carry a signal (:func:`~grpoflaw_cli.magnitude.live_groups`)."""
        return live_groups(self.groups["n"].to_numpy(), self.groups["spread"].to_numpy())

    @cached_property
    def typical_group_spread(self) -> float | None:
        """The geometric median spread of the non-constant groups (None if there are none):
        what the group-level diagnostics measure a group's spread against."""
        live = self.groups["spread"].to_numpy()[self.live]
        return geometric_median(live) if live.size else None

    @cached_property
    def attribution(self) -> list[dict[str, Any]]:
        """The update mass by reward components varying
        (:func:`~grpoflaw_cli.attribution.attribution`), computed once for the check, the
        verdict and the report that read it."""
        return attribution(self.groups, self.components)

    @cached_property
    def update_masses(self) -> tuple[np.ndarray, np.ndarray]:
        """Each group's update mass under GRPO and under Dr. GRPO
        (:func:`~grpoflaw_cli.verdict.masses`), computed once for the checks, the verdict
        and the per-iteration reallocation that read it (read-only)."""
        p, q = update_mass(self.groups, GRPO), update_mass(self.groups, MAGNITUDE)
        p.flags.writeable = q.flags.writeable = False
        return p, q


@dataclass(frozen=True)
class GdpoParts:
    """GDPO over several reward components, as computed: each component's per-group
    ``(column, count, mean, m2)`` (a constant component's mean is its value, its m2 0),
    their weights, and the per-group statistics of the weighted sum it whitens."""

    parts: tuple[tuple[str, np.ndarray, np.ndarray, np.ndarray], ...]
    weights: tuple[float, ...]
    total: Groups


class Coefficients(Mapping[str, Affine]):
    """Each computed estimator's affine map. Those fitted to second-pass row values
    (clipping, GDPO's component sum) are kept; the others are computed again from the
    group statistics when asked for (the same numbers) rather than held: at 6.25M groups
    they would hold ~0.4 GB."""

    def __init__(
        self, g: Groups, conv: Conventions, names: Sequence[str], kept: dict[str, Affine]
    ) -> None:
        self._g, self._conv, self._names, self._kept = g, conv, tuple(names), kept

    def __getitem__(self, name: str) -> Affine:
        if name in self._kept:
            return self._kept[name]
        if name not in self._names:
            raise KeyError(name)
        return REGISTRY[name].fn(self._g, self._conv)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


RowStats = Callable[[Sequence[RowVariable]], pl.DataFrame]
"""Runs the second pass: per-group statistics of row variables (see
:func:`~grpoflaw_cli.passes.row_variable_query`), rows sorted like the group table."""


def analyze_groups(
    table: pl.DataFrame,
    estimators: list[str],
    conventions: Conventions | None = None,
    extra: Sequence[str] = (),
    row_stats: RowStats | None = None,
    components: Sequence[str] = (),
    weights: Sequence[float] | None = None,
) -> Analysis:
    """Compare ``estimators`` on a collected :func:`~grpoflaw_cli.passes.group_stats_query`.

    ``extra`` estimators are computed (coefficients and scale columns) but not reported:
    the trainer's logged advantages are matched against every estimator, say. With a
    clip in the conventions, the clipped values need a second pass over the rows:
    ``row_stats`` runs it; so does GDPO over several reward ``components`` (the columns
    summed, with ``weights``, into the reward; their statistics must be in ``table``).

    The phases: read the table (:class:`_Table`), fit what needs the rows
    (:func:`_second_pass`), then build the per-group, per-iteration and magnitude frames.
    """
    conv = conventions or Conventions()
    # GRPO's scale is computed even when not selected: the diagnostics are about it.
    computed = list(dict.fromkeys([*estimators, REFERENCE, *extra]))
    # Large logs have millions of groups: the table is read first and let go (see
    # api.analyze_log), then the estimators run, then the per-group columns are built.
    read = _Table.read(table, computed, components)
    del table
    read.keys = read.keys.rechunk()  # a large log's table comes in chunks; to_numpy() would copy
    g = read.g
    variables, kept, row_groups = _second_pass(read, conv, computed, row_stats, components, weights)
    coefficients = Coefficients(g, conv, computed, kept)
    scales = _Scales.compute(read, coefficients, row_groups, computed, conv)
    groups, spread = _group_frame(read, conv, scales)
    iterations = _iteration_frame(read, scales, computed)
    return Analysis(
        conventions=conv,
        estimators=tuple(estimators),
        groups=groups,
        iterations=iterations,
        magnitude=magnitude_frame(g, spread, scales.group_cols, iterations, estimators),
        coefficients=coefficients,
        stats=g,
        tasks=task_shares(groups, computed) if "task" in groups.columns else None,
        row_variables={v.name: v for v in variables.values()},
        gdpo_parts=GdpoParts(
            tuple(read.parts), tuple(weights or [1.0] * len(read.parts)), row_groups["gdpo"]
        )
        if read.parts and "gdpo" in row_groups
        else None,
        components=tuple(components) if len(components) > 1 else (),
    )


@dataclass
class _Table:
    """What :func:`analyze_groups` keeps of the group-statistics table (read once)."""

    g: Groups
    keys: pl.DataFrame
    """``step, group, n, min, max`` per group; ``n`` counts every rollout."""
    passed_on: pl.DataFrame
    """Per-group columns carried into :attr:`Analysis.groups` as they are."""
    skew: np.ndarray
    kurtosis: np.ndarray
    steps: pl.Series
    sources: dict[str, np.ndarray]
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]
    """Each reward component's statistics, for GDPO over several components."""
    nf: np.ndarray
    """Per group, the rollouts with a reward (as floats)."""
    zero_variance: np.ndarray
    """Mask of the constant groups of two rollouts or more."""
    sizes: np.ndarray
    """Every rollout per group: TRL's unscorable rows (no reward, advantage 0) too. They
    count in the rollouts, group sizes and advantage scales, not in the reward statistics."""
    total: np.ndarray
    """Per iteration, the rollouts with a reward."""
    everyone: np.ndarray
    """Per iteration, every rollout."""

    @classmethod
    def read(
        cls, table: pl.DataFrame, computed: Sequence[str], components: Sequence[str]
    ) -> _Table:
        skew, kurtosis = standardized_moments(table)
        g = to_groups(table)
        _check_applicable(g, computed)
        keys = table.select("step", "group", "n", "min", "max")
        passed_on = table.select(
            c
            for c in ("task", "task_mixed", "component_patterns", "reward_values")
            if c in table.columns
        )
        if len(components) > 1:
            varying = pl.Series("components_varying", varying_components(table, components))
            passed_on = passed_on.with_columns(varying)
        sources: dict[str, np.ndarray] = {}
        if "source_min" in table.columns:
            sources = {
                "source_min": _per_step_extreme(g, table["source_min"].to_numpy(), np.minimum),
                "source_max": _per_step_extreme(g, table["source_max"].to_numpy(), np.maximum),
            }
        several = "gdpo" in computed and len(components) > 1
        parts = component_stats(table, components) if several else []
        nf = g.n.astype(np.float64)
        sizes = keys["n"].cast(pl.Float64).to_numpy()
        if np.array_equal(sizes, nf):
            sizes = nf
        total = g.per_step(nf)
        everyone = total if sizes is nf else g.per_step(sizes)
        steps = table["step"].unique(maintain_order=True)
        zero_variance = (g.n >= 2) & (g.m2 == 0)
        return cls(
            g,
            keys,
            passed_on,
            skew,
            kurtosis,
            steps,
            sources,
            parts,
            nf,
            zero_variance,
            sizes,
            total,
            everyone,
        )


def _check_applicable(g: Groups, computed: Sequence[str]) -> None:
    """Refuse an estimator whose inputs (lengths, a baseline) the groups lack."""
    have = {"length"} if g.has_length else set()
    have |= {"baseline"} if g.gap_mean is not None else set()
    _, missing = applicable(list(computed), have)
    if missing:
        raise ValueError("; ".join(f"{name} {why}" for name, why in missing.items()))


def _second_pass(
    read: _Table,
    conv: Conventions,
    computed: Sequence[str],
    row_stats: RowStats | None,
    components: Sequence[str],
    weights: Sequence[float] | None,
) -> tuple[dict[str, RowVariable], dict[str, Affine], dict[str, Groups]]:
    """Values only the rows can give, all gathered in one second pass: estimators that are
    no affine map of the reward, GDPO over several components, and OpenRLHF's clip.

    Returns the row variables, each such estimator's map of its variable, and the
    variable's per-group statistics."""
    g = read.g
    own = {name: make(g, conv) for name in computed if (make := REGISTRY[name].row_variable)}
    if read.parts:
        own["gdpo"] = gdpo_components(g, conv, read.parts, weights or [1.0] * len(components))
    clips: dict[str, RowVariable] = {}
    maps: dict[str, Affine] = {}  # the estimators' own maps of what they whiten
    if conv.clip is not None:  # on the shaped value: before any whitening
        low, high = conv.clip
        own = {n: replace(v, expr=v.expr.clip(low, high)) for n, v in own.items()}
        maps = {n: REGISTRY[n].fn(g, conv) for n in computed if n not in own}
        clips = {
            n: clipped(f"clip_{n}", a, conv.clip, _mean_of(g, a.variable)) for n, a in maps.items()
        }
    variables = own | clips
    kept: dict[str, Affine] = {}
    row_groups: dict[str, Groups] = {}
    if not variables:
        return variables, kept, row_groups
    if row_stats is None:
        raise ValueError(f"{', '.join(variables)} need a second pass over the rows (row_stats)")
    stats = row_stats(list(variables.values()))
    for name, var in variables.items():
        gy = variable_groups(g, stats, var.name, var.per_group.get(SUMS_CENTER))
        row_groups[name] = gy
        shape = maps.get(name) or REGISTRY[name].fn(g, conv)
        base = identity(g)
        if shape.shift is not None:  # GDPO, R++: whiten the value, as they do
            base = whiten(gy, constant(g, 1.0), constant(g, 0.0), conv)
            if shape.mult is None:  # a whitening without its division
                base = replace(base, mult=None)
        kept[name] = replace(base, variable=var.name)
    return variables, kept, row_groups


@dataclass
class _Scales:
    """Each computed estimator's advantage scale per group (``scale_<name>`` columns), and
    per iteration its Σ A² and the rollouts that have an advantage (see :func:`_scales`)."""

    group_cols: dict[str, np.ndarray]
    step_sq: dict[str, np.ndarray]
    step_n: dict[str, np.ndarray]

    @classmethod
    def compute(
        cls,
        read: _Table,
        coefficients: Coefficients,
        row_groups: Mapping[str, Groups],
        computed: Sequence[str],
        conv: Conventions,
    ) -> _Scales:
        out = cls({}, {}, {})
        g = read.g
        for name in computed:
            on = row_groups.get(name, g)
            out.group_cols[f"scale_{name}"], out.step_sq[name], out.step_n[name] = _scales(
                g,
                on,
                coefficients[name],
                read.sizes,
                read.everyone,
                nan_is_zero=conv.framework == "trl",
            )
        return out


def _group_frame(
    read: _Table, conv: Conventions, scales: _Scales
) -> tuple[pl.DataFrame, np.ndarray]:
    """:attr:`Analysis.groups`, and each group's spread."""
    g, keys, nf = read.g, read.keys, read.nf
    lo, hi = keys["min"].to_numpy(), keys["max"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(g.m2 / nf)
        std = np.sqrt(g.m2 / np.maximum(nf - conv.ddof, 1.0))
        std = np.where(nf - conv.ddof >= 1, std, np.nan)
        z_min = np.where(spread > 0, (lo - g.mean) / spread, 0.0)
        z_max = np.where(spread > 0, (hi - g.mean) / spread, 0.0)
    groups = keys.select("step", "group", "n").with_columns(
        pl.Series("mean", g.mean),
        keys["min"],
        keys["max"],
        pl.Series("std", std),
        pl.Series("spread", spread),
        pl.Series("zero_variance", read.zero_variance),
        pl.Series("z_min", z_min),
        pl.Series("z_max", z_max),
        pl.Series("skew", read.skew),
        pl.Series("kurtosis", read.kurtosis),
        *(pl.Series(k, v) for k, v in scales.group_cols.items()),
        *read.passed_on.get_columns(),
    )
    return groups, spread


def _iteration_frame(read: _Table, scales: _Scales, computed: Sequence[str]) -> pl.DataFrame:
    """:attr:`Analysis.iterations`."""
    g, keys, sizes, total = read.g, read.keys, read.sizes, read.total

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(g.step_index[mask], minlength=g.n_steps).astype(np.int64)

    iterations = pl.DataFrame(
        {
            "step": read.steps,
            "rollouts": read.everyone.astype(np.int64),
            "groups": np.bincount(g.step_index, minlength=g.n_steps).astype(np.int64),
            "reward_mean": g.per_step(read.nf * g.mean) / np.maximum(total, 1.0),
            "reward_min": _per_step_extreme(g, keys["min"].to_numpy(), np.minimum),
            "reward_max": _per_step_extreme(g, keys["max"].to_numpy(), np.maximum),
            "spread": np.sqrt(g.per_step(g.m2) / np.maximum(total, 1.0)),
            "zero_variance_groups": count(read.zero_variance),
            "singleton_groups": count(g.n == 1),
            "group_size_min": np.nan_to_num(
                _per_step_extreme(g, np.where(sizes >= 2, sizes, np.inf), np.minimum), posinf=0.0
            ).astype(np.int64),
            "group_size_max": _per_step_extreme(g, sizes, np.maximum).astype(np.int64),
            **{
                f"scale_{name}": _rms(scales.step_sq[name], scales.step_n[name])
                for name in computed
            },
        }
    )
    if read.sources:
        iterations = iterations.with_columns(
            pl.Series(k, v.astype(np.int64)) for k, v in read.sources.items()
        )
    return iterations


def _scales(
    g: Groups,
    on: Groups,
    coef: Affine,
    nf: np.ndarray,
    step_nf: np.ndarray,
    nan_is_zero: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An estimator's advantage scale per group, sqrt(max(Σ A², 0) / n) over its ``nf``
    rollouts, Σ A² per iteration, and per iteration the rollouts that have an advantage
    (``step_nf``, the iterations' sums of ``nf``, when all do).
    ``on`` holds the statistics ``coef`` applies to (a second-pass variable's, or ``g``'s
    own). A framework's NaN rule (OpenRLHF's one-rollout groups) leaves those groups out
    of the iteration's scale: out of Σ A² and out of its count; ``nan_is_zero`` (TRL, whose
    last step is ``nan_to_num``) counts them with advantage 0 instead."""
    refit = on is not g  # the map applies to the variable whose statistics ``on`` holds
    sum_sq = group_sum_sq(on, replace(coef, variable="reward") if refit else coef)
    if nan_is_zero:
        sum_sq = np.nan_to_num(sum_sq, nan=0.0, posinf=np.inf, neginf=-np.inf)
    finite = np.isfinite(sum_sq)
    if finite.all():
        step_sq, step_n = g.per_step(sum_sq), step_nf
    else:
        step_sq = g.per_step(np.where(finite, sum_sq, 0.0))
        step_n = g.per_step(np.where(finite, nf, 0.0))
        step_n[step_n == 0] = np.nan  # no rollout has an advantage: no scale
    with np.errstate(invalid="ignore"):  # in place: millions of groups in large logs
        np.maximum(sum_sq, 0.0, out=sum_sq)
        sum_sq /= nf
        return np.sqrt(sum_sq, out=sum_sq), step_sq, step_n


def _mean_of(g: Groups, variable: str) -> np.ndarray:
    """Each group's mean of what an affine map applies to: the reward, or ReMax's gap."""
    if variable == "gap":
        assert g.gap_mean is not None  # ReMax runs only with a baseline
        return g.gap_mean
    return g.mean


def _rms(sum_sq: np.ndarray, count: np.ndarray) -> np.ndarray:
    """sqrt(Σ A² / count) per iteration; NaN where the count is (no rollout has an
    advantage: OpenRLHF's iteration of one-rollout groups, say)."""
    return np.asarray(np.sqrt(np.maximum(sum_sq, 0.0) / np.maximum(count, 1.0)))


def task_shares(groups: pl.DataFrame, estimators: Sequence[str]) -> pl.DataFrame:
    """Each task's share of the reward spread and of each estimator's advantage mass.

    Per (step, task): ``spread_share`` = Σ (r − μ_group)² of the task's groups over the
    iteration's total (the say each task would have if magnitude passed through), and
    ``share_<estimator>`` = Σ A² of the task's rollouts over the iteration's total. The
    row ``step = None`` pools the whole run. GRPO gives every non-constant group the same
    Σ A² (about n − 1), so a task's GRPO share follows its group count, not its rewards.
    The sums are NumPy's, added in the groups' order (:func:`keyed_sums`): the same bits in
    every run, where a parallel group_by's are not.
    """
    n = groups["n"].cast(pl.Float64).to_numpy()
    values = {"spread_share": groups["spread"].cast(pl.Float64).to_numpy() ** 2 * n}
    for e in estimators:
        mass = groups[f"scale_{e}"].cast(pl.Float64).to_numpy() ** 2 * n
        values[f"share_{e}"] = np.where(np.isnan(mass), 0.0, mass)
    per_step = keyed_sums(groups.select("step", "task"), values)
    run = keyed_sums(groups.select("task"), values)
    run = run.with_columns(pl.lit(None, dtype=per_step["step"].dtype).alias("step"))
    both = pl.concat([per_step, run.select(per_step.columns)])
    totals = keyed_sums(both.select("step"), {c: both[c].to_numpy() for c in values})
    total = both.select("step").join(totals, on="step", how="left", nulls_equal=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0: no mass in the iteration
        shares = [pl.Series(c, both[c].to_numpy() / total[c].to_numpy()) for c in values]
    return both.with_columns(shares).sort("step", "task", nulls_last=True)


def keyed_sums(keys: pl.DataFrame, values: dict[str, np.ndarray]) -> pl.DataFrame:
    """For each distinct row of ``keys`` (in order of first appearance): ``groups``, its
    number of rows, and the sum of each of ``values`` over them, added in row order
    (``np.bincount``), so that the result has the same bits in every run.

    >>> keyed_sums(pl.DataFrame({"k": ["b", "a", "b"]}), {"x": np.array([1.0, 2.0, 3.0])}).rows()
    [('b', 2, 4.0), ('a', 1, 2.0)]
    """
    unique = keys.unique(maintain_order=True).with_row_index("__id")
    ids = keys.join(unique, on=keys.columns, how="left", nulls_equal=True, maintain_order="left")
    codes = ids["__id"].to_numpy().astype(np.int64)
    size = unique.height
    out = unique.drop("__id").with_columns(
        pl.Series("groups", np.bincount(codes, minlength=size), dtype=pl.UInt32)
    )
    return out.with_columns(
        pl.Series(name, np.bincount(codes, weights=v, minlength=size)) for name, v in values.items()
    )


def _per_step_extreme(g: Groups, values: np.ndarray, op: np.ufunc) -> np.ndarray:
    """Per iteration, the min (``np.minimum``) or max of a per-group array, NaN skipped
    (a TRL group with no scored rollout has no extremes)."""
    lowest = op is np.minimum
    return g.steps.reduce(np.fmin if lowest else np.fmax, values, np.inf if lowest else -np.inf)


def with_logged(analysis: Analysis, comparison: pl.DataFrame, expected: str) -> Analysis:
    """Add the trainer's logged advantages to the per-iteration table.

    ``comparison`` is :func:`~grpoflaw_cli.rollout_advantages.logged_comparison_query`'s result.
    New columns: ``logged_scale`` (RMS of the logged advantages), ``logged_error`` (RMS of
    logged − ``expected``, relative to ``logged_scale``) and ``logged_best`` (the computed
    estimator closest to the logged values, with its relative error ``logged_best_error``).
    """
    names = list(analysis.coefficients)
    c = comparison
    ss = c["logged_ss"].to_numpy()
    safe = np.where(ss > 0, ss, 1.0)
    errors = np.column_stack([np.sqrt(c[f"diff_ss_{n}"].to_numpy() / safe) for n in names])
    best = np.argmin(np.where(np.isfinite(errors), errors, np.inf), axis=1)
    extra = pl.DataFrame(
        {
            "step": c["step"],
            "logged_scale": np.sqrt(ss / np.maximum(c["logged_n"].to_numpy(), 1)),
            "logged_error": errors[:, names.index(expected)],
            "logged_best": [names[i] for i in best],
            "logged_best_error": errors[np.arange(len(best)), best],
        }
    )
    iterations = analysis.iterations.join(extra, on="step", how="left", nulls_equal=True)
    return replace(analysis, iterations=iterations, logged_estimator=expected)
