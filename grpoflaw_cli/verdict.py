"""The verdict: did GRPO's std normalization change what the run learned from, where,
how much, and what to set instead. Pure: reads an :class:`~grpoflaw_cli.analysis.Analysis`.

Definitions (the JSON's ``summary.verdict`` and ``iterations[].reallocated``):

* **update mass** of a group under an estimator: its Σ A², ``n · scale²``. Under GRPO
  every non-constant group gets about n − 1; under Dr. GRPO (``A = r − mean``) it is the
  group's Σ (r − mean)², so magnitude passes through.
* **reallocated**: with ``p_g`` and ``q_g`` each group's share of the run's update mass
  under GRPO and under Dr. GRPO, ``½ Σ_g |p_g − q_g|``: the share of the mass GRPO
  places differently (0: the same groups weigh the same; 1: disjoint). Per iteration,
  the same with shares inside the iteration.
* With a task column, ``P_t = Σ_{g∈t} p_g`` and ``Q_t`` likewise, and ``p̂_g = p_g / P_t``,
  ``q̂_g = q_g / Q_t`` the shares inside task t:

  - **reallocated_across_tasks** = ``½ Σ_t |P_t − Q_t|``: mass moved between tasks;
  - **reallocated_within_tasks** = ``Σ_t ½(P_t + Q_t) · ½ Σ_{g∈t} |p̂_g − q̂_g|``: mass
    moved between groups of a task, each task weighted by its mean share (a task with no
    mass under one estimator contributes 0 here: all its difference is across).

  Since ``p_g − q_g = ½(P_t + Q_t)(p̂_g − q̂_g) + ½(p̂_g + q̂_g)(P_t − Q_t)``,
  ``across ≤ reallocated ≤ across + within``. ``dominant`` names the larger part.
* **zero_signal**: the share of rollouts in groups without a signal (constant rewards,
  or one rollout where the trainer gives it none): a group baseline leaves them no
  gradient. verl scores a lone rollout against mean 0 and std 1, so its advantage is its
  reward: such groups carry mass under both estimators and are not counted here.

The seed log: GRPO gives its two groups equal mass, Dr. GRPO 6 : 150, so 0.5 − 6/156.

>>> import polars as pl
>>> from grpoflaw_cli.analysis import analyze_groups
>>> from grpoflaw_cli.passes import group_stats_query
>>> r = [-1.0, -1, -1, 0, 1, 1, 1]
>>> rows = pl.LazyFrame({"step": [1] * 7 + [2] * 7, "group": [0] * 14,
...                      "reward": r + [5 * x for x in r]})
>>> a = analyze_groups(group_stats_query(rows, has_length=False).collect(), ["grpo"])
>>> round(verdict(a)["reallocated"], 4), verdict(a)["zero_signal"]
(0.4615, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.analysis import Analysis
from grpoflaw_cli.estimators import REGISTRY
from grpoflaw_cli.formatting import count, num, percent

LITTLE = 0.05
"""Below this share of reallocated mass the verdict says "little" and recommends nothing."""
MUCH = 0.25
"""From this share on the verdict says "much"; between the two, "some"."""
TOP_STEPS = 3
"""How many steps the text names."""
LOGGED_TOLERANCE = 1e-3
"""The relative RMS within which logged advantages match an estimator: the flags' default
(``Thresholds.logged_tolerance``; a test keeps the two equal). The diagnostics read the
verdict, so it cannot import them."""


def reallocated(p: np.ndarray, q: np.ndarray) -> float | None:
    """``½ Σ |p/Σp − q/Σq|`` for two non-negative mass vectors; None when either is all 0
    (no update to place: every group is constant).
    Rounded to 12 decimals: a log read in chunks can differ in the masses' last bit.

    >>> reallocated(np.array([1.0, 1.0]), np.array([6.0, 150.0])), round(0.5 - 6 / 156, 12)
    (0.461538461538, 0.461538461538)
    """
    sp, sq = float(p.sum()), float(q.sum())
    if sp <= 0 or sq <= 0:
        return None
    return round(float(0.5 * np.abs(p / sp - q / sq).sum()), 12)


def split_by_task(p: np.ndarray, q: np.ndarray, tasks: Sequence[Any] | pl.Series) -> dict[str, Any]:
    """The run's reallocation split into across and within tasks (see the module doc),
    each task's sums taken at once (``np.bincount``), not a pass over the groups per task.

    >>> p, q = np.array([1.0, 1, 1, 1]), np.array([0.5, 4.5, 2, 2])
    >>> s = split_by_task(p, q, list("aabb"))
    >>> round(s["across"], 4), round(s["within"], 4), s["dominant"]
    (0.0556, 0.2111, 'within')
    """
    p = p / p.sum() if p.sum() > 0 else p
    q = q / q.sum() if q.sum() > 0 else q
    labels = tasks if isinstance(tasks, pl.Series) else pl.Series(tasks)
    codes = labels.rank("dense").fill_null(0).to_numpy().astype(np.int64)  # a null: a task
    big_p, big_q = np.bincount(codes, weights=p), np.bincount(codes, weights=q)  # P_t, Q_t
    across = 0.5 * float(np.abs(big_p - big_q).sum())
    both = (big_p > 0) & (big_q > 0)  # a task with no mass under one: all of it is across
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.where(both[codes], np.abs(p / big_p[codes] - q / big_q[codes]), 0.0)
    inside = 0.5 * np.bincount(codes, weights=moved, minlength=big_p.size)
    within = float((0.5 * (big_p + big_q) * inside)[both].sum())
    return {
        "across": round(across, 12),
        "within": round(within, 12),
        "dominant": "across" if across > within else "within",
    }


def task_labels(analysis: Analysis) -> pl.Series | None:
    """Each group's task, for the split by task; None without a task column or when a
    group holds several tasks (the split would assign it to its first: the
    ``mixed_task_groups`` flag says so instead)."""
    groups = analysis.groups
    if "task" not in groups.columns:
        return None
    if "task_mixed" in groups.columns and bool(groups["task_mixed"].fill_null(False).any()):
        return None
    return groups["task"]


def moved(analysis: Analysis) -> tuple[float | None, dict[str, Any] | None]:
    """The run's :func:`reallocated` share (None: no update to place) and, with one task
    per group, its :func:`split_by_task`: what the verdict and the ``reallocation`` finding
    both report."""
    p, q = masses(analysis)
    share = reallocated(p, q)
    tasks = task_labels(analysis)
    return share, None if share is None or tasks is None else split_by_task(p, q, tasks)


def masses(analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
    """Each group's update mass Σ A² under GRPO and under Dr. GRPO (``n · scale²``, 0
    where undefined: :func:`~grpoflaw_cli.attribution.update_mass`, as the attribution
    counts it). Dr. GRPO's is the group's Σ (r − mean)² of the rewards the trainer scores
    (after OpenRLHF's clip; TRL's unscorable rollouts get 0)."""
    return analysis.update_masses  # computed once (read-only)


def per_iteration(analysis: Analysis) -> dict[Any, float | None]:
    """Per step, :func:`reallocated` with the shares inside the iteration."""
    frame = per_iteration_frame(analysis)
    return dict(zip(frame["step"].to_list(), frame["reallocated"].to_list(), strict=True))


def per_iteration_frame(analysis: Analysis) -> pl.DataFrame:
    """:func:`per_iteration` as a frame (``step``, ``reallocated``; steps in the order they
    first appear), computed a length of step at a time: the steps with k groups are summed
    as the rows of one k-column array, which NumPy sums exactly as it sums each alone."""
    p, q = masses(analysis)
    steps = (
        pl.DataFrame({"step": analysis.groups["step"]})
        .with_row_index("i")
        .group_by("step", maintain_order=True)
        .agg(pl.col("i"))
    )
    index, lengths = steps["i"], steps["i"].list.len().to_numpy()
    sp, sq, total = np.zeros(len(lengths)), np.zeros(len(lengths)), np.zeros(len(lengths))
    for k in np.unique(lengths):  # a few distinct group counts, not one pass per step
        which = np.flatnonzero(lengths == k)
        rows = index.gather(which).list.to_array(int(k)).to_numpy().astype(np.int64)
        pk, qk = p[rows], q[rows]
        sp[which], sq[which] = pk.sum(axis=1), qk.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            total[which] = np.abs(pk / sp[which, None] - qk / sq[which, None]).sum(axis=1)
    moved = list(map(round, (0.5 * total).tolist(), repeat(12, len(lengths))))
    defined = pl.Series((sp > 0) & (sq > 0))
    return steps.select(
        "step",
        reallocated=pl.when(defined).then(pl.Series(moved, dtype=pl.Float64)),
    )


def _steps(steps: Sequence[Any]) -> str:
    named = [str(s) for s in steps]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _where(analysis: Analysis, diff: np.ndarray) -> list[Any]:
    """The steps where most of the run's reallocation happens."""
    frame = pl.DataFrame({"step": analysis.groups["step"], "d": diff})
    top = frame.group_by("step").agg(pl.col("d").sum()).sort("d", "step", descending=[True, False])
    return sorted(top.filter(pl.col("d") > 0)["step"].head(TOP_STEPS).to_list())


