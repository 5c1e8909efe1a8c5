"""Which columns of a log play which canonical role, and why. Pure: names in, choices out.

The canonical schema everything after ingest speaks:

=========  ==========================================================
column     meaning
=========  ==========================================================
``step``   training iteration
``group``  prompt group the GRPO baseline is taken over
``reward`` scalar reward (weighted sum of the reward columns), Float64
``length`` response length in tokens (optional; token-weighted whitening)
``task``   task / data source name (optional)
``baseline`` the greedy rollout's reward, ReMax's baseline (optional)
=========  ==========================================================

>>> detect(["global_step", "uid", "score"], ColumnMap()).reward_cols
('score',)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from grpoflaw_cli.errors import InputError, UsageError

CANONICAL = ("step", "group", "reward", "length", "task")

STEP_NAMES = ("step", "global_step", "iteration", "iter", "training_step", "train_step", "epoch")
GROUP_NAMES = (
    "group",
    "example_id",  # verifiers (prime-rl) episodes
    "group_id",
    "group_idx",
    "group_index",
    "prompt_id",
    "prompt_idx",
    "problem_id",
    "uid",
    "prompt",
    "input",
    "question",
)
REWARD_NAMES = ("reward", "score", "rewards", "total_reward", "return", "scores")
LENGTH_NAMES = (
    "response_length",
    "response_len",
    "completion_length",
    "output_length",
    "num_tokens",
    "length",
)
TASK_NAMES = ("task", "task_name", "data_source", "dataset", "env_name", "env")
BASELINE_NAMES = (
    "reward_baseline",
    "reward_baselines",
    "baseline",
    "greedy_reward",
    "greedy_score",
)

INTERNAL_PREFIX = "__"
"""grpoflaw's own working columns start with this; input columns never do once read."""
ESCAPE = "_^"
"""An input column whose name starts with ``__`` (or with this) is carried under this prefix,
so that it cannot collide with a working column, and written out under its own name."""


def carried_name(name: str) -> str:
    """The name an input column has in the canonical frame (the inverse of
    :func:`input_name`).

    >>> carried_name("__session"), carried_name("reward")
    ('_^__session', 'reward')
    """
    return ESCAPE + name if name.startswith((INTERNAL_PREFIX, ESCAPE)) else name


def input_name(name: str) -> str:
    """The input's own name of a carried column.

    >>> input_name("_^__session")
    '__session'
    """
    return name[len(ESCAPE) :] if name.startswith(ESCAPE) else name


ROLE_NAMES = (*STEP_NAMES, *GROUP_NAMES, *REWARD_NAMES, *LENGTH_NAMES, *TASK_NAMES, *BASELINE_NAMES)
"""Every name :func:`detect` looks for."""

Format = Literal["jsonl", "csv", "tsv", "parquet"]
NanRewards = Literal["refuse", "nansum"]


@dataclass(frozen=True)
class ColumnMap:
    """How the user mapped columns on the command line (``None``: detect)."""

    step: str | None = None
    group: str | None = None
    reward: tuple[str, ...] = ()
    reward_weights: tuple[float, ...] | None = None
    group_size: int | None = None
    length: str | None = None
    task: str | None = None
    baseline: str | None = None
    components: tuple[str, ...] = ()
    """Reward components the reward column already includes (``--component-col``)."""


GroupMode = Literal["column", "blocks", "iteration"]
GroupKey = Literal["value", "verl_uid"]
VERL_UID = r"_\d+_\d+$"
"""verl v1 writes ``uid = "{prompt_uuid}_{session_id}_{output_index}"``; the group is the prefix."""


