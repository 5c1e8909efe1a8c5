"""NeMo-RL's training data dumps (``train_data_step{N}.jsonl``: one sample per line, each
field in a batch slice of one; ``nemo_rl/algorithms/grpo.py``). Its baseline is the
leave-one-out mean over samples with identical prompt tokens, its std the sample std
(ddof 1) plus 1e-6. Its hooks: each file's rows unwrapped (:func:`reshape`), and a batch
slice not of one named on the error path (:func:`explain`).

>>> list_depth(pl.List(pl.List(pl.Int64))), list_depth(pl.Float64)
(2, 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from grpoflaw_cli.errors import InputError, option
from grpoflaw_cli.ingest.columns import ColumnMap, Detection, Format
from grpoflaw_cli.ingest.files import READ_ERRORS, Source, scan_file
from grpoflaw_cli.ingest.locate import row_location
from grpoflaw_cli.ingest.trainers.preset import Preset, Shape, has_columns, lacking

RECORD = "__record"

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


NEEDED = ("content", "rewards", "input_lengths")
"""The fields of NeMo-RL's train data :func:`recognize` looks for."""


def missing(files: Sequence[Path], columns: Mapping[str, str]) -> str:
    """The ``needs`` hook: what a log that :func:`recognize` refused lacks."""
    return lacking(
        columns, NEEDED, "NeMo-RL's train_data_step{N}.jsonl has content, rewards, input_lengths"
    )


def recognize(files: Sequence[Path], columns: Mapping[str, str]) -> Preset | None:
    if not has_columns(columns, *NEEDED):
        return None
    return Preset(
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
        reshape=True,
        ddof=1,
        eps=1e-6,
    )


def list_depth(dtype: object) -> int:
    """How many lists deep ``dtype`` is: ``List(List(Int64))`` → 2."""
    return 1 + list_depth(dtype.inner) if isinstance(dtype, pl.List) else 0


def reshape(frame: pl.LazyFrame, shape: Shape, where: str = "the log") -> pl.LazyFrame:
    """The reshape hook: NeMo-RL's rows as the preset maps them: each field unwrapped from
    its batch slice of one, the prompt (identical prompt tokens: NeMo-RL's baseline
    groups), ``reward``, ``advantage`` at the first trained token and ``response_tokens``.
    ``where`` names the file in a message."""
    # NeMo-RL writes each field as a batch slice of one: `rewards: [r]`, `token_ids: [[...]]`.
    schema = frame.collect_schema()
    depth = {n: list_depth(t) for n, t in schema.items()}
    for needed in ("rewards", "content"):
        if needed not in depth:
            raise InputError(
                f"'{where}' has no '{needed}' field, which every NeMo-RL "
                "train_data_step{N}.jsonl line has",
                hint="keep only NeMo-RL step files in the folder, or pass "
                f"{option('source')} generic and map the columns",
            )

    # A batch slice must be of one: a longer or empty one fails the read (an index out of
    # bounds), which :func:`explain` then names; it is never read as its first value.
    # The reward checks every field's slice: Polars does not evaluate a branch no row takes
    # (the first message, when every prompt is read from its tokens).
    sliced = [n for n, d in NEMO_RL_SLICED.items() if depth.get(n, 0) > d]
    sizes = [pl.col(n).list.len().fill_null(1) == 1 for n in sliced]

    def field(name: str, keep: int) -> pl.Expr:
        """``name`` unwrapped down to ``keep`` levels of lists (0: a scalar)."""
        expr, levels = pl.col(name), depth[name] - keep
        if name in sliced and levels > 0:
            size = expr.list.len()
            ok = pl.all_horizontal(sizes) if name == "rewards" else size == 1
            expr = expr.list.get(pl.when(ok).then(0).otherwise(size), null_on_oob=False)
            levels -= 1
        for _ in range(levels):
            expr = expr.list.first()
        return expr

    # The prompt: the first message, or better (its baseline groups identical prompt
    # tokens) the tokens before the first trained one; every token carries the row's
    # advantage. A row with no trained token keeps its first message.
    prompt = field("content", 0).cast(pl.String).hash()
    extra: list[pl.Expr] = []
    if depth.get("token_loss_mask", 0) >= 1:
        mask = field("token_loss_mask", 1).cast(pl.List(pl.Float64))
        first = mask.list.arg_max()
        if depth.get("token_ids", 0) >= 1:
            tokens = field("token_ids", 1).list.head(first).hash()
            prompt = pl.when(mask.list.max() > 0).then(tokens).otherwise(prompt)
            if depth.get("advantages", 0) >= 1:
                adv = field("advantages", 1).list.get(first, null_on_oob=True)
                extra.append(adv.cast(pl.Float64).alias("advantage"))
        extra.append(mask.list.sum().alias("response_tokens"))
    columns = [field("rewards", 0).cast(pl.Float64).alias("reward"), prompt.alias("prompt")]
    scalars = [pl.col(n) for n in ("idx",) if n in depth] + [
        field(n, 0).alias(n) for n in ("input_lengths", "sample_loss_mask") if n in depth
    ]
    return frame.select(*columns, *extra, *scalars)


def explain(path: object, fmt: Format, source: Source, det: Detection) -> InputError | None:
    """The explain hook: the first line with a NeMo-RL field whose batch slice is not of
    one."""
    try:
        frame = scan_file(source, fmt)
        schema = frame.collect_schema()
        sliced = [
            n
            for n, depth in NEMO_RL_SLICED.items()
            if n in schema and list_depth(schema[n]) > depth
        ]
        if not sliced:
            return None
        hit = (
            frame.select(pl.col(n).list.len() for n in sliced)
            .with_row_index(RECORD, offset=1)
            .filter(pl.any_horizontal(pl.col(n) != 1 for n in sliced))
            .head(1)
            .collect(engine="streaming")
        )
    except READ_ERRORS:
        return None
    if not hit.height:
        return None
    name = next(n for n in sliced if hit[n][0] not in (None, 1))
    return InputError(
        f"'{path}', {row_location(source, fmt, int(hit[RECORD][0]))}: '{name}' is a batch slice of "
        f"{hit[name][0]}, not of one (NeMo-RL writes one sample per line, each field in a "
        "list of one)",
        hint="a train_data_step{N}.jsonl file has one sample per line; one with several was "
        "written or edited by another tool: write one sample per line",
    )
