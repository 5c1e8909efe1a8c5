"""``collapsed_pair``: two groups that receive the same GRPO advantages although their
rewards differ in spread by at least ``collapse_ratio`` (default 2×).

Same GRPO advantages means the same standardized rewards: we compare the group size and
the standardized min, max, skewness and kurtosis, rounded to 6 decimals (for two- and
three-valued rewards this is exact; for continuous rewards a coincidence is vanishingly
rare). Twins are matched within one iteration only: a group of step 12 is not the twin of
a group of step 1 (the update of step 12 never saw it). Reported once per iteration,
against the partner with the most different spread. warning; error from
``collapse_error_ratio`` (default 10×).

>>> import numpy as np
>>> _shared([np.array([1, 2, 1, 3])]).tolist()
[True, False, True, False]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.diagnostics.flags import (
    ROUNDING,
    Flag,
    Severity,
    Thresholds,
    plain,
    steady,
    worst_per_step,
)
from grpoflaw_cli.formatting import count, num


def _shared(keys: Iterable[np.ndarray]) -> np.ndarray:
    """Mask of the rows whose tuple of ``keys`` values may occur in another row too.

    A superset (never misses a repeated tuple; 0.0 and -0.0 count as equal), found without
    sorting: rows are hashed and, within parts of at most 2**19 rows (split by hash, so
    equal tuples share a part), rows alone in their hash bucket are dropped, round after
    round on other bits of the hash, until three rounds in a row drop none. Typically few
    rows remain.
    """
    h = np.zeros(0, dtype=np.uint64)
    for key in keys:  # one at a time: they may be large
        if h.size != key.size:
            h = np.zeros(key.size, dtype=np.uint64)
        if key.dtype.kind == "f":
            h ^= (key.astype(np.float64) + 0.0).view(np.uint64)  # + 0.0: -0.0 → 0.0
        else:
            h ^= key.astype(np.uint64)
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    mask = np.zeros(h.size, dtype=bool)
    parts = -(-h.size // 2**19)
    part = (h >> np.uint64(44)) % np.uint64(parts) if parts > 1 else None
    for p in range(parts):
        rows = _repeated(h, np.arange(h.size) if part is None else np.flatnonzero(part == p))
        mask[rows] = rows.size > 1  # a row left alone repeats nothing
    return mask


def _repeated(h: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The ``rows`` whose hash ``h`` may occur in another of them (see :func:`_shared`)."""
    shift, unchanged = 0, 0
    while rows.size > 1 and unchanged < 3:  # three windows without a drop: stop
        width = min(rows.size.bit_length() + 1, 20)  # at most half the buckets taken
        buckets = h[rows]
        buckets >>= np.uint64(shift)
        buckets &= np.uint64((1 << width) - 1)
        index = buckets.view(np.int64)  # < 2**20: the same numbers
        keep = np.bincount(index, minlength=1 << width)[index] > 1
        del buckets, index
        unchanged = unchanged + 1 if keep.all() else 0
        rows = rows[keep]
        shift = (shift + 17) % (64 - width)
    return rows


SIGNATURE = ("z_min", "z_max", "skew", "kurtosis")
"""With the group size, what GRPO's advantages of a group are determined by (rounded)."""
SHORT_SIG = SIGNATURE[:2]


def _signature() -> list[pl.Expr]:
    """The signature's columns, rounded, for hashing: -0.0 made 0.0 (a symmetric group's
    skewness rounds to either, by the sign of its last-bit noise, and the two hash apart:
    twins found in one run were missed in the next).

    >>> frame = pl.DataFrame({"n": [2, 2], "z_min": [-1.0, -1.0], "z_max": [1.0, 1.0],
    ...                       "skew": [1e-13, -1e-13], "kurtosis": [1.0, 1.0]})
    >>> hashes = frame.select(pl.struct(_signature()).hash())
    >>> hashes.n_unique()
    1
    """
    rounded = (pl.col(c).round(6).fill_nan(0.0).fill_null(0.0) for c in SIGNATURE)
    return [pl.col("n")] + [
        pl.when(x == 0.0).then(0.0).otherwise(x).alias(c)
        for c, x in zip(SIGNATURE, rounded, strict=True)
    ]


