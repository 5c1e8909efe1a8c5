"""A read log (:class:`Log`: the canonical lazy frame and how it was built), and reading
its rows: failures become :class:`~grpoflaw_cli.errors.InputError` naming the file and
line (:func:`collect`), and the facts ``inspect`` reports.

>>> import tempfile
>>> from pathlib import Path
>>> from grpoflaw_cli.ingest.load import load
>>> path = Path(tempfile.mkdtemp()) / "rollouts.jsonl"
>>> _ = path.write_text('{"prompt": "a", "reward": 1}\\n' * 2 + '{"prompt": "a", "reward": 0}\\n')
>>> {k: v for k, v in facts(load([path])).items() if k in ("rows", "duplicate rows")}
{'rows': 3, 'duplicate rows': 1}
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import polars as pl

from grpoflaw_cli.errors import InputError
from grpoflaw_cli.ingest import trainers
from grpoflaw_cli.ingest.columns import (
    INTERNAL_PREFIX,
    LAST_COL,
    ROLE_SETTINGS,
    SESSION_COL,
    ColumnMap,
    Detection,
)
from grpoflaw_cli.ingest.files import READ_ERRORS, Source, scan_file
from grpoflaw_cli.ingest.locate import first_non_numeric, locate_read_error
from grpoflaw_cli.passes import group_by_keys


@dataclass(frozen=True)
class Log:
    """A rollout log: the canonical lazy frame and how it was built."""

    frame: pl.LazyFrame
    detection: Detection
    sources: tuple[Source, ...] = ()
    """Per file: what is scanned (the path, or a cleaned temporary copy: without a
    byte-order mark, and after ``skip_bad_lines`` with malformed lines blanked)."""
    skipped_lines: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """(file, line numbers) of malformed JSONL lines skipped with ``skip_bad_lines``."""
    warnings: tuple[str, ...] = ()
    """What was read in a way the user may not expect (a column named twice, say)."""
    read_as: tuple[ColumnMap, bool, str] = (ColumnMap(), False, "auto")
    """How it was read (the mapping, ``skip_bad_lines``, ``source``): to read it again under
    another rule for missing rewards (see :func:`reread`)."""
    schemas: tuple[pl.Schema, ...] = ()
    """Per file: its schema as read (to read some of the files again as the log does)."""

    @property
    def stats_frame(self) -> pl.LazyFrame:
        """The rows the group statistics are taken over: every rollout, except that in
        multi-turn sessions only each session's last output counts (verl v1)."""
        if not self.detection.sessions:
            return self.frame
        last = pl.col(LAST_COL) == pl.col(LAST_COL).max().over(SESSION_COL)
        return self.frame.filter(last)

    def source(self, index: int) -> Source:
        return self.sources[index] if self.sources else self.detection.files[index]


@contextlib.contextmanager
def explained(log: Log) -> Iterator[None]:
    """Run a read of ``log`` (a sink, say), turning read failures into :class:`InputError`
    as :func:`collect` does."""
    try:
        yield
    except READ_ERRORS as exc:
        raise _explain_failure(log, exc) from exc


SMALL_LOG_BYTES = 16 * 2**20
"""Logs of at most this many bytes on disk are aggregated by Polars' in-memory engine even
where streaming is asked for: their sums come out the same in every run (the streaming
engine merges partial sums in no fixed order, so their last bits vary), and their memory is
small anyway. Larger logs stream, in bounded memory (in memory, a 21 MB CSV of 1M rollouts
took 15 % longer and 100 MB more)."""


def small(log: Log) -> bool:
    """Is the log small enough to aggregate in memory (:data:`SMALL_LOG_BYTES`)?"""
    total = 0
    for path in log.detection.files:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
        if total > SMALL_LOG_BYTES:
            return False
    return True


def collect(log: Log, query: pl.LazyFrame, *, streaming: bool = False) -> pl.DataFrame:
    """Collect a query over ``log.frame``, turning read failures into :class:`InputError`.

    ``streaming`` runs Polars' streaming engine (bounded memory; right for aggregations),
    except on a :func:`small` log, aggregated in memory so that every run gives the same
    bits. On failure each file is re-read alone to name the one at fault (and, for JSONL,
    the line), so the happy path pays nothing for good messages.
    """
    engine: Literal["streaming", "in-memory", "auto"] = "auto"
    if streaming:
        engine = "in-memory" if small(log) else "streaming"
    try:
        return query.collect(engine=engine)
    except READ_ERRORS as exc:
        raise _explain_failure(log, exc) from exc


