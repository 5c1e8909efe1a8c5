"""TRL's ``GRPOTrainer`` completion logs (``log_completions``: a table per logging step,
``completions/completions_{step:05d}.parquet``, one column per reward function), and TRL's
rule for missing rewards (``trl/trainer/grpo_trainer.py``: ``torch.nansum`` over the
reward functions). Its fit hook (:func:`fit`) finds the group size from runs of the prompt.

>>> p = recognize([Path("completions/completions_00010.parquet")],
...               {"step": "i64", "prompt": "str", "completion": "str", "acc": "f64",
...                "advantage": "f64"})
>>> (p.mapping.reward, p.logged_advantage, p.blocks_from)
(('acc',), 'advantage', 'prompt')
>>> missing_rewards("trl"), missing_rewards("verl")
('nansum', None)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl

from grpoflaw_cli.errors import InputError, option
from grpoflaw_cli.ingest.columns import ColumnMap, NanRewards
from grpoflaw_cli.ingest.files import READ_ERRORS
from grpoflaw_cli.ingest.trainers.preset import (
    Choice,
    Preset,
    column_if_present,
    has_columns,
    is_numeric_type,
    lacking,
)


def missing_rewards(framework: str | None) -> NanRewards | None:
    """The rule for missing rewards that ``framework``'s conventions imply: ``nansum``
    under TRL's (a missing reward component counts as 0 unless every component is
    missing; then the rollout is unscorable and gets advantage 0), else None (no rule of
    its own: missing rewards are refused)."""
    return "nansum" if framework == "trl" else None


def recognize(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    named = any(re.fullmatch(r"completions_\d+\.parquet", f.name) for f in files)
    table = any(re.fullmatch(r"completions_\d+_[0-9a-f]+\.table\.json", f.name) for f in files)
    by_columns = has_columns(columns, "prompt", "completion", "advantage")
    if not (named or (table and has_columns(columns, "prompt", "completion")) or by_columns):
        return None
    names = list(columns)
    lo = names.index("completion") + 1 if "completion" in names else 0
    hi = names.index("advantage") if "advantage" in names else len(names)
    rewards = tuple(
        c for c in names[lo:hi] if is_numeric_type(columns[c]) and c not in ("step", "advantage")
    )
    why = (
        "file names completions_{step}.parquet"
        if named
        else "columns prompt, completion, advantage"
        if by_columns
        else "file names completions_{step}_{hash}.table.json, columns prompt, completion"
    ) + (
        " (TRL GRPOTrainer's completions table, exported from W&B)"
        if table
        else " (TRL GRPOTrainer log_completions)"
    )
    return Preset(
        why=why,
        mapping=ColumnMap(step=column_if_present(columns, "step"), reward=rewards),
        logged_advantage=column_if_present(columns, "advantage"),
        blocks_from=column_if_present(columns, "prompt"),
        assumes='TRL 1.16.0 (trl/trainer/grpo_trainer.py): scale_rewards="group", GRPO with '
        "the unbiased std plus 1e-4",
    )


NEEDED = ("prompt", "completion", "advantage")
"""The columns of TRL's completion table :func:`recognize` looks for (else its file names)."""


def missing(files: Sequence[Path], columns: Mapping[str, str]) -> str:
    """The ``needs`` hook: what a log that :func:`recognize` refused lacks.

    >>> missing([Path("log.jsonl")], {"prompt": "str", "reward": "f64"}).split(" (")[0]
    "no columns 'completion', 'advantage'"
    """
    return lacking(
        columns,
        NEEDED,
        "TRL's log_completions table has prompt, completion, advantage, or files named "
        "completions_{step}.parquet",
    )


def fit(
    choice: Choice,
    first: pl.LazyFrame,
    user: ColumnMap,
    files: Sequence[tuple[str, pl.LazyFrame]] = (),
) -> Choice:
    """The fit hook: groups as blocks of rows, their size inferred from the ``first``
    file (:func:`block_size`), unless the user named a group column or size; a file with
    one row per prompt is refused (:func:`_refuse_one_per_prompt`)."""
    column = choice.preset.blocks_from
    if not column or user.group or user.group_size:
        return choice
    _refuse_one_per_prompt(files or [("the first file", first)], column)
    size = block_size(first, column)
    if size is None:
        return choice
    return replace(choice, mapping=replace(choice.mapping, group=None, group_size=size))


def _refuse_one_per_prompt(files: Sequence[tuple[str, pl.LazyFrame]], column: str) -> None:
    """TRL logs ``num_generations`` ≥ 2 completions per prompt; a table where every
    prompt appears once was deduplicated (``log_unique_prompts``, W&B and trackio only):
    its groups are gone, and reading its rows as blocks would group unrelated prompts.
    One query over every file (the prompt column only)."""
    try:
        counts = pl.collect_all(
            [frame.select(pl.len(), pl.col(column).n_unique()) for _, frame in files]
        )
    except READ_ERRORS:
        return  # the read proper says what is wrong
    for (name, _), found in zip(files, counts, strict=True):
        rows, distinct = found.row(0)
        if rows < 2 or rows != distinct:
            continue
        raise InputError(
            f"every {column} appears once in '{name}': TRL logged one completion per "
            f"prompt (log_unique_prompts=True; wandb_log_unique_prompts in older TRL), so "
            f"the groups cannot be rebuilt",
            hint="log with log_unique_prompts=False, or read TRL's completions Parquet files "
            "(log_completions=True writes them to output_dir/completions/); if each row "
            f"really is its own group, say so with {option('group_size')} 1",
        )


def block_size(frame: pl.LazyFrame, column: str) -> int | None:
    """The run length by which ``column`` repeats in consecutive rows (TRL writes
    ``num_generations`` completions of a prompt one after the other): the gcd of the run
    lengths, or None if it does not repeat. A last run shorter than every other (of three
    or more) is left out: a table cut short ends in part of a group, which would make
    every group that part's size. (With two runs, 8 then 4 may be two groups of 4 with
    one prompt: the gcd, 4, is kept.)

    >>> block_size(pl.LazyFrame({"p": list("aaaabbbbcc")}), "p")
    4
    >>> block_size(pl.LazyFrame({"p": list("aaaaaaaabbbb")}), "p")
    4
    """
    try:
        keys = frame.select(pl.col(column).hash()).collect().to_series()
    except READ_ERRORS:
        return None
    if keys.len() < 2:
        return None
    import numpy as np  # here only: plain commands (inspect) start faster without it

    runs = keys.rle().struct.field("len").to_numpy()
    cut = runs.size >= 3 and runs[-1] < runs[:-1].min()
    size = int(np.gcd.reduce(runs[:-1] if cut else runs))
    return size if size > 1 else None
