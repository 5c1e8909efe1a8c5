"""open-instruct's rollout traces (``save_traces``: ``prompt_idx``, ``sample_idx``,
``reward``, ``advantage`` per sample; ``open_instruct/grpo_fast.py``). Its advantage
divides by the population std plus 1e-8.

>>> recognize([], {"prompt_idx": "i64", "sample_idx": "i64", "reward": "f64"}).ddof
0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from grpoflaw_cli.ingest.columns import ColumnMap
from grpoflaw_cli.ingest.trainers.preset import Preset, _has, _optional


def recognize(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not _has(columns, "prompt_idx", "sample_idx", "reward"):
        return None
    return Preset(
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