def _amount(share: float) -> str:
    return "little" if share < LITTLE else "much" if share >= MUCH else "some"


def _what(share: float, steps: list[Any], run_steps: int) -> str:
    where = _most_at(steps, run_steps)
    return (
        f"{_amount(share).capitalize()} of the update moved: GRPO's std normalization places "
        f"{percent(share)} of the run's update mass differently from Dr. GRPO, which keeps "
        f"reward magnitude{where}."
    )


def _groups_sentence(analysis: Analysis, p: np.ndarray, q: np.ndarray) -> str:
    spread = analysis.groups["spread"].to_numpy()
    gain = analysis.live & (p > q)
    live = int(analysis.live.sum())
    if not gain.any():
        return ""
    k, most = int(gain.sum()), num(float(spread[gain].max()))
    which = (
        f"gains weight, with a reward spread of {most}"
        if k == 1
        else f"gain weight, all with a reward spread of at most {most}"
    )
    return (
        f"{num(k)} of {count(live, 'group')} with a signal {which}: a small reward difference "
        "gets as much say in what the model learns as a large one."
    )


def _tasks_sentence(split: dict[str, Any]) -> str:
    across, within = split["across"], split["within"]
    if split["dominant"] == "across":
        return (
            f"Most of it moves mass between tasks ({percent(across)} between, {percent(within)} "
            "within them; the two overlap, so they do not add up): GRPO equalizes tasks on "
            "different reward scales, which may be intended."
        )
    return (
        f"Most of it is within tasks ({percent(within)}; {percent(across)} between tasks), "
        "where reward magnitude is information GRPO discards."
    )