def collapsed_pairs(a: Analysis, t: Thresholds) -> list[Flag]:
    """Groups with identical GRPO advantages whose reward spreads differ ≥ ``collapse_ratio``.

    Only groups whose signature another group shares can be flagged (the ratio is > 1):
    :func:`_shared` finds them in NumPy, and the grouping below runs on those alone.
    """
    groups = a.groups
    live = a.live
    candidates = None if live.all() else np.flatnonzero(live)

    def keys() -> Iterator[np.ndarray]:
        """The step (as a dense rank) and part of the signature (enough to rule out the
        groups no other group of their step matches), one column at a time."""
        step = groups["step"].rank("dense")
        for column in (step, groups["n"], *(groups[c] for c in SHORT_SIG)):
            if column.dtype.is_float():
                column = column.round(6).fill_nan(0.0)
            values = column.to_numpy()
            yield values if candidates is None else values[candidates]

    shared = _shared(keys())
    candidates = np.flatnonzero(shared) if candidates is None else candidates[shared]
    if candidates.size < 2:
        return []
    g = groups.select("step", "group", "n", "spread", *SIGNATURE)[candidates]
    g = g.with_columns(pl.struct([pl.col("step"), *_signature()]).hash().alias("_sig"))
    # The partners: the smallest and largest spread, ties (equal but for last-bit noise)
    # to the first group, so that every run names the same ones.
    g = g.with_columns(steady(pl.col("spread")).alias("_s"))
    lo, hi = ["_s", "group"], [-pl.col("_s"), "group"]
    cls = (
        g.group_by("_sig")
        .agg(
            pl.col("spread").min().alias("_lo"),
            pl.col("spread").max().alias("_hi"),
            pl.col("step").sort_by(lo).first().alias("_lo_step"),
            pl.col("group").sort_by(lo).first().alias("_lo_group"),
            pl.col("step").sort_by(hi).first().alias("_hi_step"),
            pl.col("group").sort_by(hi).first().alias("_hi_group"),
        )
        .filter(pl.col("_hi") / pl.col("_lo") >= t.collapse_ratio * ROUNDING)
    )
    if cls.height == 0:
        return []
    hit = (
        g.join(cls, on="_sig")
        .with_columns(
            (pl.col("_hi") / pl.col("spread")).alias("_up"),
            (pl.col("spread") / pl.col("_lo")).alias("_down"),
        )
        .with_columns(pl.max_horizontal("_up", "_down").alias("_ratio"))
        .filter(pl.col("_ratio") >= t.collapse_ratio * ROUNDING)
    )
    worst = worst_per_step(hit, "_ratio")
    one_group_per_step = a.iterations["groups"].max() == 1
    return [_pair_flag(row, t, one_group_per_step) for row in worst.iter_rows(named=True)]


def _pair_flag(row: dict[str, Any], t: Thresholds, one_group_per_step: bool) -> Flag:
    """The flag of a step's group whose twin's spread differs most (a row of
    :func:`collapsed_pairs`)."""
    up = row["_up"] >= row["_down"]
    other_step = row["_hi_step"] if up else row["_lo_step"]
    other_group = row["_hi_group"] if up else row["_lo_group"]
    ratio = row["_ratio"]
    sev = Severity.ERROR if ratio >= t.collapse_error_ratio else Severity.WARNING
    where = "its group" if one_group_per_step else f"group {row['group']!r}"
    return Flag(
        code="collapsed_pair",
        severity=sev,
        step=plain(row["step"]),
        group=plain(row["group"]),
        wording=(
            f"{where} gets the same GRPO advantages as group {other_group!r} of its step, "
            f"though its reward spread is {num(ratio)}× "
            f"{'smaller' if up else 'larger'} ({num(row['spread'])} vs "
            f"{num(row['_hi'] if up else row['_lo'])}); "
            f"{count(row['_count'], 'group')} of this step "
            f"{'has' if row['_count'] == 1 else 'have'} such a twin"
        ),
        evidence={
            "spread": row["spread"],
            "partner_step": plain(other_step),
            "partner_group": plain(other_group),
            "partner_spread": row["_hi"] if up else row["_lo"],
            "spread_ratio": ratio,
            "groups_with_twin": row["_count"],
        },
        score=ratio,
    )
