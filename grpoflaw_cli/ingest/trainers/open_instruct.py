"""open-instruct's rollout traces (``save_traces``: ``prompt_idx``, ``sample_idx``,
``reward``, ``advantage`` per sample; ``open_instruct/grpo_fast.py``).

Its advantage is set by ``advantage_normalization_type``. Today's default is
``"centered"``, the reward minus the group mean (Dr. GRPO's advantage):
``StreamingDataLoaderConfig`` in ``open_instruct/data_loader.py`` (allenai/open-instruct,
commit 006e470). Older versions kept the setting in ``grpo_fast.py``'s ``Args`` with the
default ``"standard"``, which also divides by the population std plus 1e-8 (the ddof and
eps below, which apply when GRPO is computed).

>>> p = recognize([], {"prompt_idx": "i64", "sample_idx": "i64", "reward": "f64"})
>>> p.logged_estimator, p.ddof
('dr_grpo', 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from grpoflaw_cli.ingest.columns import ColumnMap
from grpoflaw_cli.ingest.trainers.preset import Preset, column_if_present, has_columns, lacking

NEEDED = ("prompt_idx", "sample_idx", "reward")
"""The fields of open-instruct's traces :func:`recognize` looks for."""

ASSUMES = (
    "open-instruct at commit 006e470 (open_instruct/data_loader.py): "
    "advantage_normalization_type=centered, the group mean subtracted without the std "
    "(older grpo_fast.py Args defaulted to standard, the std division)"
)
"""Which open-instruct's defaults the preset follows (``inspect`` says so)."""


def missing(files: Sequence[Path], columns: Mapping[str, str]) -> str:
    """The ``needs`` hook: what a log that :func:`recognize` refused lacks."""
    return lacking(columns, NEEDED, "open-instruct's save_traces rows have " + ", ".join(NEEDED))


def recognize(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not has_columns(columns, *NEEDED):
        return None
    return Preset(
        why="fields prompt_idx, sample_idx, reward (open-instruct save_traces)",
        mapping=ColumnMap(
            step=column_if_present(columns, "step"),
            group="prompt_idx",
            reward=("reward",),
            length=column_if_present(columns, "response_tokens"),
            task=column_if_present(columns, "dataset"),
        ),
        logged_advantage=column_if_present(columns, "advantage"),
        logged_estimator="dr_grpo",
        assumes=ASSUMES,
        ddof=0,
        eps=1e-8,
    )