def _components_sentence(analysis: Analysis) -> str:
    """The reward components whose groups gain the most update mass under GRPO, when they
    gain at least :data:`LITTLE` of it (:mod:`~grpoflaw_cli.attribution`)."""
    rows = analysis.attribution
    if not rows:
        return ""
    top = max(rows, key=lambda r: r["share_grpo"] - r["share_dr_grpo"])
    if top["share_grpo"] - top["share_dr_grpo"] < LITTLE:
        return ""
    names = " and ".join(top["components"])
    vary = "varies" if len(top["components"]) == 1 else "vary"
    return (
        f"Groups where only {names} {vary} carry {percent(top['share_grpo'])} of GRPO's update "
        f"mass against {percent(top['share_dr_grpo'])} under Dr. GRPO."
    )


def silent(analysis: Analysis, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Mask of the groups that give no gradient: no signal (:attr:`Analysis.live`), except
    a lone rollout that the trainer's conventions still score (verl: against mean 0 and
    std 1), seen by its mass ``p`` (GRPO) or ``q`` (Dr. GRPO)."""
    n = analysis.groups["n"].to_numpy()
    scored_alone = (n < 2) & ((p > 0) | (q > 0))
    mask: np.ndarray = ~analysis.live & ~scored_alone
    return mask


def _zero_sentence(analysis: Analysis, dead: np.ndarray, share: float) -> str:
    if share <= 0:
        return ""
    n = analysis.groups["n"].to_numpy()
    steps = _where(analysis, np.where(dead, n, 0).astype(float))
    alone = " (or alone)" if bool((dead & (n < 2)).any()) else ""
    return (
        f"{percent(share)} of the rollouts are in groups with constant rewards{alone} and "
        f"give no gradient{_most_at(steps, _run_steps(analysis))}."
    )


def verdict(
    analysis: Analysis,
    source: str = "generic",
    framework: str = "verl",
    components: bool = False,
    logged_tolerance: float = LOGGED_TOLERANCE,
) -> dict[str, Any]:
    """``summary.verdict``: ``reallocated``, with a task column also
    ``reallocated_within_tasks``, ``reallocated_across_tasks`` and ``dominant``;
    ``zero_signal``, ``text`` (one to three sentences) and ``recommendation`` (None when
    the numbers call for no change; see :func:`recommendation`). ``logged_tolerance``:
    how close the trainer's logged advantages must be to an estimator to be said to
    match it."""
    p, q = masses(analysis)
    share, split = moved(analysis)
    dead = silent(analysis, p, q)
    p, q = p / max(p.sum(), 1e-300), q / max(q.sum(), 1e-300)
    n = analysis.groups["n"].to_numpy().astype(float)
    zero = float(n[dead].sum() / n.sum()) if n.sum() > 0 else 0.0  # exact counts
    out: dict[str, Any] = {"reallocated": share}
    if share is None:  # 0/0: no group gives a gradient under either estimator
        return {
            **out,
            "zero_signal": zero,
            "text": "No update from a group baseline: every group has constant rewards (or "
            "one rollout), so GRPO and Dr. GRPO give no gradient and there is nothing to "
            "reallocate (an estimator that whitens over the batch, REINFORCE++, still does).",
            "recommendation": None,
        }
    if split is not None:
        out["reallocated_within_tasks"] = split["within"]
        out["reallocated_across_tasks"] = split["across"]
        out["dominant"] = split["dominant"]
    out["zero_signal"] = zero
    sentences = [_what(share, _where(analysis, np.abs(p - q)), _run_steps(analysis))]
    if share >= LITTLE:
        parts = _components_sentence(analysis)
        sentences.append(
            _tasks_sentence(split) if split else parts or _groups_sentence(analysis, p, q)
        )
        if split:
            sentences.append(parts)
    sentences = [s for s in sentences if s]
    if len(sentences) < 3:  # one to three sentences: the zero-signal share is in the numbers
        sentences.append(_zero_sentence(analysis, dead, zero))
    out["text"] = " ".join(s for s in sentences if s)
    matters = split["within"] if split else share
    wanted = matters >= LITTLE
    rec = recommendation(source, framework, components, logged_best(analysis, logged_tolerance))
    if rec["settings"] and split and split["dominant"] == "across":
        rec["text"] += (
            " Dropping the std division also ends GRPO's equal weighting of the tasks: "
            "weigh the tasks' rewards yourself if you want to keep it."
        )
    rec["assumed"] = source == "generic"  # the trainer is the conventions' guess
    out["recommendation"] = rec if wanted else None
    return out


def _most_at(steps: list[Any], run_steps: int) -> str:
    """``, most at steps 3, 9 and 13``; nothing when those are all the run's steps."""
    if not steps or len(steps) >= run_steps:
        return ""
    return f", most at step{'s' if len(steps) > 1 else ''} {_steps(steps)}"


