"""Relax's rollout results (its ``rollout_result_dir``, by default ``<save>/rollout_result``):
``train/{rollout_id}.jsonl`` and ``eval/{rollout_id}.jsonl``, one line per sample with
``rollout_id``, ``sample_index``, ``prompt``, ``response``, ``reward``,
``response_length``, ``status``, ``group_index`` (the prompt group) and, in eval files,
``dataset``: ``save_rollout_result_jsonl`` and ``save_eval_summary_jsonl`` in
``relax/utils/training/train_dump_utils.py`` (redai-infra/Relax, commit 2765d18). No
advantage is written. Relax's GRPO (``relax/algorithms/rewards.py``) is
``(r − mean) / (std + 1e-6)`` with ``torch.std``'s unbiased std: verl's conventions.

A group index is a position in its rollout batch, so train and eval files of one step
reuse the same indices: a log holding both is refused (read ``train/`` or ``eval/``).

>>> recognize([], {"rollout_id": "i64", "sample_index": "i64", "group_index": "i64",
...                "reward": "f64"}).mapping.group
'group_index'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from grpoflaw_cli.errors import InputError
from grpoflaw_cli.ingest.columns import ColumnMap
from grpoflaw_cli.ingest.trainers.preset import (
    Preset,
    column_if_present,
    has_columns,
    is_numeric_type,
    lacking,
)

NEEDED = ("rollout_id", "sample_index", "group_index", "reward")
"""The fields of Relax's rollout results :func:`recognize` looks for."""

ASSUMES = (
    "Relax at commit 2765d18 (relax/utils/training/train_dump_utils.py; GRPO in "
    "relax/algorithms/rewards.py): the reward a number, GRPO with the unbiased std, eps 1e-6"
)
"""Which Relax the preset follows (``inspect`` says so)."""


def missing(files: Sequence[Path], columns: Mapping[str, str]) -> str:
    """The ``needs`` hook: what a log that :func:`recognize` refused lacks."""
    layout = "Relax's rollout_result/{train,eval}/*.jsonl lines have " + ", ".join(NEEDED)
    if has_columns(columns, *NEEDED) and not is_numeric_type(columns["reward"]):
        return f"its 'reward' is {columns['reward']}, not a number ({layout}, a numeric reward)"
    return lacking(columns, NEEDED, layout)


def recognize(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not has_columns(columns, *NEEDED) or not is_numeric_type(columns["reward"]):
        return None
    kinds = {f.parent.name for f in files} & {"train", "eval"}
    if len(kinds) == 2:
        raise InputError(
            "Relax's train/ and eval/ rollout results are both in the log, and their "
            "group_index values repeat across the two: groups of different prompts would mix",
            hint="pass the rollout_result/train folder (or rollout_result/eval) alone",
        )
    return Preset(
        why="fields rollout_id, sample_index, group_index, reward (Relax rollout_result)",
        mapping=ColumnMap(
            step="rollout_id",
            group="group_index",
            reward=("reward",),
            length=column_if_present(columns, "response_length"),
            task=column_if_present(columns, "dataset"),
        ),
        assumes=ASSUMES,
    )
