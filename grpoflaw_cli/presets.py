"""Trainer log presets: recognise what a trainer wrote and map it without flags.

Each preset says which columns play which role, whose numerical conventions apply, how
missing rewards are treated and which column (if any) holds the trainer's own advantage.
Field names follow ``shared/reference/LOG_FORMATS.md`` (read from each trainer's source).
Pure: it sees file names and column names/types, never rows.

>>> p = choose([Path("completions/completions_00010.parquet")],
...            {"step": "i64", "prompt": "str", "completion": "str", "acc": "f64",
...             "advantage": "f64"}, "auto")
>>> (p.name, p.framework, p.mapping.reward, p.blocks_from)
('trl', 'trl', ('acc',), 'prompt')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from grpoflaw_cli.columns import ColumnMap, NanRewards, listed
from grpoflaw_cli.errors import UsageError

Framework = Literal["verl", "trl", "openrlhf"]

SOURCES = ("auto", "generic", "verl", "trl", "open-instruct", "prime-rl", "art", "nemo-rl")


@dataclass(frozen=True)
class Preset:
    """How to read one trainer's logs."""

    name: str
    why: str
    framework: Framework = "verl"
    mapping: ColumnMap = field(default_factory=ColumnMap)
    nan_rewards: NanRewards = "refuse"
    """``nansum``: TRL's rule, a missing reward component counts as 0 unless every
    component is missing (then the rollout is unscorable and gets advantage 0)."""
    logged_advantage: str | None = None
    """The column holding the trainer's own advantage, shown beside the recomputed ones."""
    logged_estimator: str = "grpo"
    """The estimator the trainer's default configuration computes."""
    blocks_from: str | None = None
    """Groups are consecutive blocks; infer the block size from runs of this column."""
    ddof: int | None = None
    eps: float | None = None
    explode: str | None = None
    """A column holding a list of rollouts per row (one row per group, as ART's JSONL)."""
    reshape: str | None = None
    """A named reshaping of the rows before the mapping applies (``nemo-rl``: unwrap its
    batch slices of one and derive ``prompt``, ``reward``, ``advantage``)."""
    unpack: str | None = None
    """A JSON-string (or struct) column whose numeric fields are the reward's components
    (prime-rl's and ART's ``metrics``), read as ``<column>.<field>`` columns."""


def _numeric(dtype: str) -> bool:
    return bool(re.match(r"^(i|u|f)\d+$|^(Int|UInt|Float)\d+$", dtype))


def _optional(columns: Mapping[str, str], name: str) -> str | None:
    """``name`` if the log has that column, else None (an optional role)."""
    return name if name in columns else None


def _has(columns: Mapping[str, str], *names: str) -> bool:
    return all(n in columns for n in names)


