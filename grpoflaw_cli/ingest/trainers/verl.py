"""verl's rollout dumps (``trainer.rollout_data_dir`` / ``validation_data_dir``: one JSONL
file per step with ``input``, ``output``, ``score``, ``step`` and the reward-extra keys;
``verl/trainer/ppo/ray_trainer.py`` ``_dump_generations``), and verl v1's multi-turn uids
``{prompt_uuid}_{session_id}_{output_index}``: once the first file is read, :func:`finish`
says whether the group column holds them, and :func:`roles` derives the group (and each
output's session) from them.

>>> recognize([], {"input": "str", "output": "str", "score": "f64", "uid": "str"}).mapping.group
'uid'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl

from grpoflaw_cli.ingest.columns import (
    LAST_COL,
    OUTPUT_PREFIX,
    SESSION_COL,
    ColumnMap,
    Detection,
    carried_name,
)
from grpoflaw_cli.ingest.files import READ_ERRORS
from grpoflaw_cli.ingest.trainers.preset import (
    Preset,
    column_if_present,
    has_columns,
    is_numeric_type,
    lacking,
)

VERL_FIELDS = ("input", "output", "gts", "score", "step", "uid", "request_id", "reward")
"""verl dump fields that are no reward-extra key (``reward`` is the validation dump's copy
of ``score``); ``overlong`` is DAPO's truncation flag, not a reward."""

VERL_UID = r"_\d+_\d+$"
"""verl v1 writes ``uid = "{prompt_uuid}_{session_id}_{output_index}"``; the group is the prefix."""


NEEDED = ("input", "output", "score")
"""The fields of verl's rollout dump :func:`recognize` looks for."""


def missing(files: Sequence[Path], columns: Mapping[str, str]) -> str:
    """The ``needs`` hook: what a log that :func:`recognize` refused lacks."""
    return lacking(columns, NEEDED, "verl's rollout_data_dir dump has input, output, score")


def recognize(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not has_columns(columns, *NEEDED):
        return None
    group = "uid" if "uid" in columns else "input"
    # Reward-extra keys (compute_score's dict, acc, DAPO's overlong_reward): the per-key
    # scores verl's GDPO normalizes (algorithm.gdpo_reward_keys). One alone is no split.
    extras = tuple(
        c
        for c, t in columns.items()
        if c not in (*VERL_FIELDS, "overlong")
        and not c.startswith(OUTPUT_PREFIX)  # grpoflaw's own output, read back
        and (is_numeric_type(t) or t == "bool")
    )
    return Preset(
        why="fields input, output, score (verl rollout_data_dir / validation_data_dir dump)",
        mapping=ColumnMap(
            step=column_if_present(columns, "step"),
            group=group,
            reward=("score",),
            components=extras if len(extras) > 1 else (),
        ),
        # _dump_generations / _log_rollout_data write each row from one dict of lists, a
        # key only when it has a value for every row: every line has the same keys.
        same_keys=True,
        assumes="verl 0.9.1 (verl/trainer/ppo/core_algos.py): algorithm.adv_estimator=grpo "
        "with norm_adv_by_std_in_grpo=True, the unbiased std plus 1e-6",
    )


def finish(first: pl.LazyFrame, det: Detection) -> Detection:
    """``det`` grouping by the '<prompt>' prefix of verl v1 uids if the group column
    holds them, and with verl v1's sessions if some have several outputs (first file)."""
    if det.group_col is None or det.group_col.lower() != "uid" or not _v1_uids(first, det):
        return det
    reasons = [
        f"group: '{det.group_col}' holds verl v1 uids '<prompt>_<session>_<index>': "
        "grouped by the '<prompt>' prefix"
    ]
    sessions = _multi_output_sessions(first, carried_name(det.group_col))
    if sessions:
        reasons.append(
            f"sessions: {sessions} multi-turn sessions in the first file have several "
            "outputs; as verl's v1 trainer, the group statistics use each session's "
            "last output and every output gets its session's advantage"
        )
    return replace(
        det, group_key="verl_uid", sessions=bool(sessions), reasons=(*det.reasons, *reasons)
    )


def roles(det: Detection) -> dict[str, pl.Expr]:
    """The canonical columns verl v1 uids give (once :func:`finish` found them): the
    group, the uid's '<prompt>' prefix; with multi-turn sessions, each output's session
    ('<prompt>_<session>') and its index in it."""
    if det.group_key != "verl_uid" or det.group_col is None:
        return {}
    uid = pl.col(carried_name(det.group_col)).cast(pl.String)
    own = {"group": uid.str.replace(VERL_UID, "")}
    if det.sessions:
        own[SESSION_COL] = uid.str.replace(r"_\d+$", "")
        own[LAST_COL] = uid.str.extract(r"_(\d+)$").cast(pl.Int64)
    return own


def _multi_output_sessions(frame: pl.LazyFrame, uid: str) -> int:
    """How many '<prompt>_<session>' keys have several outputs (first file only)."""
    try:
        sessions = (
            frame.select(pl.col(uid).cast(pl.String).str.replace(r"_\d+$", "").alias("s"))
            .group_by("s")
            .len()
        )
        return int(sessions.filter(pl.col("len") > 1).select(pl.len()).collect().item())
    except READ_ERRORS:
        return 0


def _v1_uids(frame: pl.LazyFrame, det: Detection) -> bool:
    """Do the first values of the group column look like verl v1 uids?"""
    assert det.group_col is not None
    try:
        head = frame.select(pl.col(carried_name(det.group_col)).cast(pl.String)).head(64).collect()
    except READ_ERRORS:
        return False  # the real read reports the problem
    values = head.to_series().drop_nulls()
    return values.len() > 0 and bool(values.str.contains(VERL_UID).all())
