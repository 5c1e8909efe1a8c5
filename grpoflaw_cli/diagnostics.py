"""Diagnostics: pure checks over an :class:`~grpoflaw_cli.analysis.Analysis` returning flags.

Each flag is ``{code, severity, step, group, message, evidence}``. The checks and their
thresholds (all in :class:`Thresholds`, all overridable):

``collapsed_pair``
    Two groups (anywhere in the run) receive the same GRPO advantages although their
    rewards differ in spread by at least ``collapse_ratio`` (default 2×). Same GRPO
    advantages means the same standardised rewards: we compare the group size and the
    standardised min, max, skewness and kurtosis, rounded to 6 decimals (for two- and
    three-valued rewards this is exact; for continuous rewards a coincidence is
    vanishingly rare). The blog's two iterations are the canonical case. Reported once
    per iteration, against the partner with the most different spread. warning; error
    from ``collapse_error_ratio`` (default 10×).
``magnitude_collapse``
    An iteration whose reward spread differs from the run's typical (median) iteration
    spread by at least ``magnitude_ratio`` (default 3×) in either direction while its
    GRPO advantage scale stays within ``grpo_tolerance`` (default 1.5×) of typical:
    GRPO shrank (or inflated) its magnitude by the ratio of the two. The group version
    counts, per iteration, the groups whose spread is that far from the run's typical
    group spread (geometric median over non-constant groups) while their GRPO scale stays
    within ``grpo_tolerance`` of the typical group's. Iterations: warning, error
    from ``magnitude_error_ratio`` (default 10×); groups (``magnitude_collapse_groups``,
    the steady state of a multi-task run): warning.
``zero_variance``
    Groups of two or more rollouts whose rewards are all equal: no learning signal under
    any group baseline (DAPO filters them; TRL logs ``frac_reward_zero_std``). Reported
    per iteration with the share: info; warning from ``zero_variance_warning`` (default
    50 %); error when every group of the iteration is constant.
``noise_amplification``
    Non-constant groups whose spread is below ``noise_ratio`` (default 1/20) of the run's
    typical group spread yet whose GRPO advantages are unit scale (RMS ≥ 0.5): shaping
    noise turned into full-size advantages. warning.
``ragged_groups``
    An iteration whose groups of two rollouts or more differ in size. info.
``step_in_several_files``
    An iteration whose rollouts come from more than one file: normal for sharded
    writers, a double count when a resumed run rewrote the step. info.
``component_aliasing``
    With several reward columns (components summed into the reward): groups holding
    rollouts whose component vectors differ while their sums are equal, e.g. (0, 1) and
    (1, 0): the summed reward, and so GRPO, cannot tell them apart (GDPO, arXiv
    2601.05242). Counted per iteration. warning.
``task_reweighting``
    With a task column: a task whose share of GRPO's advantage mass (Σ A²) differs from
    its share of the reward spread (what Dr. GRPO and RLOO give it) by ``task_ratio``
    (3×) or more, over the run (``step`` is null). warning; error from 10×.
``logged_advantage_mismatch``
    The trainer's own logged advantages differ from the estimator its default
    configuration computes (under the same conventions) by more than ``logged_tolerance``
    (1e-3 relative RMS), naming the estimator that matches instead. warning.
``singleton_groups``
    Groups of one rollout: every estimator falls back to its own rule (see each
    estimator's docstring). info; warning when half the groups or more are singletons
    (the group column probably identifies rollouts).

>>> from grpoflaw_cli.analysis import analyze                       # doctest: +SKIP
>>> flags = diagnose(analyze(table, ["grpo", "dr_grpo"]))           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.magnitude import geometric_median, live_groups
from grpoflaw_cli.numbers import num, percent


class Severity(str, Enum):
    """Flag severities, ordered info < warning < error."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


ROUNDING = 1 - 1e-9
"""A ratio at a threshold counts although rounding left it a hair below (2 × 0.8165 vs
1.633 is 1.9999999999999998)."""