def _run_steps(analysis: Analysis) -> int:
    return int(analysis.groups["step"].n_unique())


def logged_best(analysis: Analysis, tolerance: float = LOGGED_TOLERANCE) -> str | None:
    """The estimator the trainer's logged advantages match, most often over the
    iterations; None without logged advantages, or when at some iteration no estimator is
    within ``tolerance`` (relative RMS) of them: closest is not a match."""
    it = analysis.iterations
    if "logged_best" not in it.columns:
        return None
    it = it.filter(pl.col("logged_best").is_not_null())
    if it.is_empty() or (it["logged_best_error"] > tolerance).any():
        return None
    return str(it["logged_best"].mode().sort()[0])


def recommendation(
    source: str, framework: str, components: bool = False, logged: str | None = None
) -> dict[str, Any]:
    """What to set instead of GRPO's std normalization, in the trainer's own words: by
    the log's ``source`` (a trainer) when it names one, else by the conventions'
    ``framework``. ``components``: the reward is a weighted sum of several columns.
    ``logged``: the estimator the trainer's own advantages match; when it keeps reward
    magnitude, the run did not divide by the std and there is nothing to change.

    >>> recommendation("trl", "trl")["settings"]
    ['scale_rewards="none"', 'scale_rewards="batch"']
    >>> recommendation("prime-rl", "verl", logged="dr_grpo")["settings"]
    []
    >>> recommendation("art", "verl")["trainer"]
    'ART'
    """
    trainer = {"trl": "TRL", "art": "ART", "nemo-rl": "NeMo-RL", "openrlhf": "OpenRLHF"}
    if logged in REGISTRY and REGISTRY[logged].keeps == "groups and iterations":
        return {
            "trainer": trainer.get(source, source),
            "settings": [],
            "text": f"The logged advantages match {REGISTRY[logged].title}, which keeps reward "
            "magnitude: this run did not divide by the std, so the figures above are what "
            "GRPO would have done, not what it did.",
        }
    if source == "prime-rl":  # src/prime_rl/orchestrator/advantage.py
        if logged == "max_rl":
            return {
                "trainer": "prime-rl",
                "settings": [],
                "text": "The logged advantages match MaxRL, (r − μ)/μ: dividing by the group "
                "mean erases reward magnitude as GRPO's std does. prime-rl's default "
                "advantage, the reward minus the group mean, keeps it.",
            }
        return {
            "trainer": "prime-rl",
            "settings": [],
            "text": "prime-rl already centers rewards without dividing by the std by default: "
            "the figures above are what GRPO would do; check that the run kept that default.",
        }
    if source == "open-instruct":  # open_instruct/data_loader.py (grpo_fast.py's Args before)
        return {
            "trainer": "open-instruct",
            "settings": ["--advantage_normalization_type centered"],
            "text": "--advantage_normalization_type centered subtracts the group mean without "
            "dividing by the std (Dr. GRPO's advantage). It is open-instruct's default today "
            "(data_loader.py); older versions defaulted to standard, the std division"
            + (
                "; this run's logged advantages show the std division: an older version, "
                "or standard set by hand."
                if logged == "grpo"
                else "."
            ),
        }
    if source == "art":  # art/dev/train.py's TrainConfig; the advantage in art's preprocessing
        return {
            "trainer": "ART",
            "settings": ["_config=art.dev.TrainConfig(scale_rewards=False)"],
            "text": "Passing _config=art.dev.TrainConfig(scale_rewards=False) to model.train "
            "keeps reward magnitude: ART then subtracts the group mean without dividing by "
            "the std (Dr. GRPO's advantage).",
        }
    if source == "nemo-rl":
        return {
            "trainer": "NeMo-RL",
            "settings": ["grpo.normalize_rewards=false"],
            "text": "grpo.normalize_rewards=false keeps the group baseline "
            "(grpo.use_leave_one_out_baseline) and stops dividing by the group std.",
        }
    name = source if source == "trl" else framework
    return _FRAMEWORK.get(name, _FRAMEWORK["verl"])(components)


