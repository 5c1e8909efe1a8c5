"""A record column whose numeric fields are the reward's parts (prime-rl's per-rubric
``metrics``, ART's trajectory ``metrics``): its fields read as ``<column>.<field>``
columns, and taken as the reward's components when a least-squares fit on the first rows
shows the reward is their weighted sum. Shared by the trainers whose preset names such a
column (``Preset.unpack``): :func:`reshape` and :func:`fit` are their hooks, or part of them.

>>> frame = pl.LazyFrame({"metrics": ['{"a": 1, "b": true}', '{"a": 2, "c": "x"}']})
>>> component_fields(frame, "metrics")
('a', 'b')
>>> unpack(frame, "metrics", ("a", "b")).collect()["metrics.b"].to_list()
[1.0, None]
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from grpoflaw_cli.errors import option
from grpoflaw_cli.ingest.columns import ColumnMap, weighted_sum
from grpoflaw_cli.ingest.files import READ_ERRORS
from grpoflaw_cli.ingest.trainers.preset import Choice, Shape

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def component_fields(frame: pl.LazyFrame, column: str) -> tuple[str, ...]:
    """The numeric (or true/false) fields of a JSON-string or struct column, from its
    first 100 values (text that is no JSON object is passed over): prime-rl's per-rubric
    ``metrics``, say. None if it is neither."""
    dtype = frame.collect_schema().get(column)
    if isinstance(dtype, pl.Struct):
        return tuple(
            f.name
            for f in dtype.fields
            if (f.dtype.is_numeric() or f.dtype == pl.Boolean) and FIELD_NAME.fullmatch(f.name)
        )
    if dtype != pl.String:
        return ()
    try:
        texts = frame.select(pl.col(column)).drop_nulls().head(100).collect().to_series()
    except READ_ERRORS:
        return ()
    found: dict[str, None] = {}
    for text in texts.to_list():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict):
            for key, value in record.items():
                if isinstance(value, (int, float)) and FIELD_NAME.fullmatch(key):
                    found.setdefault(key)
    return tuple(found)


def unpack(frame: pl.LazyFrame, column: str | None, fields: Sequence[str]) -> pl.LazyFrame:
    """Each of ``fields`` of a JSON-string or struct ``column`` as a Float64 column
    ``<column>.<field>``: null where a row, or a whole file, lacks it."""
    if column is None or not fields:
        return frame
    source, dtype = pl.col(column), frame.collect_schema().get(column)
    missing = pl.lit(None, pl.Float64)
    if dtype is None:
        parts = [missing for _ in fields]
    elif isinstance(dtype, pl.Struct):
        present = {f.name for f in dtype.fields}
        parts = [source.struct.field(f) if f in present else missing for f in fields]
    else:  # JSON text: each field's literal, true/false as 1/0
        parts = [
            source.str.json_path_match(f"$.{f}").replace({"true": "1", "false": "0"})
            for f in fields
        ]
    return frame.with_columns(
        p.cast(pl.Float64, strict=False).alias(f"{column}.{f}")
        for p, f in zip(parts, fields, strict=True)
    )


def reshape(frame: pl.LazyFrame, shape: Shape, where: str = "the log") -> pl.LazyFrame:
    """The reshape hook: the record column's fields found at load as columns (:func:`unpack`)."""
    return unpack(frame, shape.unpack, shape.unpack_fields)


def fit(
    choice: Choice,
    first: pl.LazyFrame,
    user: ColumnMap,
    files: Sequence[tuple[str, pl.LazyFrame]] = (),
) -> Choice:
    """The fit hook: the record column's fields, from the ``first`` file's rows as
    reshaped, and, unless the user named the reward or its components, those fields as
    the reward's components where they add up to it (:func:`metrics_as_components`)."""
    column = choice.preset.unpack
    if not column:
        return choice
    fields = component_fields(first, column)
    choice = replace(choice, preset=replace(choice.preset, unpack_fields=fields))
    if len(fields) > 1 and not (user.reward or user.components):
        mapping, fitted, notes = metrics_as_components(
            unpack(first, column, fields), column, fields, choice.mapping
        )
        choice = replace(choice, mapping=mapping, fitted=fitted, notes=tuple(notes))
    return choice


def metrics_as_components(
    first: pl.LazyFrame, column: str, fields: Sequence[str], mapping: ColumnMap
) -> tuple[ColumnMap, tuple[float, ...] | None, list[str]]:
    """The mapping with the unpacked ``column`` fields as the reward's components, when the
    reward is their weighted sum on ``first``'s rows (:func:`_reward_parts`), their
    weights, and the line ``inspect`` shows either way (a reason: it names the CLI's flag
    as it is)."""
    unpacked = [f"{column}.{f}" for f in fields]
    parts, weights = _reward_parts(first, mapping.reward[0], unpacked)
    if len(parts) > 1:
        note = (
            f"components ← {', '.join(parts)}: the reward is "
            + weighted_sum(weights, parts)
            + f" on the first rows, so these fields of '{column}' are its parts"
        )
        return replace(mapping, components=parts), weights, [note]
    note = (
        f"'{column}' fields {', '.join(unpacked)} are read as columns, not reward "
        f"components: they do not add up to the reward (name parts with "
        f"{option('component_cols')})"
    )
    return mapping, None, [note]


def _reward_parts(
    frame: pl.LazyFrame, reward: str, columns: Sequence[str]
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The columns the reward is a weighted sum of, and the weights: least squares on the
    first 1,000 rows with a reward and some part (a missing part counts 0). None when the
    sum does not
    hold to 1e-6: then the columns are metrics, not parts of the reward (ART's
    ``metrics`` may hold turn counts and timings beside reward terms)."""
    import numpy as np

    try:
        sample = (
            frame.select(pl.col(reward).cast(pl.Float64), *(pl.col(c) for c in columns))
            .drop_nulls(reward)
            .filter(pl.any_horizontal(pl.col(c).is_not_null() for c in columns))
            .head(1000)
            .fill_null(0.0)
            .collect()
        )
    except READ_ERRORS:
        return (), ()
    if sample.height <= len(columns):
        return (), ()
    parts = sample.select(columns).to_numpy()
    target = sample[reward].to_numpy()
    if not (np.isfinite(parts).all() and np.isfinite(target).all()):
        return (), ()
    # A column constant in the sample is indistinguishable from the reward's offset, and
    # collinear ones split their weight arbitrarily: fit only varying, independent ones.
    varying = np.ptp(parts, axis=0) > 0
    columns = [c for c, v in zip(columns, varying, strict=True) if v]
    parts = parts[:, varying]
    if len(columns) < 2 or np.linalg.matrix_rank(parts) < len(columns):
        return (), ()
    weights = np.linalg.lstsq(parts, target, rcond=None)[0]
    scale = max(float(np.abs(target).max()), 1e-300)
    if float(np.abs(parts @ weights - target).max()) > 1e-6 * scale:
        return (), ()
    used = np.abs(weights) * np.abs(parts).max(0) > 1e-9 * scale
    kept = [(c, float(f"{w:.12g}")) for c, w, u in zip(columns, weights, used, strict=True) if u]
    return tuple(c for c, _ in kept), tuple(w for _, w in kept)
