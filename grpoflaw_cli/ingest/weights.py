"""The reward's weights as outputs show them: the reward as a weighted sum, and each
column's weight when the user gave weights. Pure: a :class:`Detection` in, text out.

>>> from grpoflaw_cli.ingest.detect import detect
>>> weighted = ColumnMap(reward=("acc", "fmt"), reward_weights=(4.0, 1.0))
>>> det = detect(["step", "acc", "fmt"], weighted)
>>> reward_text(det), weights_given(det, ColumnMap())
('4·acc + 1·fmt', {'acc': 4.0, 'fmt': 1.0})
"""

from __future__ import annotations

from grpoflaw_cli.ingest.columns import ColumnMap, Detection, weighted_sum


def reward_text(det: Detection) -> str:
    """The reward as the header shows it: its columns summed, with their weights if given."""
    if det.reward_weights is None:
        return " + ".join(det.reward_cols)
    return weighted_sum(det.reward_weights, det.reward_cols)


def weights_given(det: Detection, user: ColumnMap) -> dict[str, float] | None:
    """Each reward column's weight (``reward_weights``), or each component's when the user
    gave them with ``component_cols`` and one reward column; None without weights."""
    if det.reward_weights is not None:
        return dict(zip(det.reward_cols, det.reward_weights, strict=True))
    if user.reward_weights is None or not user.components or not det.fitted_weights:
        return None
    return dict(zip(det.component_cols, det.fitted_weights, strict=True))
