"""Per-group sufficient statistics as NumPy arrays: :class:`Groups`, what the estimators
work on.

Every estimator grpoflaw implements is an affine map of the rewards inside a group,
optionally followed by an affine whitening inside an iteration. So the group's count,
mean and sum of squared deviations (plus token-weighted sums when response lengths
are known) determine every advantage, and the per-rollout data never has to be held
in memory. The streaming passes that gather them are in :mod:`grpoflaw_cli.passes`;
:func:`to_groups` turns the group table into :class:`Groups`.

>>> import polars as pl
>>> from grpoflaw_cli.passes import group_stats_query
>>> rows = pl.LazyFrame({"step": [0, 0, 0], "group": [0, 0, 0], "reward": [1.0, 2.0, 3.0]})
>>> g = to_groups(group_stats_query(rows, has_length=False).collect())
>>> float(g.m2[0])
2.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import polars as pl


def standardized_moments(table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Population skewness and kurtosis per group, from the raw power sums, or from the
    centered sums of :func:`centered_sums_query` where the group has them (raw sums lose
    precision as (|mean| / std)⁴: see :func:`needs_centering`).
    """
    n = (table["n"] - table["n_null"]).cast(pl.Float64).to_numpy()
    mean = _mean_shifted(table)
    var = table["var0"].cast(pl.Float64).fill_null(0.0).to_numpy()
    centered = "sum_d3" in table.columns  # a second pass's exact sums, where these cancel
    # In place where possible (large logs have millions of groups), operation for operation
    # m3 = e3 − mean·(3·var + mean²) and m4 = e4 − 4·mean·e3 + mean²·(6·var + 3·mean²),
    # with ``mean`` and the power sums ``e3``, ``e4`` taken about the shift.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        e3 = table["sum_r3"].to_numpy() / n
        m4 = table["sum_r4"].to_numpy() / n
        mean2 = mean * mean
        m3 = 3 * var
        m3 += mean2
        m3 *= mean
        np.subtract(e3, m3, out=m3)
        e3 *= 4 * mean
        m4 -= e3
        del e3
        term = 6 * var
        term += 3 * mean2
        term *= mean2
        m4 += term
        del term, mean2
        std = np.sqrt(var)
        var2 = var * var
        if centered:
            exact = table["sum_d3"].is_not_null().to_numpy()
            m3[exact] = table["sum_d3"].to_numpy()[exact] / n[exact]
            m4[exact] = table["sum_d4"].to_numpy()[exact] / n[exact]
        skew = np.divide(m3, np.divide(var2, std, out=std), out=m3)
        kurt = np.divide(m4, var2, out=m4)
        flat = ~(var > 0)
        skew[flat] = 0.0
        kurt[flat] = 0.0
    return _finite(skew), _finite(kurt)


CENTERING_RATIO = 100.0
"""|mean − shift| / std above which a group's power sums are not trusted. Centering them costs
digits as that ratio squared (the token-weighted Σ L·(r − μ)²: ~4e-12 relative at 100) to
the fourth power (kurtosis: ~1e-8 at 100, enough to hide a collapsed pair at 1,000)."""


def _mean_shifted(table: pl.DataFrame) -> np.ndarray:
    """Each group's mean of ``r − shift``, as the pass computed it (the power sums'
    offset: subtracting the shift from the mean would bring back the mean's rounding)."""
    return np.asarray(table["mean_shifted"].cast(pl.Float64).fill_null(0.0).to_numpy())


def group_mean() -> pl.Expr:
    """Each group's mean reward, from the group table (which holds it about the shift)."""
    return pl.col("mean_shifted") + pl.col("shift")


def needs_centering(table: pl.DataFrame) -> np.ndarray:
    """Mask of the groups (of the group table) whose rewards sit so far from the shift,
    relative to their spread, that their power sums must be gathered centered (a second
    pass)."""
    n = (table["n"] - table["n_null"]).to_numpy()
    mean = np.abs(_mean_shifted(table))
    var = table["var0"].cast(pl.Float64).fill_null(0.0).to_numpy()
    return np.asarray((n >= 2) & (var > 0) & (mean * mean > CENTERING_RATIO**2 * var))