def _trl(components: bool) -> dict[str, Any]:
    settings = ['scale_rewards="none"', 'scale_rewards="batch"']
    text = (
        'scale_rewards="none" keeps reward magnitude (Dr. GRPO); "batch" divides by one std '
        "per batch, so groups keep their relative magnitude."
    )
    if components:
        settings += ["reward_weights", 'multi_objective_aggregation="normalize_then_sum"']
        text += (
            " With several reward functions, set reward_weights to what each is worth, or "
            'normalize each before summing (multi_objective_aggregation="normalize_then_sum").'
        )
    return {"trainer": "TRL", "settings": settings, "text": text}


def _verl(components: bool) -> dict[str, Any]:
    settings = ["algorithm.norm_adv_by_std_in_grpo=False", "algorithm.adv_estimator=rloo"]
    text = (
        "algorithm.norm_adv_by_std_in_grpo=False keeps reward magnitude (Dr. GRPO); "
        "algorithm.adv_estimator=rloo does too, with a leave-one-out baseline."
    )
    if components:
        settings.append("algorithm.adv_estimator=gdpo")
        text += (
            " With several reward components, algorithm.adv_estimator=gdpo normalizes each "
            "apart; set algorithm.gdpo_reward_weights to the reward's own weights, or it weighs "
            "them equally and a small term counts as much as the main one."
        )
    return {"trainer": "verl", "settings": settings, "text": text}


def _openrlhf(components: bool) -> dict[str, Any]:
    return {
        "trainer": "OpenRLHF",
        "settings": ["advantage_estimator=dr_grpo", "advantage_estimator=rloo"],
        "text": "The dr_grpo or rloo advantage estimator keeps reward magnitude; "
        "group_norm divides by the group std.",
    }


_FRAMEWORK = {"trl": _trl, "verl": _verl, "openrlhf": _openrlhf}