def _explain_failure(log: Log, exc: BaseException) -> InputError:
    det = log.detection
    for index, (path, fmt) in enumerate(zip(det.files, det.formats, strict=True)):
        source = log.source(index)
        numeric: list[str] = []
        try:
            raw = scan_file(source, fmt)
            schema = raw.collect_schema()
            numeric = [
                c
                for c in (*det.reward_cols, det.length_col)
                if c and c in schema and not isinstance(schema[c], pl.List)  # token lists
            ]
            names = schema.names()
            # Parsed in full but held by no one: a count per column, streamed.
            read = (
                raw
                if fmt == "parquet"
                else scan_file(source, fmt, dict.fromkeys(numeric, pl.Float64()))
            )
            columns = pl.col(numeric or names[:1]) if fmt == "parquet" else pl.all()
            read.select(columns.null_count()).collect(engine="streaming")
        except READ_ERRORS as file_exc:
            if fmt != "parquet" and numeric:
                bad = first_non_numeric(path, fmt, source, numeric)
                if bad:
                    return bad
            roles = ((det.step_col, "step"), (det.group_col, "group"))
            keys = {c: ROLE_SETTINGS[role] for c, role in roles if c}
            return locate_read_error(path, fmt, file_exc, numeric, keys)
        reshaped = trainers.explain(path, fmt, source, det)  # an ART or NeMo-RL row
        if reshaped is not None:
            return reshaped
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    files = ", ".join(str(f) for f in det.files[:3])
    return InputError(
        f"cannot read the log ({files}{'…' if len(det.files) > 3 else ''}): {detail}",
        hint="the files may disagree on a column's type; read them one at a time to find it",
    )


def facts(log: Log) -> dict[str, object]:
    """What ``inspect`` reports about the rows: counts, group sizes, reward range, missing
    rewards and duplicate rows. One streaming aggregation plus the duplicate count. Group
    sizes and rewards are those ``compare`` uses (a verl multi-turn session's last output);
    rows with no step or group are counted, as ``compare`` will refuse them."""
    per_group = group_by_keys(  # text keys held once each, as compare's pass holds them
        log.stats_frame,
        [
            pl.len().alias("n"),
            pl.col("reward").null_count().alias("missing"),
            pl.col("reward").min().alias("lo"),
            pl.col("reward").max().alias("hi"),
        ],
    )
    stats = collect(
        log,
        per_group.select(
            pl.col("n").sum().alias("rows"),
            pl.col("step").n_unique().alias("iterations"),
            pl.len().alias("groups"),
            pl.col("n").min().alias("size_min"),
            pl.col("n").median().alias("size_median"),
            pl.col("n").max().alias("size_max"),
            pl.col("lo").min().alias("lo"),
            pl.col("hi").max().alias("hi"),
            pl.col("missing").sum().alias("missing"),
            pl.col("n").filter(pl.col("step").is_null()).sum().alias("no_step"),
            pl.col("n").filter(pl.col("group").is_null()).sum().alias("no_group"),
        ),
        streaming=True,
    ).row(0, named=True)
    used = int(stats["rows"] or 0)
    rows = int(collect(log, log.frame.select(pl.len())).item()) if log.detection.sessions else used
    empty = not stats["groups"]
    keys_missing = {
        f"rows without a {role}": int(stats[key] or 0)
        for role, key in (("step", "no_step"), ("group", "no_group"))
        if stats[key]
    }
    return {
        "rows": rows,
        **({"rollouts used": used} if log.detection.sessions else {}),
        **keys_missing,
        "iterations": int(stats["iterations"] or 0),
        "groups": int(stats["groups"] or 0),
        "group sizes": "—"
        if empty
        else f"min {stats['size_min']}, median {stats['size_median']:g}, max {stats['size_max']}",
        "reward range": "—" if empty else f"{stats['lo']} … {stats['hi']}",
        "rewards missing": int(stats["missing"] or 0),
        "duplicate rows": duplicate_rows(log),
    }


def duplicate_rows(log: Log) -> int:
    """Rows identical in every input column to an earlier row (a log concatenated twice,
    a resumed run that rewrote a step). Reads every column: ``inspect`` only.
    """
    # The canonical frame holds every input column (some carried as src_<name>) and values
    # derived from them, but also roles derived from a row's place (a block of rows as the
    # group, a file's name as the step): those would tell a copied row from its original.
    det = log.detection
    placed = {"group"} if det.group_mode != "column" or det.group_per_file else set()
    placed |= {"step"} if det.step_col is None else set()
    names = log.frame.collect_schema().names()
    columns = [c for c in names if not c.startswith(INTERNAL_PREFIX) and c not in placed]
    hashed = log.frame.select(pl.struct(columns).hash().alias("h"))
    return int(collect(log, hashed.select(pl.len() - pl.col("h").n_unique()))[0, 0])
