"""prime-rl's rollouts (``problem_id``, ``reward``, ``advantage``, ``env_name`` and a
per-rubric ``metrics`` record). Its default advantage subtracts the group mean only
(Dr. GRPO's, unscaled): ``compute_advantages`` in
``src/prime_rl/orchestrator/advantage.py`` (PrimeIntellect-ai/prime-rl, commit 072062c;
``default_advantage_fn`` in later versions; MaxRL, which a fork adds beside it, is the
``max_rl`` estimator). The ``metrics`` fields are read as the
reward's components when the reward is their weighted sum
(:mod:`grpoflaw_cli.ingest.trainers.metrics`).

>>> recognize([], {"problem_id": "i64", "reward": "f64", "metrics": "str"}).unpack
'metrics'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from grpoflaw_cli.ingest.columns import ColumnMap
from grpoflaw_cli.ingest.trainers.preset import Preset, column_if_present, has_columns, lacking

NEEDED = ("problem_id", "reward")
"""The fields of prime-rl's rollouts :func:`recognize` looks for."""


ASSUMES = (
    "prime-rl at commit 072062c (src/prime_rl/orchestrator/advantage.py): the reward "
    "minus the group mean, no std"
)
"""Which prime-rl's defaults the preset follows (``inspect`` says so)."""


def missing(files: Sequence[Path], columns: Mapping[str, str]) -> str:
    """The ``needs`` hook: what a log that :func:`recognize` refused lacks."""
    return lacking(columns, NEEDED, "prime-rl's rollouts have problem_id, reward")


def recognize(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not has_columns(columns, *NEEDED):
        return None
    return Preset(
        why="fields problem_id, reward (prime-rl rollouts)",
        mapping=ColumnMap(
            step=column_if_present(columns, "step"),
            group="problem_id",
            reward=("reward",),
            task=column_if_present(columns, "env_name"),
        ),
        logged_advantage=column_if_present(columns, "advantage"),
        logged_estimator="dr_grpo",
        assumes=ASSUMES,
        unpack=column_if_present(columns, "metrics"),
    )
