"""The names of a log's columns: the canonical roles, the names each role is recognized
by, how input columns are carried beside grpoflaw's working columns, the user's
:class:`ColumnMap` and what ingest decided (:class:`Detection`). Pure: names only.

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

>>> carried_name("__file"), input_name(carried_name("__file"))
('_^__file', '__file')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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
REWARD_NAMES = ("reward", "score", "rewards", "total_reward", "return", "scores", "total")
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
SESSION_COL = "__session"
"""Working column: a rollout's session, where a trainer's rollouts are the outputs of
multi-turn sessions (verl v1); only a session's last output counts in the group statistics,
and every output gets its session's advantage."""
LAST_COL = "__output"
"""Working column: the output's index within its session (:data:`SESSION_COL`)."""


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


OUTPUT_PREFIX = "adv_"
"""The advantage columns ``grpoflaw advantages`` writes (``adv_<estimator>``): read back,
they are carried as ``src_adv_<estimator>`` and never taken for a reward component."""

ROLE_SETTINGS = {
    "step": "step_col",
    "group": "group_col",
    "reward": "reward_cols",
    "length": "length_col",
    "task": "task_col",
    "baseline": "baseline_col",
    "component": "component_cols",
}
"""The setting that maps each role's column, as a message names it
(:func:`~grpoflaw_cli.errors.option`)."""

ROLE_NAMES = (*STEP_NAMES, *GROUP_NAMES, *REWARD_NAMES, *LENGTH_NAMES, *TASK_NAMES, *BASELINE_NAMES)
"""Every name :func:`detect` looks for."""


def weighted_sum(weights: Sequence[float], names: Sequence[str]) -> str:
    """A weighted reward as the reasons write it.

    >>> weighted_sum([1.0, 0.5], ["acc", "format"])
    '1·acc + 0.5·format'
    """
    return " + ".join(f"{w:g}·{c}" for w, c in zip(weights, names, strict=True))


Format = Literal["jsonl", "csv", "tsv", "parquet"]
NanRewards = Literal["refuse", "nansum"]


@dataclass(frozen=True)
class ColumnMap:
    """How the user mapped columns: the CLI's flags, the API's keywords (``None``: detect)."""

    step: str | None = None
    group: str | None = None
    reward: tuple[str, ...] = ()
    reward_weights: tuple[float, ...] | None = None
    group_size: int | None = None
    length: str | None = None
    task: str | None = None
    baseline: str | None = None
    components: tuple[str, ...] = ()
    """Reward components the reward column already includes (``component_cols``)."""


GroupMode = Literal["column", "blocks", "iteration"]
GroupKey = Literal["value", "verl_uid"]


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
    """The trainer preset that matched (:mod:`grpoflaw_cli.ingest.trainers`)."""
    framework: str = "verl"
    """Whose conventions the preset implies."""
    nan_rewards: NanRewards = "refuse"
    logged_advantage: str | None = None
    logged_estimator: str = "grpo"
    explode: str | None = None
    reshape: bool = False
    unpack: str | None = None
    unpack_fields: tuple[str, ...] = ()
    """The numeric fields of the ``unpack`` column read as ``<unpack>.<field>`` columns
    (these four: the preset's, as its trainer's ``reshape`` hook reads them)."""
    sessions: bool = False
    """verl v1 multi-turn: several outputs per session; only the last counts."""
    ddof: int | None = None
    eps: float | None = None
    group_per_file: bool = False
    """Several files share a step (a step folder's subsets): a group never spans files."""
    component_cols: tuple[str, ...] = ()
    """Reward components beside a reward that already includes them (verl's reward-extra
    keys, prime-rl's per-rubric ``metrics``, ``component_cols``)."""
    fitted_weights: tuple[float, ...] | None = None
    """The components' weights in the reward, when they were found by fitting it
    (prime-rl's rubric weights, say) or given with the user's components."""
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
        """GDPO's weight per component: ``reward_weights`` for summed reward columns,
        else 1 (verl's default ``gdpo_reward_weights``)."""
        if not self.component_cols and self.reward_weights:
            return self.reward_weights
        if self.component_cols and self.fitted_weights:
            return self.fitted_weights
        return (1.0,) * len(self.components)


def listed(names: Sequence[str], most: int = 30) -> str:
    """Names for a message: the first ``most``, and how many more.

    >>> listed(["a", "b", "c"], most=2)
    'a, b … (1 more)'
    """
    shown = ", ".join(names[:most])
    return shown + (f" … ({len(names) - most:,} more)" if len(names) > most else "")