def _trl(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    named = any(re.fullmatch(r"completions_\d+\.parquet", f.name) for f in files)
    if not (named or _has(columns, "prompt", "completion", "advantage")):
        return None
    names = list(columns)
    lo = names.index("completion") + 1 if "completion" in names else 0
    hi = names.index("advantage") if "advantage" in names else len(names)
    rewards = tuple(
        c for c in names[lo:hi] if _numeric(columns[c]) and c not in ("step", "advantage")
    )
    why = (
        "file names completions_{step}.parquet"
        if named
        else "columns prompt, completion, advantage"
    ) + " (TRL GRPOTrainer log_completions)"
    return Preset(
        name="trl",
        why=why,
        framework="trl",
        mapping=ColumnMap(step=_optional(columns, "step"), reward=rewards),
        nan_rewards="nansum",
        logged_advantage=_optional(columns, "advantage"),
        blocks_from=_optional(columns, "prompt"),
    )


OUTPUT_PREFIX = "adv_"
"""The advantage columns ``grpoflaw advantages`` writes (``adv_<estimator>``)."""

VERL_FIELDS = ("input", "output", "gts", "score", "step", "uid", "request_id", "reward")
"""verl dump fields that are no reward-extra key (``reward`` is the validation dump's copy
of ``score``); ``overlong`` is DAPO's truncation flag, not a reward."""


def _verl(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not _has(columns, "input", "output", "score"):
        return None
    group = "uid" if "uid" in columns else "input"
    # Reward-extra keys (compute_score's dict, acc, DAPO's overlong_reward): the per-key
    # scores verl's GDPO normalises (algorithm.gdpo_reward_keys). One alone is no split.
    extras = tuple(
        c
        for c, t in columns.items()
        if c not in (*VERL_FIELDS, "overlong")
        and not c.startswith(OUTPUT_PREFIX)  # grpoflaw's own output, read back
        and (_numeric(t) or t == "bool")
    )
    return Preset(
        name="verl",
        why="fields input, output, score (verl rollout_data_dir / validation_data_dir dump)",
        framework="verl",
        mapping=ColumnMap(
            step=_optional(columns, "step"),
            group=group,
            reward=("score",),
            components=extras if len(extras) > 1 else (),
        ),
    )


def _open_instruct(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not _has(columns, "prompt_idx", "sample_idx", "reward"):
        return None
    return Preset(
        name="open-instruct",
        why="fields prompt_idx, sample_idx, reward (open-instruct save_traces)",
        mapping=ColumnMap(
            step=_optional(columns, "step"),
            group="prompt_idx",
            reward=("reward",),
            length=_optional(columns, "response_tokens"),
            task=_optional(columns, "dataset"),
        ),
        logged_advantage=_optional(columns, "advantage"),
        ddof=0,
        eps=1e-8,
    )


def _prime_rl(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not _has(columns, "problem_id", "reward"):
        return None
    return Preset(
        name="prime-rl",
        why="fields problem_id, reward (prime-rl rollouts)",
        mapping=ColumnMap(
            step=_optional(columns, "step"),
            group="problem_id",
            reward=("reward",),
            task=_optional(columns, "env_name"),
        ),
        logged_advantage=_optional(columns, "advantage"),
        logged_estimator="dr_grpo",
        unpack=_optional(columns, "metrics"),
    )


NEMO_RL_SLICED = {
    "rewards": 0,
    "input_lengths": 0,
    "sample_loss_mask": 0,
    "content": 1,
    "token_ids": 1,
    "token_loss_mask": 1,
    "advantages": 1,
}
"""The NeMo-RL fields grpoflaw reads, each with the depth of lists its one sample holds
(``content`` is a list of messages, ``token_ids`` one per token): NeMo-RL writes each
sample's value inside a batch slice of one, a list one level deeper."""


def _nemo_rl(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not _has(columns, "content", "rewards", "input_lengths"):
        return None
    return Preset(
        name="nemo-rl",
        why="fields content, rewards, input_lengths (NeMo-RL train_data_step{N}.jsonl); "
        "groups are identical prompt tokens, as its baseline",
        mapping=ColumnMap(
            group="prompt",
            reward=("reward",),
            length="response_tokens"
            if columns.get("token_loss_mask", "").startswith("list")
            else None,
        ),
        logged_advantage="advantage" if "advantages" in columns else None,
        logged_estimator="grpo_loo",
        reshape="nemo-rl",
        ddof=1,
        eps=1e-6,
    )


def _art(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if list(columns) == ["trajectories"]:
        return Preset(
            name="art",
            why="one JSON line per group with a 'trajectories' list (OpenPipe ART)",
            mapping=ColumnMap(group="group_index", reward=("reward",)),
            explode="trajectories",
            unpack="metrics",
            ddof=0,
            eps=1e-6,
        )
    if _has(columns, "group_index", "reward"):
        return Preset(
            name="art",
            why="fields group_index, reward (OpenPipe ART trajectories parquet)",
            mapping=ColumnMap(
                step=_optional(columns, "step"), group="group_index", reward=("reward",)
            ),
            unpack=_optional(columns, "metrics"),
            ddof=0,
            eps=1e-6,
        )
    return None


DETECTORS = {
    "trl": _trl,
    "verl": _verl,
    "open-instruct": _open_instruct,
    "prime-rl": _prime_rl,
    "art": _art,
    "nemo-rl": _nemo_rl,
}


def choose(files: Sequence[Path], columns: Mapping[str, str], requested: str = "auto") -> Preset:
    """The preset for a log: ``requested`` by name, or the first that matches (``auto``).

    ``columns`` maps each column name to its dtype's text (``"f64"``, ``"str"``, ...).
    """
    if requested not in SOURCES:
        raise UsageError(
            f"unknown --source {requested!r}", hint="choose from " + ", ".join(SOURCES)
        )
    if requested == "generic":
        return Preset(name="generic", why="--source generic")
    if requested != "auto":
        preset = DETECTORS[requested](files, columns)
        if preset is None:
            raise UsageError(
                f"--source {requested}: the log does not have that trainer's columns",
                hint="the log has columns: " + listed(list(columns)),
            )
        return preset
    for detector in DETECTORS.values():
        preset = detector(files, columns)
        if preset is not None:
            return preset
    return Preset(name="generic", why="no trainer preset matched: common column names")


def merge(preset: ColumnMap, user: ColumnMap) -> ColumnMap:
    """The user's flags win over the preset's choices, field by field (the preset's
    components go with its reward: not with the user's ``--reward-col``)."""
    return ColumnMap(
        components=user.components or (() if user.reward else preset.components),
        step=user.step or preset.step,
        group=user.group or (None if user.group_size else preset.group),
        reward=user.reward or preset.reward,
        reward_weights=user.reward_weights,
        group_size=user.group_size,
        length=user.length or preset.length,
        task=user.task or preset.task,
        baseline=user.baseline or preset.baseline,
    )