@dataclass(frozen=True)
class Detection:
    """What ingest decided, and why (``grpoflaw inspect`` prints this)."""

    files: tuple[Path, ...]
    formats: tuple[Format, ...]
    columns: tuple[str, ...]
    step_col: str | None
    group_col: str | None
    group_mode: GroupMode
    group_size: int | None
    reward_cols: tuple[str, ...]
    reward_weights: tuple[float, ...] | None
    length_col: str | None
    task_col: str | None
    baseline_col: str | None = None
    reasons: tuple[str, ...] = field(default=())
    group_key: GroupKey = "value"
    """How the group column's values become group keys (``verl_uid``: strip the
    ``_{session}_{index}`` suffix of verl v1 uids)."""
    file_steps: tuple[int, ...] = ()
    """With no step column and several files: the step each file stands for."""
    source: str = "generic"
    """The trainer preset that matched (:mod:`grpoflaw_cli.presets`)."""
    framework: str = "verl"
    """Whose conventions the preset implies."""
    nan_rewards: NanRewards = "refuse"
    logged_advantage: str | None = None
    logged_estimator: str = "grpo"
    explode: str | None = None
    reshape: str | None = None
    unpack: str | None = None
    unpack_fields: tuple[str, ...] = ()
    """The numeric fields of the ``unpack`` column read as ``<unpack>.<field>`` columns."""
    sessions: bool = False
    """verl v1 multi-turn: several outputs per session; only the last counts."""
    ddof: int | None = None
    eps: float | None = None
    group_per_file: bool = False
    """Several files share a step (a step folder's subsets): a group never spans files."""
    component_cols: tuple[str, ...] = ()
    """Reward components beside a reward that already includes them (verl's reward-extra
    keys, prime-rl's per-rubric ``metrics``, ``--component-col``)."""
    fitted_weights: tuple[float, ...] | None = None
    """The components' weights in the reward, when they were found by fitting it
    (prime-rl's rubric weights, say)."""
    step_as_integer: bool = False
    """The step column is text holding whole numbers ("1", "10"): read as integers, so
    that steps sort 1, 2, 10 and not as text."""
    group_as_text: bool = False
    """The files disagree on whether group ids are numbers or text: every file's ids are
    read as text in one canonical form (``1``, ``1.0`` and ``"1"`` are all ``"1"``)."""

    @property
    def components(self) -> tuple[str, ...]:
        """The reward's components, for GDPO and the aliasing check: the component columns,
        else the reward columns when several are summed; none for a single reward."""
        if self.component_cols:
            return self.component_cols
        return self.reward_cols if len(self.reward_cols) > 1 else ()

    @property
    def component_weights(self) -> tuple[float, ...]:
        """GDPO's weight per component: ``--reward-weights`` for summed reward columns,
        else 1 (verl's default ``gdpo_reward_weights``)."""
        if not self.component_cols and self.reward_weights:
            return self.reward_weights
        if self.component_cols and self.fitted_weights:
            return self.fitted_weights
        return (1.0,) * len(self.components)


def _pick(names: Sequence[str], columns: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _require(col: str, columns: Sequence[str], flag: str) -> str:
    if col not in columns:
        raise UsageError(
            f"{flag} '{col}': no such column",
            hint="the log has columns: " + listed(columns),
        )
    return col


def listed(names: Sequence[str], most: int = 30) -> str:
    """Names for a message: the first ``most``, and how many more.

    >>> listed(["a", "b", "c"], most=2)
    'a, b … (1 more)'
    """
    shown = ", ".join(names[:most])
    return shown + (f" … ({len(names) - most:,} more)" if len(names) > most else "")


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
            f"--reward-col '{twice[0]}' is given twice",
            hint="name each reward column once (--reward-weights scales one)",
        )
    roles = [("step", step, "--step-col"), ("group", group, "--group-col")]
    roles += [("reward", c, "--reward-col") for c in rewards]
    roles += [("length", length, "--length-col"), ("baseline", baseline, "--baseline-col")]
    seen: dict[str, tuple[str, str]] = {}
    for role, column, flag in roles:
        if column is None:
            continue
        other = seen.get(column)
        if other is not None and {other[0], role} != {"step", "group"}:
            raise UsageError(
                f"'{column}' cannot be both the {other[0]} and the {role} column",
                hint=f"map another column with {other[1]} or {flag}",
            )
        seen.setdefault(column, (role, flag))
    for column in components:
        if column in (step, group):
            role = "step" if column == step else "group"
            raise UsageError(
                f"'{column}' is the {role} column, not a reward component",
                hint="name a numeric part of the reward with --component-col",
            )


