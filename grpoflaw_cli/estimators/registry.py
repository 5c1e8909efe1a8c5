"""The estimator registry: one uniform signature, ``(Groups, Conventions) -> Affine``.

Each catalogue module registers its estimators with :func:`register`; :data:`REGISTRY`
lists them in :data:`LISTING` order, the order every table and output uses. To add an
estimator: write its function in the catalogue module of its family, with the formula,
ddof, eps, singleton rule and upstream source in its docstring, decorate it with
:func:`register`, and put its name in :data:`LISTING`.

>>> resolve("rloo, grpo")
['rloo', 'grpo']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grpoflaw_cli.errors import UsageError, option, spell
from grpoflaw_cli.estimators.affine import Affine
from grpoflaw_cli.estimators.conventions import Conventions
from grpoflaw_cli.estimators.rows import RowVariable

if TYPE_CHECKING:
    from grpoflaw_cli.group_stats import Extremes, Groups

EstimatorFn = Callable[["Groups", Conventions], Affine]
RowVariableFn = Callable[["Groups", Conventions], RowVariable]

LISTING = (
    "grpo",
    "grpo_batch",
    "dr_grpo",
    "rloo",
    "reinforce_pp",
    "reinforce_pp_baseline",
    "gpg",
    "opo",
    "remax",
    "rloo_norm",
    "flash_reinforce",
    "reinforce_pp_nostd",
    "reinforce_pp_baseline_nostd",
    "gdpo",
    "max_rl",
    "grpo_passk",
    "grpo_passk_nostd",
    "grpo_loo",
)
"""Every estimator, in the order outputs list them: the papers' estimators first, then the
frameworks' variants, then those that need a second pass over the rows."""


@dataclass(frozen=True)
class Estimator:
    """A registered estimator: its function and what it does to reward magnitude."""

    name: str
    title: str
    short: str
    """Column header in narrow terminal tables."""
    fn: EstimatorFn
    keeps: str
    """Where reward magnitude survives: "groups and iterations", "within an iteration" or
    "nowhere"."""
    requires: tuple[str, ...] = ()
    """Canonical columns it needs beyond step, group and reward (``length``, ``baseline``)."""
    by_default: bool = True
    """Computed when no estimators are chosen. Off for a framework's variants of another
    estimator and for those that need a second pass over the rows: they run on request
    (the ``estimators`` setting, ``all``) or for the trainer whose default they are."""
    row_variable: RowVariableFn | None = None
    """For an estimator that is no affine map of the reward: its per-rollout value, which
    ``fn``'s :class:`~grpoflaw_cli.estimators.affine.Affine` then maps (an identity, for the
    value *is* the advantage)."""


REGISTRY: dict[str, Estimator] = {}

REFERENCE = "grpo"
"""The estimator the others are measured against: the diagnostics examine it and the
simulation pairs every other with it."""

NEEDS = {
    "length": f"needs response lengths ({option('length_col')})",
    "baseline": f"needs the greedy rollout's reward ({option('baseline_col')})",
}
ON_DEMAND = ("extremes",)
"""Inputs no log lacks: group statistics the pass gathers only for estimators that
require them (they cost several times the plain aggregation)."""


def register(
    name: str,
    title: str,
    short: str,
    keeps: str,
    requires: tuple[str, ...] = (),
    row_variable: RowVariableFn | None = None,
    by_default: bool | None = None,
) -> Callable[[EstimatorFn], EstimatorFn]:
    """Add an estimator to :data:`REGISTRY` under ``name``, in :data:`LISTING` order
    (:attr:`Estimator.by_default` unless it needs a ``row_variable``)."""

    def deco(fn: EstimatorFn) -> EstimatorFn:
        if name not in LISTING:
            raise ValueError(f"estimator {name!r} is not in LISTING: add it where outputs go")
        if name in REGISTRY:
            raise ValueError(f"estimator {name!r} registered twice")
        REGISTRY[name] = Estimator(
            name=name,
            title=title,
            short=short,
            fn=fn,
            keeps=keeps,
            requires=requires,
            by_default=row_variable is None if by_default is None else by_default,
            row_variable=row_variable,
        )
        listed = sorted(REGISTRY.values(), key=lambda est: LISTING.index(est.name))
        REGISTRY.clear()
        REGISTRY.update((est.name, est) for est in listed)
        return fn

    return deco


def defaults() -> list[str]:
    """The estimators computed when none are chosen.

    >>> "grpo" in defaults() and "grpo_loo" not in defaults()
    True
    """
    return [name for name, est in REGISTRY.items() if est.by_default]


def applicable(names: list[str], have: set[str]) -> tuple[list[str], dict[str, str]]:
    """Split ``names`` into those the log has the inputs for, and the others with a reason.

    >>> applicable(["grpo", "opo"], set())
    (['grpo'], {'opo': 'needs response lengths (length_col)'})
    """
    kept: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        missing = [r for r in REGISTRY[name].requires if r not in (*have, *ON_DEMAND)]
        if missing:
            skipped[name] = spell("; ".join(NEEDS[m] for m in missing))
        else:
            kept.append(name)
    return kept, skipped


def resolve(names: str | None) -> list[str]:
    """Parse the ``estimators`` setting, ``"a,b"``; ``None`` selects :func:`defaults`,
    ``"all"`` every registered one. A name not registered, or none, is a
    :class:`~grpoflaw_cli.errors.UsageError`.

    >>> resolve("grpo, rloo")
    ['grpo', 'rloo']
    """
    if names is None:
        return defaults()
    if names.strip() == "all":
        return list(REGISTRY)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    setting, hint = option("estimators"), "see `grpoflaw estimators`"
    if not chosen:
        raise UsageError(
            f"{setting}: no estimator chosen; choose from: all, " + ", ".join(REGISTRY), hint=hint
        )
    unknown = [n for n in chosen if n not in REGISTRY]
    if unknown:
        raise UsageError(
            f"{setting}: unknown estimator {', '.join(map(repr, unknown))}; choose from: "
            + ", ".join(REGISTRY),
            hint=hint,
        )
    return list(dict.fromkeys(chosen))


def require_extremes(g: Groups, name: str) -> Extremes:
    """The groups' extremes, which estimator ``name`` requires (an :data:`ON_DEMAND` input)."""
    if g.extremes is None:
        raise ValueError(f"{name} needs the groups' extremes (group_stats_query(extremes=True))")
    return g.extremes
