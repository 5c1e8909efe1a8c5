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


def components_text(det: Detection, gdpo: bool = False) -> str:
    """The reward's components as the header shows them: weighted when the user gave
    weights (``4·acc + 1·fmt``); else their names and, when ``gdpo`` was computed over
    them, that it weighed each 1 (verl's default ``gdpo_reward_weights``).

    >>> from grpoflaw_cli.ingest.detect import detect
    >>> det = detect(["step", "score", "acc", "fmt"], ColumnMap(components=("acc", "fmt")))
    >>> components_text(det), components_text(det, gdpo=True)
    ('acc, fmt', 'acc, fmt (GDPO: weight 1 each)')
    """
    if det.fitted_weights:
        return weighted_sum(det.fitted_weights, det.component_cols)
    names = ", ".join(det.component_cols)
    return names + " (GDPO: weight 1 each)" if gdpo else names


def weights_given(det: Detection, user: ColumnMap) -> dict[str, float] | None:
    """Each reward column's weight (``reward_weights``), or each component's when the user
    gave them for the components (theirs or a trainer's) of one reward column; None
    without weights."""
    if det.reward_weights is not None:
        return dict(zip(det.reward_cols, det.reward_weights, strict=True))
    if user.reward_weights is None or not det.component_cols or not det.fitted_weights:
        return None
    return dict(zip(det.component_cols, det.fitted_weights, strict=True))