@dataclass(frozen=True)
class Thresholds:
    """Every threshold the diagnostics use (see the module docstring)."""

    collapse_ratio: float = 2.0
    collapse_error_ratio: float = 10.0
    magnitude_ratio: float = 3.0
    magnitude_error_ratio: float = 10.0
    grpo_tolerance: float = 1.5
    zero_variance_warning: float = 0.5
    noise_ratio: float = 0.05
    noise_grpo_scale: float = 0.5
    task_ratio: float = 3.0
    """task_reweighting: GRPO share / spread share (or its inverse) that counts."""
    logged_tolerance: float = 1e-3
    """Relative RMS difference above which a trainer's logged advantage is a mismatch."""

    def __post_init__(self) -> None:
        for name in ("collapse_ratio", "magnitude_ratio", "grpo_tolerance"):
            if not getattr(self, name) > 1.0:
                raise ValueError(f"{name} must be > 1, got {getattr(self, name)}")
        if not 0.0 < self.noise_ratio < 1.0:
            raise ValueError(f"noise_ratio must be in (0, 1), got {self.noise_ratio}")
        if not 0.0 < self.zero_variance_warning <= 1.0:
            raise ValueError("zero_variance_warning must be in (0, 1]")


@dataclass(frozen=True)
class Flag:
    """One finding. ``evidence`` holds the numbers behind the message (JSON-ready)."""

    code: str
    severity: Severity
    step: Any
    message: str
    group: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    """How bad, comparable within a code (a ratio or a share): orders flags worst first."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "step": self.step,
            "message": self.message,
            "group": self.group,
            "evidence": dict(self.evidence),
            "score": self.score,
        }


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


def _py(value: Any) -> Any:
    """NumPy / Polars scalars → plain Python for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    return value


SIGNATURE = ("z_min", "z_max", "skew", "kurtosis")
"""With the group size, what GRPO's advantages of a group are determined by (rounded)."""
SHORT_SIG = SIGNATURE[:2]


def _signature() -> list[pl.Expr]:
    return [pl.col("n")] + [pl.col(c).round(6).fill_nan(0.0).fill_null(0.0) for c in SIGNATURE]