def detect(columns: Sequence[str], mapping: ColumnMap, numeric: Sequence[str] = ()) -> Detection:
    """Decide which source columns play which canonical role, and say why. Pure.

    ``numeric`` names the columns known to hold numbers: when no column has a common
    reward name, the numeric columns named like ``*reward*`` (one per reward function, as
    TRL logs them) are summed.
    """
    reasons: list[str] = []
    cols = list(columns)
    numbers = set(numeric)  # sets, not lists: a log may have 100,000 columns

    if mapping.reward:
        rewards = tuple(_require(c, cols, "--reward-col") for c in mapping.reward)
        reasons.append(f"reward ← {', '.join(rewards)} (from --reward-col)")
    else:
        found = _pick(REWARD_NAMES, cols)
        parts = tuple(c for c in cols if "reward" in c.lower() and c in numbers)
        if found is not None:
            rewards = (found,)
            reasons.append(f"reward ← '{found}' (a common reward column name)")
        elif parts:
            rewards = parts
            reasons.append(
                f"reward ← {', '.join(parts)} (numeric columns named like *reward*, one per "
                "reward function; choose with --reward-col, weigh with --reward-weights)"
            )
        else:
            odd = [c for c in cols if ";" in c or "\t" in c or "|" in c]
            raise InputError(
                "no reward column found (looked for: " + ", ".join(REWARD_NAMES) + ")",
                hint=(
                    f"the header '{odd[0]}' looks like another separator: grpoflaw reads "
                    "comma-separated .csv and tab-separated .tsv"
                    if odd
                    else "name it with --reward-col NAME (repeat it to sum several components); "
                    "the log has columns: " + listed(cols)
                ),
            )
    weights = mapping.reward_weights
    if weights is not None:
        if len(weights) != len(rewards):
            raise UsageError(
                f"--reward-weights has {len(weights)} values for {len(rewards)} reward columns",
                hint="give one weight per --reward-col, in the same order",
            )
        infinite = [w for w in weights if not math.isfinite(w)]
        if infinite:
            raise UsageError(
                f"--reward-weights holds {infinite[0]}: weights must be finite numbers",
                hint="e.g. --reward-weights 1,0.5",
            )
        reasons.append(
            "reward = " + " + ".join(f"{w:g}·{c}" for w, c in zip(weights, rewards, strict=True))
        )
    elif len(rewards) > 1:
        reasons.append("reward = " + " + ".join(rewards) + " (components summed, weight 1)")

    if mapping.step:
        step: str | None = _require(mapping.step, cols, "--step-col")
        reasons.append(f"step ← '{step}' (from --step-col)")
    else:
        step = _pick(STEP_NAMES, cols)
        reasons.append(
            f"step ← '{step}' (a common step column name)"
            if step
            else "step: no step column (looked for: "
            + ", ".join(STEP_NAMES)
            + "): the whole log is one iteration; map one with --step-col"
        )

    group: str | None = None
    mode: GroupMode
    if mapping.group and mapping.group_size:
        raise UsageError("--group-col and --group-size contradict each other", hint="pass one")
    if mapping.group_size:
        if mapping.group_size < 1:
            raise UsageError("--group-size must be at least 1")
        mode = "blocks"
        reasons.append(
            f"group: consecutive blocks of {mapping.group_size} rows within each step "
            "(from --group-size)"
        )
    elif mapping.group:
        group = _require(mapping.group, cols, "--group-col")
        mode = "column"
        reasons.append(f"group ← '{group}' (from --group-col)")
    else:
        group = _pick(GROUP_NAMES, [c for c in cols if c not in rewards and c != step])
        if group:
            mode = "column"
            reasons.append(f"group ← '{group}' (a common group column name)")
        else:
            mode = "iteration"
            reasons.append(
                "group: no group column (looked for: "
                + ", ".join(GROUP_NAMES)
                + "): each iteration is one group; use --group-col or --group-size N"
            )

    used = {*rewards, step, group}
    if mapping.length:
        length: str | None = _require(mapping.length, cols, "--length-col")
        reasons.append(f"length ← '{length}' (from --length-col)")
    else:
        length = _pick(LENGTH_NAMES, [c for c in cols if c not in used])
        if length:
            reasons.append(f"length ← '{length}' (token weights for batch whitening)")
    if mapping.task:
        task: str | None = _require(mapping.task, cols, "--task-col")
        reasons.append(f"task ← '{task}' (from --task-col)")
    else:
        task = _pick(TASK_NAMES, [c for c in cols if c not in used and c != length])
        if task:
            reasons.append(f"task ← '{task}'")
    if mapping.baseline:
        baseline: str | None = _require(mapping.baseline, cols, "--baseline-col")
        reasons.append(f"baseline ← '{baseline}' (from --baseline-col)")
    else:
        baseline = _pick(BASELINE_NAMES, [c for c in cols if c not in used and c in numbers])
        if baseline:
            reasons.append(f"baseline ← '{baseline}' (the greedy rollout's reward, for ReMax)")
    roles = {step, group, length, task, baseline}
    components = tuple(
        dict.fromkeys(
            _require(c, cols, "--component-col") for c in mapping.components if c not in roles
        )
    )
    if components:
        reasons.append(
            f"components ← {', '.join(components)} (from --component-col): parts of the "
            "reward; GDPO normalises each, the aliasing check compares them"
        )
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
        reward_weights=weights,
        length_col=length,
        task_col=task,
        baseline_col=baseline,
        reasons=tuple(reasons),
        component_cols=components,
    )
