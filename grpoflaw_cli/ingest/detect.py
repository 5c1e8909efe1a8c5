"""Which columns of a log play which canonical role, and why. Pure: names in, choices out.

Each role is decided in its own phase: the user's mapping if given, else the first
column with a common name for the role (:mod:`grpoflaw_cli.ingest.columns`).

>>> detect(["global_step", "uid", "score"], ColumnMap()).reward_cols
('score',)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from grpoflaw_cli.errors import InputError, UsageError, option
from grpoflaw_cli.formatting import count
from grpoflaw_cli.ingest.columns import (
    BASELINE_NAMES,
    GROUP_NAMES,
    LENGTH_NAMES,
    REWARD_NAMES,
    ROLE_SETTINGS,
    STEP_NAMES,
    TASK_NAMES,
    ColumnMap,
    Detection,
    GroupMode,
    listed,
    weighted_sum,
)


class NoRewardColumn(InputError):
    """No column plays the reward: the log can be described (``inspect``) but not analyzed."""


def _pick(names: Sequence[str], columns: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _require(col: str, columns: Sequence[str], role: str) -> str:
    if col not in columns:
        raise UsageError(
            f"{option(ROLE_SETTINGS[role])} '{col}': no such column",
            hint="the log has columns: " + listed(columns),
        )
    return col


def _distinct_roles(
    step: str | None,
    group: str | None,
    rewards: Sequence[str],
    length: str | None,
    baseline: str | None,
    components: Sequence[str],
) -> None:
    """Refuse one column in two roles that exclude each other (the rewards as the steps,
    say), and a reward column given twice. The step column may be the group column (each
    iteration one group), and a component may be the reward itself."""
    twice = sorted({c for c in rewards if rewards.count(c) > 1})
    if twice:
        raise UsageError(
            f"{option('reward_cols')} '{twice[0]}' is given twice",
            hint=f"name each reward column once ({option('reward_weights')} scales one)",
        )
    roles = [("step", step), ("group", group), *(("reward", c) for c in rewards)]
    roles += [("length", length), ("baseline", baseline)]
    seen: dict[str, str] = {}
    for role, column in roles:
        if column is None:
            continue
        other = seen.get(column)
        if other is not None and {other, role} != {"step", "group"}:
            raise UsageError(
                f"'{column}' cannot be both the {other} and the {role} column",
                hint=f"map another column with {option(ROLE_SETTINGS[other])} or "
                f"{option(ROLE_SETTINGS[role])}",
            )
        seen.setdefault(column, role)
    for column in components:
        if column in (step, group):
            role = "step" if column == step else "group"
            raise UsageError(
                f"'{column}' is the {role} column, not a reward component",
                hint=f"name a numeric part of the reward with {option('component_cols')}",
            )


def _rewards(
    cols: list[str], mapping: ColumnMap, numbers: set[str], reasons: list[str]
) -> tuple[str, ...]:
    """The reward columns: the user's, a common reward name, else every numeric column
    named like ``*reward*`` (one per reward function, as TRL logs them)."""
    if mapping.reward:
        rewards = tuple(_require(c, cols, "reward") for c in mapping.reward)
        reasons.append(f"reward ← {', '.join(rewards)} (from {option('reward_cols')})")
        return rewards
    found = _pick(REWARD_NAMES, cols)
    if found is not None:
        reasons.append(f"reward ← '{found}' (a common reward column name)")
        return (found,)
    parts = tuple(c for c in cols if "reward" in c.lower() and c in numbers)
    if parts:
        reasons.append(
            f"reward ← {', '.join(parts)} (numeric columns named like *reward*, one per "
            f"reward function; choose with {option('reward_cols')}, weigh with "
            f"{option('reward_weights')})"
        )
        return parts
    odd = [c for c in cols if ";" in c or "\t" in c or "|" in c]
    raise NoRewardColumn(
        "no reward column found (looked for: " + ", ".join(REWARD_NAMES) + ")",
        hint=(
            f"the header '{odd[0]}' looks like another separator: grpoflaw reads "
            "comma-separated .csv and tab-separated .tsv"
            if odd
            else f"name it with {option('reward_cols')} NAME (repeat it to sum several "
            "components); the log has columns: " + listed(cols)
        ),
    )


def _component_weights(
    rewards: tuple[str, ...], mapping: ColumnMap, reasons: list[str]
) -> tuple[float, ...] | None:
    """The user's weights as the components' (GDPO's ``w_k``): one reward column that
    already includes the ``component_cols``, and one weight per component; else None
    (the weights, if any, are the reward columns')."""
    weights, parts = mapping.reward_weights, tuple(dict.fromkeys(mapping.components))
    if weights is None or len(rewards) != 1 or len(parts) < 2 or len(weights) != len(parts):
        return None
    _weights(parts, weights, [])  # the same checks as for reward columns
    reasons.append(
        f"components weighted {weighted_sum(weights, parts)} (from {option('reward_weights')}): "
        "GDPO's weight per component"
    )
    return weights


def _weights(
    rewards: tuple[str, ...],
    weights: tuple[float, ...] | None,
    reasons: list[str],
    parts: tuple[str, ...] = (),
) -> None:
    """Check the reward weights against the reward columns (or, with one reward column,
    its components ``parts``), and say how they are summed."""
    if weights is None:
        if len(rewards) > 1:
            reasons.append("reward = " + " + ".join(rewards) + " (components summed, weight 1)")
        return
    if len(weights) != len(rewards):
        also = (
            f" and {count(len(parts), 'component')} ({', '.join(parts)})"
            if len(rewards) == 1 and len(parts) > 1
            else ""
        )
        raise UsageError(
            f"{option('reward_weights')} has {count(len(weights), 'value')} for "
            f"{count(len(rewards), 'reward column')}{also}",
            hint=f"give one weight per {option('reward_cols')} (or, with one reward column, "
            f"per {option('component_cols')}), in the same order",
        )
    infinite = [w for w in weights if not math.isfinite(w)]
    if infinite:
        raise UsageError(
            f"{option('reward_weights')} holds {infinite[0]}: weights must be finite numbers",
            hint=f"e.g. {option('reward_weights')} 1,0.5",
        )
    reasons.append("reward = " + weighted_sum(weights, rewards))


def _step(cols: list[str], mapping: ColumnMap, reasons: list[str]) -> str | None:
    if mapping.step:
        step = _require(mapping.step, cols, "step")
        reasons.append(f"step ← '{step}' (from {option('step_col')})")
        return step
    found = _pick(STEP_NAMES, cols)
    reasons.append(
        f"step ← '{found}' (a common step column name)"
        if found
        else "step: no step column (looked for: "
        + ", ".join(STEP_NAMES)
        + f"): the whole log is one iteration; map one with {option('step_col')}"
    )
    return found


def _group(
    cols: list[str], mapping: ColumnMap, taken: Sequence[str], reasons: list[str]
) -> tuple[str | None, GroupMode]:
    """The group column and how groups are formed: by a column's value, by consecutive
    blocks of ``group_size`` rows, or one group per iteration."""
    if mapping.group and mapping.group_size:
        raise UsageError(
            f"{option('group_col')} and {option('group_size')} contradict each other",
            hint="pass one",
        )
    if mapping.group_size:
        if mapping.group_size < 1:
            raise UsageError(f"{option('group_size')} must be at least 1")
        reasons.append(
            f"group: consecutive blocks of {mapping.group_size} rows within each step "
            f"(from {option('group_size')})"
        )
        return None, "blocks"
    if mapping.group:
        group = _require(mapping.group, cols, "group")
        reasons.append(f"group ← '{group}' (from {option('group_col')})")
        return group, "column"
    found = _pick(GROUP_NAMES, [c for c in cols if c not in taken])
    if found:
        reasons.append(f"group ← '{found}' (a common group column name)")
        return found, "column"
    reasons.append(
        "group: no group column (looked for: "
        + ", ".join(GROUP_NAMES)
        + f"): each iteration is one group; use {option('group_col')} or "
        f"{option('group_size')} N"
    )
    return None, "iteration"


def _optional_roles(
    cols: list[str],
    mapping: ColumnMap,
    used: set[str | None],
    numbers: set[str],
    reasons: list[str],
) -> tuple[str | None, str | None, str | None]:
    """The length, task and baseline columns: the user's, else a common name among the
    columns no other role took (a baseline must hold numbers)."""
    if mapping.length:
        length: str | None = _require(mapping.length, cols, "length")
        reasons.append(f"length ← '{length}' (from {option('length_col')})")
    else:
        length = _pick(LENGTH_NAMES, [c for c in cols if c not in used])
        if length:
            reasons.append(f"length ← '{length}' (token weights for batch whitening)")
    if mapping.task:
        task: str | None = _require(mapping.task, cols, "task")
        reasons.append(f"task ← '{task}' (from {option('task_col')})")
    else:
        task = _pick(TASK_NAMES, [c for c in cols if c not in used and c != length])
        if task:
            reasons.append(f"task ← '{task}'")
    if mapping.baseline:
        baseline: str | None = _require(mapping.baseline, cols, "baseline")
        reasons.append(f"baseline ← '{baseline}' (from {option('baseline_col')})")
    else:
        baseline = _pick(BASELINE_NAMES, [c for c in cols if c not in used and c in numbers])
        if baseline:
            reasons.append(f"baseline ← '{baseline}' (the greedy rollout's reward, for ReMax)")
    return length, task, baseline


def _components(
    cols: list[str], mapping: ColumnMap, roles: set[str | None], reasons: list[str]
) -> tuple[str, ...]:
    components = tuple(
        dict.fromkeys(_require(c, cols, "component") for c in mapping.components if c not in roles)
    )
    if components:
        reasons.append(
            f"components ← {', '.join(components)} (from {option('component_cols')}): parts "
            "of the reward; GDPO normalizes each, the aliasing check compares them"
        )
    return components


def detect(columns: Sequence[str], mapping: ColumnMap, numeric: Sequence[str] = ()) -> Detection:
    """Decide which source columns play which canonical role, and say why. Pure.

    The reasons are shown as they are (``inspect``): they still name the CLI's flags.

    ``numeric`` names the columns known to hold numbers: when no column has a common
    reward name, the numeric columns named like ``*reward*`` (one per reward function, as
    TRL logs them) are summed.
    """
    reasons: list[str] = []
    cols = list(columns)
    numbers = set(numeric)  # sets, not lists: a log may have 100,000 columns
    rewards = _rewards(cols, mapping, numbers, reasons)
    parts_weights = _component_weights(rewards, mapping, reasons)
    if parts_weights is None:
        _weights(rewards, mapping.reward_weights, reasons, tuple(dict.fromkeys(mapping.components)))
    step = _step(cols, mapping, reasons)
    group, mode = _group(cols, mapping, [*rewards, *([step] if step else [])], reasons)
    length, task, baseline = _optional_roles(
        cols, mapping, {*rewards, step, group}, numbers, reasons
    )
    components = _components(cols, mapping, {step, group, length, task, baseline}, reasons)
    _distinct_roles(
        step, group if mode == "column" else None, rewards, length, baseline, mapping.components
    )
    return Detection(
        files=(),
        formats=(),
        columns=tuple(cols),
        step_col=step,
        group_col=group,
        group_mode=mode,
        group_size=mapping.group_size,
        reward_cols=rewards,
        reward_weights=None if parts_weights else mapping.reward_weights,
        length_col=length,
        task_col=task,
        baseline_col=baseline,
        reasons=tuple(reasons),
        component_cols=components,
        fitted_weights=parts_weights,
    )