def _finite(values: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(values)``, in place (and skipped when there is nothing to replace)."""
    return values if np.isfinite(values).all() else np.nan_to_num(values, copy=False)


class PerStep:
    """Sums of per-group arrays over each iteration, and per-iteration arrays spread back
    over the groups.

    When the groups are sorted by iteration (as :func:`to_groups` leaves them) each
    iteration's groups are one run: ``sum`` adds the runs with ``np.add.reduceat``
    (pairwise within a run, so more accurate than ``np.bincount``'s one long chain, and
    ~10× faster), and ``broadcast`` repeats each iteration's value over its run.
    Otherwise both fall back to ``bincount`` and indexing.

    >>> steps = PerStep(np.array([0, 0, 1]), 2)
    >>> steps.sum(np.array([1.0, 2.0, 4.0])).tolist()
    [3.0, 4.0]
    >>> steps.broadcast(np.array([5.0, 6.0])).tolist()
    [5.0, 5.0, 6.0]
    """

    def __init__(self, index: np.ndarray, n_steps: int) -> None:
        self.index = index
        self.n_steps = n_steps
        self._starts: np.ndarray | None = None  # where each run starts
        self._counts: np.ndarray | None = None  # and its length
        self._present: np.ndarray | None = None  # the runs' iterations, if some have none
        if index.size == 0 or not bool(np.all(index[1:] >= index[:-1])):
            return
        starts = np.flatnonzero(np.concatenate(([True], index[1:] != index[:-1])))
        self._starts = starts
        self._counts = np.diff(np.append(starts, index.size))
        if starts.size != n_steps:
            self._present = index[starts]

    def _check(self, values: np.ndarray, size: int) -> None:
        if values.shape != (size,):  # reduceat would fold extra values into the last run
            raise ValueError(f"expected {size} values, got shape {values.shape}")

    def sum(self, values: np.ndarray) -> np.ndarray:
        """``np.bincount(index, values, n_steps)`` (up to rounding)."""
        self._check(values, self.index.size)
        if self._starts is None:
            return np.bincount(self.index, weights=values, minlength=self.n_steps)
        runs = np.add.reduceat(values, self._starts, dtype=np.float64)
        if self._present is None:
            return runs
        out = np.zeros(self.n_steps)
        out[self._present] = runs
        return out

    def reduce(self, op: np.ufunc, values: np.ndarray, empty: float) -> np.ndarray:
        """``op`` (``np.fmin``, say) over each iteration's values; ``empty`` where none."""
        self._check(values, self.index.size)
        values = values.astype(np.float64, copy=False)
        out = np.full(self.n_steps, empty)
        if self._starts is None:
            op.at(out, self.index, values)
            return out
        runs = op(op.reduceat(values, self._starts), empty)  # as if each run began at empty
        if self._present is None:
            return np.asarray(runs)
        out[self._present] = runs
        return out

    def broadcast(self, step_values: np.ndarray) -> np.ndarray:
        """Each group's entry of a per-iteration array: ``step_values[index]``."""
        self._check(step_values, self.n_steps)
        if self._counts is None:
            return np.asarray(step_values[self.index])
        present = step_values if self._present is None else step_values[self._present]
        return np.repeat(present, self._counts)


@dataclass(frozen=True)
class Extremes:
    """Per group, what estimators that treat a lone best or worst rollout apart need: the
    maximum and minimum, how many rollouts reach each, the largest reward below the
    maximum, and the mean and Σ(r − mean)² of the rollouts below the maximum (above the
    minimum): a lone extreme's others. NaN where there is none. Subtracting a dominant
    rollout from the group's sums would cancel catastrophically; these are taken without it."""

    top: np.ndarray
    n_top: np.ndarray
    below_top: np.ndarray
    bottom: np.ndarray
    n_bottom: np.ndarray
    mean_without_top: np.ndarray
    m2_without_top: np.ndarray
    mean_without_bottom: np.ndarray
    m2_without_bottom: np.ndarray

    @classmethod
    def of_rows(cls, rewards: np.ndarray) -> Extremes:
        """From rewards in memory, one group per row of a 2-D array (``simulate``)."""
        top, bottom = rewards.max(1), rewards.min(1)

        def without(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            count = keep.sum(1)
            safe = np.maximum(count, 1)
            mean = np.where(keep, rewards, 0.0).sum(1) / safe
            m2 = np.where(keep, (rewards - mean[:, None]) ** 2, 0.0).sum(1)
            return np.where(count > 0, mean, np.nan), np.where(count > 0, m2, np.nan)

        below = rewards < top[:, None]
        mean_nt, m2_nt = without(below)
        mean_nb, m2_nb = without(rewards > bottom[:, None])
        return cls(
            top=top,
            n_top=(rewards == top[:, None]).sum(1).astype(np.float64),
            below_top=np.where(below.any(1), np.where(below, rewards, -np.inf).max(1), np.nan),
            bottom=bottom,
            n_bottom=(rewards == bottom[:, None]).sum(1).astype(np.float64),
            mean_without_top=mean_nt,
            m2_without_top=m2_nt,
            mean_without_bottom=mean_nb,
            m2_without_bottom=m2_nb,
        )

    @classmethod
    def of(cls, table: pl.DataFrame, n: np.ndarray) -> Extremes:
        """From :func:`~grpoflaw_cli.passes.group_stats_query` columns (``n``: rollouts with
        a reward)."""

        def column(name: str) -> np.ndarray:
            return np.asarray(table[name].cast(pl.Float64).fill_null(np.nan).to_numpy())

        n_top, n_bottom = column("n_at_max"), column("n_at_min")
        return cls(
            top=column("max"),
            n_top=n_top,
            below_top=column("below_max"),
            bottom=column("min"),
            n_bottom=n_bottom,
            mean_without_top=column("mean_without_max"),
            m2_without_top=column("var0_without_max") * (n - n_top),
            mean_without_bottom=column("mean_without_min"),
            m2_without_bottom=column("var0_without_min") * (n - n_bottom),
        )


@dataclass(frozen=True)
class Groups:
    """Per-group statistics as NumPy arrays, groups sorted by (step, group).

    ``step_index`` maps each group to its iteration, ``0 .. n_steps-1`` in step order.
    Token weights default to 1 per rollout, so ``len_sum == n``, ``len_d1 == 0`` and
    ``len_d2 == m2`` when the log has no response lengths.
    """

    step_index: np.ndarray
    n_steps: int
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    """Σ (r - mean)² over the group."""
    n_nonzero: np.ndarray
    len_sum: np.ndarray
    len_d1: np.ndarray
    """Σ L·(r - mean): zero without lengths."""
    len_d2: np.ndarray
    """Σ L·(r - mean)²: equal to ``m2`` without lengths."""
    has_length: bool
    gap_mean: np.ndarray | None = None
    """Mean of reward − baseline (ReMax), when the log has a baseline."""
    gap_m2: np.ndarray | None = None
    extremes: Extremes | None = None
    """The groups' best and worst rollouts, when gathered (``group_stats_query(extremes=True)``)."""

    @property
    def size(self) -> int:
        return int(self.n.shape[0])

    @cached_property
    def steps(self) -> PerStep:
        """Reductions over each iteration."""
        return PerStep(self.step_index, self.n_steps)

    def per_step(self, values: np.ndarray) -> np.ndarray:
        """Sum a per-group array over each iteration."""
        return self.steps.sum(values)

    def broadcast(self, step_values: np.ndarray) -> np.ndarray:
        """Each group's entry of a per-iteration array."""
        return self.steps.broadcast(step_values)


def _step_index(steps: pl.Series) -> np.ndarray:
    """Each group's iteration, ``0 .. n_steps-1`` in step order (the dense rank − 1)."""
    if steps.len() == 0:
        return np.zeros(0, dtype=np.int64)
    if steps.dtype.is_integer() and steps.null_count() == 0 and steps.is_sorted():
        return np.asarray(steps.rle_id().cast(pl.Int64).to_numpy())  # no sort needed
    return np.asarray(steps.rank("dense").cast(pl.Int64).to_numpy() - 1)


def to_groups(table: pl.DataFrame) -> Groups:
    """Build :class:`Groups` from the collected
    :func:`~grpoflaw_cli.passes.group_stats_query` result."""
    step_index = _step_index(table["step"])
    # Statistics count the rollouts that have a reward (all of them unless missing rewards
    # are allowed, as TRL's unscorable rows).
    n = (table["n"] - table["n_null"]).cast(pl.Int64).to_numpy()
    nf = n.astype(np.float64)
    mean = table.select(group_mean()).to_series().cast(pl.Float64).fill_null(0.0).to_numpy()
    # A constant group's mean is its value, exactly. Summation can be an ulp off for
    # non-dyadic rewards (0.7 × 8), which GRPO's 1/eps would blow up into noise.
    lo = table["min"].cast(pl.Float64).fill_null(0.0).to_numpy()
    hi = table["max"].cast(pl.Float64).fill_null(0.0).to_numpy()
    mean = np.where(lo == hi, lo, mean)
    m2 = table["var0"].cast(pl.Float64).fill_null(0.0).to_numpy() * nf
    has_length = "len_sum" in table.columns
    if has_length:
        len_sum = table["len_sum"].cast(pl.Float64).to_numpy()
        len_r = table["len_r"].cast(pl.Float64).to_numpy()  # about the shift
        len_rr = table["len_rr"].cast(pl.Float64).to_numpy()
        len_d1, len_d2 = _centered(len_sum, len_r, len_rr, _mean_shifted(table))
        constant = lo == hi  # r == mean on every row: the deviations are exactly 0
        len_d1[constant] = 0.0
        len_d2[constant] = 0.0
        if "len_d1" in table.columns:  # centered sums where those above cancel
            exact = table["len_d1"].is_not_null().to_numpy()
            len_d1[exact] = table["len_d1"].to_numpy()[exact]
            len_d2[exact] = table["len_d2"].to_numpy()[exact]
    else:
        len_sum, len_d1, len_d2 = nf, np.zeros_like(nf), m2
    return Groups(
        step_index=step_index.astype(np.int64),
        n_steps=int(step_index.max()) + 1 if step_index.size else 0,
        n=n,
        mean=mean,
        m2=m2,
        n_nonzero=table["n_nonzero"].cast(pl.Int64).to_numpy(),
        len_sum=len_sum,
        len_d1=len_d1,
        len_d2=len_d2,
        has_length=has_length,
        gap_mean=table["gap_mean"].fill_null(0.0).to_numpy()
        if "gap_mean" in table.columns
        else None,
        gap_m2=(table["gap_var0"].fill_null(0.0).to_numpy() * nf)
        if "gap_var0" in table.columns
        else None,
        extremes=Extremes.of(table, n) if "n_at_max" in table.columns else None,
    )


def _centered(
    l_sum: np.ndarray, l_x: np.ndarray, l_xx: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Σ L·(x − μ) and Σ L·(x − μ)² from the sums Σ L, Σ L·y, Σ L·y² of ``y = x − c``,
    where ``offset = μ − c`` (small when ``c`` is near the mean: see :func:`needs_centering`).
    """
    return l_x - offset * l_sum, np.maximum(
        l_xx - 2.0 * offset * l_x + offset * offset * l_sum, 0.0
    )


def variable_groups(
    g: Groups, stats: pl.DataFrame, name: str, sums_center: np.ndarray | None = None
) -> Groups:
    """``g`` with the reward's statistics replaced by those of a row variable ``name``
    (columns ``{name}_n``, ``_mean``, ``_var0``, ``_lsum``, ``_lx``, ``_lxx`` of a
    second-pass result sorted like the group table), so estimators can run on it. The
    token-weighted sums are about the variable's ``sums_center`` if it has one (see
    :class:`~grpoflaw_cli.estimators.RowVariable`)."""
    n = stats[f"{name}_n"].cast(pl.Int64).to_numpy()
    nf = n.astype(np.float64)
    mean = stats[f"{name}_mean"].cast(pl.Float64).fill_null(0.0).to_numpy()
    m2 = stats[f"{name}_var0"].cast(pl.Float64).fill_null(0.0).to_numpy() * nf
    if g.has_length:
        lsum = stats[f"{name}_lsum"].to_numpy()
        lx = stats[f"{name}_lx"].to_numpy()
        lxx = stats[f"{name}_lxx"].to_numpy()
        len_d1, len_d2 = _centered(
            lsum, lx, lxx, mean if sums_center is None else mean - sums_center
        )
    else:
        lsum, len_d1, len_d2 = nf, np.zeros_like(nf), m2
    return replace(g, n=n, mean=mean, m2=m2, len_sum=lsum, len_d1=len_d1, len_d2=len_d2)


def component_stats(
    table: pl.DataFrame, components: Sequence[str]
) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Per component: (column, count, mean, m2) per group, from
    :func:`~grpoflaw_cli.passes.group_stats_query`."""
    out = []
    for k, column in enumerate(components):
        n = table[f"component{k}_n"].cast(pl.Int64).to_numpy()
        mean = table[f"component{k}_mean"].cast(pl.Float64).fill_null(0.0).to_numpy()
        m2 = table[f"component{k}_var0"].cast(pl.Float64).fill_null(0.0).to_numpy() * n
        lo = table[f"component{k}_min"].cast(pl.Float64).fill_null(0.0).to_numpy()
        hi = table[f"component{k}_max"].cast(pl.Float64).fill_null(0.0).to_numpy()
        constant = lo == hi  # a constant component's mean is its value (see to_groups)
        out.append((column, n, np.where(constant, lo, mean), np.where(constant, 0.0, m2)))
    return out


def varying_components(table: pl.DataFrame, components: Sequence[str]) -> np.ndarray:
    """Per group, a bit mask of the reward components that vary inside it: bit ``k`` is
    set when component ``k``'s range (``component{k}_min`` to ``_max`` of
    :func:`~grpoflaw_cli.passes.group_stats_query`) is not one value.

    >>> t = pl.DataFrame({"component0_min": [0.0, 0.0], "component0_max": [1.0, 0.0],
    ...                   "component1_min": [1.0, 0.0], "component1_max": [1.0, 1.0]})
    >>> varying_components(t, ["acc", "format"]).tolist()
    [1, 2]
    """
    mask = np.zeros(table.height, dtype=np.int64)
    for k in range(min(len(components), 63)):  # an int64 mask holds 63
        lo = table[f"component{k}_min"].cast(pl.Float64).to_numpy()
        hi = table[f"component{k}_max"].cast(pl.Float64).to_numpy()
        with np.errstate(invalid="ignore"):
            mask |= np.where(hi > lo, np.int64(1) << k, 0)
    return mask