def collapsed_pairs(a: Analysis, t: Thresholds) -> list[Flag]:
    """Groups with identical GRPO advantages whose reward spreads differ ≥ ``collapse_ratio``.

    Only groups whose signature another group shares can be flagged (the ratio is > 1):
    :func:`_shared` finds them in NumPy, and the grouping below runs on those alone.
    """
    groups = a.groups
    live = _live(a)
    candidates = None if live.all() else np.flatnonzero(live)

    def keys() -> Iterator[np.ndarray]:
        """Part of the signature (enough to rule out the groups no other group matches),
        one column at a time."""
        for column in (groups["n"], *(groups[c] for c in SHORT_SIG)):
            if column.dtype.is_float():
                column = column.round(6).fill_nan(0.0)
            values = column.to_numpy()
            yield values if candidates is None else values[candidates]

    shared = _shared(keys())
    candidates = np.flatnonzero(shared) if candidates is None else candidates[shared]
    if candidates.size < 2:
        return []
    g = groups.select("step", "group", "n", "spread", *SIGNATURE)[candidates]
    g = g.with_columns(pl.struct(_signature()).hash().alias("_sig"))
    lo, hi = pl.col("spread").arg_min(), pl.col("spread").arg_max()
    cls = (
        g.group_by("_sig")
        .agg(
            pl.col("spread").min().alias("_lo"),
            pl.col("spread").max().alias("_hi"),
            pl.col("step").get(lo).alias("_lo_step"),
            pl.col("group").get(lo).alias("_lo_group"),
            pl.col("step").get(hi).alias("_hi_step"),
            pl.col("group").get(hi).alias("_hi_group"),
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
    worst = (
        hit.sort("_ratio", descending=True)
        .group_by("step", maintain_order=True)
        .agg(pl.all().first(), pl.len().alias("_count"))
        .sort("step")
    )
    flags = []
    one_group_per_step = a.iterations["groups"].max() == 1
    for row in worst.iter_rows(named=True):
        up = row["_up"] >= row["_down"]
        other_step = row["_hi_step"] if up else row["_lo_step"]
        other_group = row["_hi_group"] if up else row["_lo_group"]
        ratio = row["_ratio"]
        sev = Severity.ERROR if ratio >= t.collapse_error_ratio else Severity.WARNING
        where = "its group" if one_group_per_step else f"group {row['group']!r}"
        flags.append(
            Flag(
                code="collapsed_pair",
                severity=sev,
                step=_py(row["step"]),
                group=_py(row["group"]),
                message=(
                    f"{where} gets the same GRPO advantages as group {other_group!r} of step "
                    f"{other_step}, though its reward spread is {num(ratio)}× "
                    f"{'smaller' if up else 'larger'} ({num(row['spread'])} vs "
                    f"{num(row['_hi'] if up else row['_lo'])}); "
                    f"{row['_count']} group(s) of this step have such a twin"
                ),
                evidence={
                    "spread": row["spread"],
                    "partner_step": _py(other_step),
                    "partner_group": _py(other_group),
                    "partner_spread": row["_hi"] if up else row["_lo"],
                    "spread_ratio": ratio,
                    "groups_with_twin": row["_count"],
                },
                score=ratio,
            )
        )
    return flags


def magnitude_collapse(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations (and groups) whose reward spread is far from typical while GRPO's scale is not."""
    flags: list[Flag] = []
    if "scale_grpo" not in a.iterations.columns:
        return flags
    it = a.iterations.filter((pl.col("spread") > 0) & (pl.col("scale_grpo") > 0))
    if it.height >= 2:
        typical = geometric_median(it["spread"])
        typical_grpo = geometric_median(it["scale_grpo"])
        for row in it.iter_rows(named=True):
            spread_ratio = row["spread"] / typical
            grpo_ratio = row["scale_grpo"] / typical_grpo
            factor = spread_ratio / grpo_ratio
            far = max(spread_ratio, 1 / spread_ratio) >= t.magnitude_ratio
            flat = max(grpo_ratio, 1 / grpo_ratio) <= t.grpo_tolerance
            if not (far and flat):
                continue
            size = max(factor, 1 / factor)
            shrunk = factor > 1
            flags.append(
                Flag(
                    code="magnitude_collapse",
                    severity=Severity.ERROR
                    if size >= t.magnitude_error_ratio
                    else Severity.WARNING,
                    step=_py(row["step"]),
                    message=(
                        f"reward spread {num(row['spread'])} is {num(spread_ratio)}× the run's "
                        f"typical {num(typical)}, yet GRPO advantages keep the typical scale "
                        f"({num(grpo_ratio)}×): magnitude {'shrunk' if shrunk else 'inflated'} "
                        f"{num(size)}×"
                    ),
                    evidence={
                        "spread": row["spread"],
                        "typical_spread": typical,
                        "spread_ratio": spread_ratio,
                        "grpo_scale": row["scale_grpo"],
                        "typical_grpo_scale": typical_grpo,
                        "factor": factor,
                    },
                    score=size,
                )
            )
    flags.extend(_group_magnitude(a, t))
    return flags


def _live(a: Analysis) -> np.ndarray:
    return live_groups(a.groups["n"].to_numpy(), a.groups["spread"].to_numpy())


def _farthest_groups(
    a: Analysis, t: Thresholds, typical: float, typical_grpo: float
) -> list[dict[str, Any]]:
    """Per iteration of two groups or more, in step order: how many live groups have a
    spread ``magnitude_ratio`` or more from ``typical`` (not below ``noise_ratio`` of it)
    while their GRPO scale stays within ``grpo_tolerance`` of ``typical_grpo``, how many of
    them are larger (``_up``), and the farthest one's keys, spread, ``_ratio`` and
    ``_far``."""
    spread = a.groups["spread"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        grpo = a.groups["scale_grpo"].to_numpy() * (1 / typical_grpo)
        flat = np.maximum(grpo, 1 / grpo) <= t.grpo_tolerance  # NaN (no scale): False
        del grpo
        ratio = spread * (1 / typical)  # as Polars divides by a scalar
        far = np.divide(1, ratio)
        np.maximum(ratio, far, out=far)
    # Tiny groups are reported as noise amplification; a one-group iteration by the
    # iteration-level check.
    multi = a.iterations.filter(pl.col("groups") >= 2)["step"]
    in_multi = a.groups["step"].is_in(multi.implode()).fill_null(False).to_numpy()
    rows = np.flatnonzero(
        _live(a) & (far >= t.magnitude_ratio) & (ratio >= t.noise_ratio) & in_multi & flat
    )
    step = a.stats.step_index[rows]  # groups are sorted by step: this is step order
    top = np.full(a.stats.n_steps, -np.inf)
    np.maximum.at(top, step, far[rows])
    at_top = far[rows] == top[step]
    if np.bincount(step[at_top], minlength=a.stats.n_steps).max(initial=0) > 1:
        # A tie for the farthest: the one reported is whichever the sort puts first.
        g = a.groups.select("step", "group", "spread")[rows].with_columns(
            pl.Series("_ratio", ratio[rows]), pl.Series("_far", far[rows])
        )
        del spread, ratio, far
        return list(
            g.sort("_far", descending=True)
            .group_by("step", maintain_order=True)
            .agg(
                pl.all().first(),
                pl.len().alias("_count"),
                (pl.col("_ratio") > 1).sum().alias("_up"),
            )
            .sort("step")
            .iter_rows(named=True)
        )
    count = np.bincount(step, minlength=a.stats.n_steps)
    up = np.bincount(step[ratio[rows] > 1], minlength=a.stats.n_steps)
    pick, steps = rows[at_top], step[at_top]
    keys = a.groups.select("step", "group")[pick]
    return [
        {"step": s, "group": g, "spread": v, "_ratio": r, "_far": f, "_count": c, "_up": u}
        for s, g, v, r, f, c, u in zip(
            keys["step"].to_list(),
            keys["group"].to_list(),
            spread[pick].tolist(),
            ratio[pick].tolist(),
            far[pick].tolist(),
            count[steps].tolist(),
            up[steps].tolist(),
            strict=True,
        )
    ]


def _group_magnitude(a: Analysis, t: Thresholds) -> list[Flag]:
    typical = a.typical_group_spread
    if typical is None or "scale_grpo" not in a.groups.columns:
        return []
    scales = a.groups["scale_grpo"].to_numpy()[_live(a)]
    scales = scales[scales > 0]  # NaN (a framework's NaN rule) and 0 are no typical scale
    if scales.size == 0:
        return []
    typical_grpo = geometric_median(scales)
    worst = _farthest_groups(a, t, typical, typical_grpo)
    if not worst:
        return []
    totals = dict(
        zip(a.iterations["step"].to_list(), a.iterations["groups"].to_list(), strict=True)
    )
    flags = []
    for row in worst:
        flags.append(
            Flag(
                code="magnitude_collapse_groups",
                severity=Severity.WARNING,
                step=_py(row["step"]),
                group=_py(row["group"]),
                message=(
                    f"{row['_count']} of {totals[row['step']]} groups have a reward spread "
                    f"≥{num(t.magnitude_ratio)}× away from the run's typical group spread "
                    f"{num(typical)} ({row['_up']} larger, {row['_count'] - row['_up']} smaller) "
                    f"but GRPO advantages of the typical scale (within "
                    f"{num(t.grpo_tolerance)}× of {num(typical_grpo)}); worst: group "
                    f"{row['group']!r}, spread "
                    f"{num(row['spread'])} ({num(row['_ratio'])}×)"
                ),
                evidence={
                    "groups": row["_count"],
                    "groups_larger": row["_up"],
                    "typical_spread": typical,
                    "typical_grpo_scale": typical_grpo,
                    "worst_spread": row["spread"],
                    "worst_ratio": row["_ratio"],
                },
                score=row["_far"],
            )
        )
    return flags


def zero_variance(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations with constant groups (no signal under any group baseline)."""
    flags = []
    it = a.iterations.with_columns(
        (pl.col("groups") - pl.col("singleton_groups")).alias("_eligible")
    ).filter(pl.col("zero_variance_groups") > 0)
    for row in it.iter_rows(named=True):
        share = row["zero_variance_groups"] / max(row["_eligible"], 1)
        sev = (
            Severity.ERROR
            if share >= 1.0
            else Severity.WARNING
            if share >= t.zero_variance_warning
            else Severity.INFO
        )
        flags.append(
            Flag(
                code="zero_variance",
                severity=sev,
                step=_py(row["step"]),
                message=(
                    f"{row['zero_variance_groups']} of {row['_eligible']} groups "
                    f"({share:.0%}) have identical rewards: no learning signal under any "
                    "group baseline"
                ),
                evidence={"groups": row["zero_variance_groups"], "share": share},
                score=share,
            )
        )
    return flags


def noise_amplification(a: Analysis, t: Thresholds) -> list[Flag]:
    """Groups with a tiny reward spread that GRPO blows up to unit-scale advantages."""
    typical = a.typical_group_spread
    if typical is None or "scale_grpo" not in a.groups.columns:
        return []
    spread = a.groups["spread"].to_numpy()
    tiny = (spread < t.noise_ratio * typical) & (
        a.groups["scale_grpo"].to_numpy() >= t.noise_grpo_scale
    )
    g = a.groups[np.flatnonzero(_live(a) & tiny)]
    if g.height == 0:
        return []
    worst = (
        g.sort("spread")
        .group_by("step", maintain_order=True)
        .agg(pl.all().first(), pl.len().alias("_count"))
        .sort("step")
    )
    flags = []
    for row in worst.iter_rows(named=True):
        flags.append(
            Flag(
                code="noise_amplification",
                severity=Severity.WARNING,
                step=_py(row["step"]),
                group=_py(row["group"]),
                message=(
                    f"{row['_count']} group(s) differ by a reward spread under "
                    f"{num(t.noise_ratio)}× the typical {num(typical)} yet get unit-scale "
                    f"GRPO advantages; worst: group {row['group']!r}, spread {num(row['spread'])}"
                    f" → GRPO scale {num(row['scale_grpo'])} "
                    f"({num(row['scale_grpo'] / row['spread'])}× amplification)"
                ),
                evidence={
                    "groups": row["_count"],
                    "typical_spread": typical,
                    "worst_spread": row["spread"],
                    "grpo_scale": row["scale_grpo"],
                },
                score=row["scale_grpo"] / row["spread"],
            )
        )
    return flags


SINGLETON_RULES = {
    "verl": "under verl's rules GRPO gives r/(1+ε), Dr. GRPO and RLOO the raw reward, grpo_batch 0",
    "trl": "under TRL's rules every group-baseline estimator gives 0",
    "openrlhf": "under OpenRLHF's rules GRPO (group_norm) and RLOO give NaN, Dr. GRPO 0; "
    "their scales leave those rollouts out",
}


def singleton_groups(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations with one-rollout groups (each estimator applies its singleton rule).

    info; warning when at least half the groups are singletons, which usually means the
    group column identifies rollouts, not prompts.
    """
    flags = []
    for row in a.iterations.filter(pl.col("singleton_groups") > 0).iter_rows(named=True):
        share = row["singleton_groups"] / row["groups"]
        mostly = share >= 0.5
        flags.append(
            Flag(
                code="singleton_groups",
                severity=Severity.WARNING if mostly else Severity.INFO,
                step=_py(row["step"]),
                message=(
                    f"{row['singleton_groups']} of {row['groups']} groups have one rollout"
                    + (
                        ": the group column probably identifies rollouts, not prompts; "
                        "map the prompt with --group-col or --group-size N"
                        if mostly
                        else ": " + SINGLETON_RULES[a.conventions.framework]
                    )
                ),
                evidence={"groups": row["singleton_groups"], "share": share},
                score=share,
            )
        )
    return flags


def ragged_groups(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations whose groups (of two rollouts or more) differ in size."""
    it = a.iterations.filter(
        (pl.col("group_size_min") >= 2) & (pl.col("group_size_min") < pl.col("group_size_max"))
    )
    return [
        Flag(
            code="ragged_groups",
            severity=Severity.INFO,
            step=_py(row["step"]),
            message=(
                f"group sizes range from {row['group_size_min']} to {row['group_size_max']}: "
                "each group is normalised with its own size (RLOO's n/(n−1), GRPO's std); "
                "a partial group may be a truncated batch"
            ),
            evidence={"min": row["group_size_min"], "max": row["group_size_max"]},
            score=row["group_size_max"] / max(row["group_size_min"], 1),
        )
        for row in it.iter_rows(named=True)
    ]


def steps_across_files(a: Analysis, files: Sequence[str]) -> list[Flag]:
    """Iterations whose rows come from several files (a resumed run can duplicate a step)."""
    if "source_min" not in a.iterations.columns or len(files) < 2:
        return []
    it = a.iterations.filter(pl.col("source_min") != pl.col("source_max"))
    return [
        Flag(
            code="step_in_several_files",
            severity=Severity.INFO,
            step=_py(row["step"]),
            message=(
                f"its rollouts come from several files ('{files[row['source_min']]}' … "
                f"'{files[row['source_max']]}'); if a resumed run wrote this step twice, its "
                "rollouts are counted twice"
            ),
            evidence={
                "first_file": files[row["source_min"]],
                "last_file": files[row["source_max"]],
            },
        )
        for row in it.iter_rows(named=True)
    ]


def component_aliasing(a: Analysis, t: Thresholds) -> list[Flag]:
    """Groups where distinct reward-component vectors share a summed reward (GDPO's case)."""
    if "component_patterns" not in a.groups.columns:
        return []
    hit = a.groups.filter(pl.col("component_patterns") > pl.col("reward_values"))
    if hit.height == 0:
        return []
    worst = (
        hit.with_columns((pl.col("component_patterns") - pl.col("reward_values")).alias("_lost"))
        .sort("_lost", descending=True)
        .group_by("step", maintain_order=True)
        .agg(pl.all().first(), pl.len().alias("_count"))
        .sort("step")
    )
    totals = dict(
        zip(a.iterations["step"].to_list(), a.iterations["groups"].to_list(), strict=True)
    )
    return [
        Flag(
            code="component_aliasing",
            severity=Severity.WARNING,
            step=_py(row["step"]),
            group=_py(row["group"]),
            message=(
                f"{row['_count']} of {totals[row['step']]} groups have rollouts with different "
                "reward-component vectors but the same summed reward, so GRPO (and any "
                "sum-then-normalise estimator) gives them identical advantages; worst: group "
                f"{row['group']!r}, {row['component_patterns']} component patterns → "
                f"{row['reward_values']} reward values (GDPO normalises each component first)"
            ),
            evidence={
                "groups": row["_count"],
                "component_patterns": row["component_patterns"],
                "reward_values": row["reward_values"],
            },
            score=float(row["_count"]),
        )
        for row in worst.iter_rows(named=True)
    ]


def task_reweighting(a: Analysis, t: Thresholds) -> list[Flag]:
    """Tasks whose say in GRPO's update is far from their share of the reward spread."""
    if a.tasks is None:
        return []
    run = a.tasks.filter(pl.col("step").is_null() & (pl.col("spread_share") > 0))
    flags = []
    for row in run.iter_rows(named=True):
        spread, grpo = row["spread_share"], row["share_grpo"]
        if max(spread, grpo) < 0.01:
            continue
        ratio = grpo / spread
        size = max(ratio, 1 / ratio) if ratio > 0 else float("inf")
        if size < t.task_ratio:
            continue
        flags.append(
            Flag(
                code="task_reweighting",
                severity=Severity.ERROR if size >= 10 * t.task_ratio / 3 else Severity.WARNING,
                step=None,
                group=row["task"],
                message=(
                    f"task {row['task']!r} carries {percent(spread)} of the reward spread but "
                    f"{percent(grpo)} of GRPO's advantage mass ({num(size)}× "
                    f"{'more' if ratio > 1 else 'less'}): GRPO gives every group unit scale, "
                    "so tasks weigh by group count, not by reward magnitude"
                ),
                evidence={
                    "task": row["task"],
                    "spread_share": spread,
                    **{k: v for k, v in row.items() if k.startswith("share_")},
                },
                score=size,
            )
        )
    return flags


def logged_advantage(a: Analysis, t: Thresholds) -> list[Flag]:
    """Iterations whose logged (trainer) advantages differ from the recomputed ones."""
    if "logged_error" not in a.iterations.columns:
        return []
    expected = a.logged_estimator
    flags = []
    for row in a.iterations.filter(pl.col("logged_error") > t.logged_tolerance).iter_rows(
        named=True
    ):
        best, best_error = row["logged_best"], row["logged_best_error"]
        closest = (
            f"they match {best} instead (relative error {num(best_error)}): a setting you did "
            "not expect?"
            if best != expected and best_error <= t.logged_tolerance
            else f"the closest estimator is {best} ({num(best_error)})"
        )
        flags.append(
            Flag(
                code="logged_advantage_mismatch",
                severity=Severity.WARNING,
                step=_py(row["step"]),
                message=(
                    f"the trainer's logged advantages differ from {expected} under "
                    f"{a.conventions.framework} conventions by {row['logged_error']:.2%} "
                    f"(relative RMS); {closest}"
                ),
                evidence={
                    "expected": expected,
                    "relative_error": row["logged_error"],
                    "best_match": best,
                    "best_error": best_error,
                },
                score=row["logged_error"],
            )
        )
    return flags


CHECKS = (
    collapsed_pairs,
    magnitude_collapse,
    zero_variance,
    noise_amplification,
    singleton_groups,
    ragged_groups,
    logged_advantage,
    task_reweighting,
    component_aliasing,
)


def diagnose(
    a: Analysis, thresholds: Thresholds | None = None, files: Sequence[str] = ()
) -> list[Flag]:
    """Run every check; flags sorted worst first (severity, then score, then step).

    ``files`` (the log's files, in the order of the rows' source index) lets the
    several-files check name them.
    """
    t = thresholds or Thresholds()
    flags = [flag for check in CHECKS for flag in check(a, t)]
    flags += steps_across_files(a, files)
    return sorted(flags, key=lambda f: (-f.severity.rank, -f.score, _sort_key(f.step)))


def _sort_key(step: Any) -> tuple[int, Any]:
    return (0, step) if isinstance(step, (int, float)) else (1, str(step))
