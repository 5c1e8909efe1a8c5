"""The Ray engine: the passes over the rows as Ray tasks, a run of files each, merged on
the driver (:mod:`grpoflaw_cli.merge`).

Each task reads its files as :func:`~grpoflaw_cli.ingest.load` built the log's frame
(the same detection, schemas, steps from file names and file indexes) and returns a small
table: for the pass every run makes (:func:`group_table`), its groups' statistics
(:func:`~grpoflaw_cli.passes.group_stats_query` with ``partial=True``); for a second pass
(:func:`run`), its sums per group or step. Never rows. Ray is imported only here, and only
when a run asks for it (``pip install 'grpoflaw[ray]'``). The cluster is the one
``RAY_ADDRESS`` names, as Ray's own tools take it; without one a local Ray is started with
every CPU. The files must be readable at the same paths on the nodes (a shared file system).

>>> chunks([100, 1, 1, 100], parts=2)
[(0, 2), (2, 4)]
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import polars as pl

from grpoflaw_cli import progress
from grpoflaw_cli.errors import GrpoflawError, InputError, UsageError
from grpoflaw_cli.ingest import FILE_COL, Detection, Log, canonicalize, collect, explained
from grpoflaw_cli.ingest.canonical import prepared, read_all
from grpoflaw_cli.ingest.files import Source
from grpoflaw_cli.ingest.log import small
from grpoflaw_cli.merge import merge_group_tables
from grpoflaw_cli.passes import group_stats_query, sorted_groups

Engine = Literal["local", "ray"]
"""Where the passes over the rows run: in this process, or as Ray tasks."""
TASKS_PER_CPU = 2
"""Runs of files per CPU of the cluster: more, smaller tasks even out files of unequal
size (each task costs Ray a few milliseconds)."""


@dataclass(frozen=True)
class Part:
    """What a task is sent: a run of the log's files from index ``start`` on (the
    detection's files, formats and steps cut to them), what to scan and their schemas,
    and the pass's settings. Small and picklable; no frame, no rows."""

    detection: Detection
    start: int
    sources: tuple[Source, ...]
    schemas: tuple[pl.Schema, ...]
    query: Callable[..., pl.LazyFrame]
    """The pass: the part's rows and the shared objects → its partial table."""
    engine: Literal["streaming", "in-memory"]
    every_row: bool = False
    """Over every row (``Log.frame``), not only those the statistics count
    (``Log.stats_frame``: a verl session's last output)."""

    @classmethod
    def of(cls, log: Log, start: int, stop: int, **rest: Any) -> Part:
        """The part of ``log``'s files ``start:stop``."""
        det = log.detection
        cut = replace(
            det,
            files=det.files[start:stop],
            formats=det.formats[start:stop],
            file_steps=det.file_steps[start:stop],
        )
        sources = log.sources[start:stop] if log.sources else cut.files
        return cls(cut, start, tuple(sources), log.schemas[start:stop], **rest)


def splittable(log: Log) -> bool:
    """Whether each run of files gives its groups' exact statistics: not when verl
    multi-turn sessions keep each session's last output (a session could span files),
    nor when groups are blocks of rows counted within a step that may span files."""
    det = log.detection
    steps = det.file_steps
    blocks_split = det.group_mode == "blocks" and not (steps and len(set(steps)) == len(steps))
    return not det.sessions and not blocks_split


def chunks(sizes: Sequence[int], parts: int) -> list[tuple[int, int]]:
    """``parts`` (at most one a file) consecutive runs of files of about equal bytes, as
    (start, stop) indexes."""
    parts = max(1, min(parts, len(sizes)))
    total = sum(sizes) or 1
    bounds, done = [0], 0
    for index, size in enumerate(sizes[:-1], start=1):
        done += size
        if len(bounds) == parts:
            break
        # a cut where the bytes so far reach the next share, or where each part left
        # needs every file left
        if done * parts >= total * len(bounds) or len(sizes) - index == parts - len(bounds):
            bounds.append(index)
    return list(zip(bounds, [*bounds[1:], len(sizes)], strict=True))


def group_table(log: Log, settings: dict[str, Any]) -> pl.DataFrame:
    """The group table :func:`grpoflaw_cli.api.group_table` gives, gathered by Ray tasks
    (``settings``: :func:`~grpoflaw_cli.passes.group_stats_query`'s keywords)."""
    query = functools.partial(group_stats_query, partial=True, **settings)
    return sorted_groups(collected(log, query, merge_group_tables))


def collected(
    log: Log,
    query: Callable[..., pl.LazyFrame],
    merge: Callable[[list[pl.DataFrame]], pl.DataFrame],
    *shared: Any,
    every_row: bool = False,
) -> pl.DataFrame:
    """``query(rows, *shared)`` over each run of the log's files as a Ray task, the parts'
    tables merged by ``merge``. ``shared`` (the analysis a second pass joins on, say) is
    put in Ray's object store once, not sent with every task."""
    if len(log.schemas) != len(log.detection.files):
        raise UsageError(
            "the Ray engine reads the log's files again, and this log does not say how "
            "(it was not read by grpoflaw's load)",
            hint="read the log with grpoflaw_cli.api.load, or use the local engine",
        )
    ray = ray_module()
    started(ray)
    remote = ray.remote(num_cpus=1, max_retries=0)(part_table)
    parts = int(ray.cluster_resources().get("CPU", 1)) * TASKS_PER_CPU if splittable(log) else 1
    sizes = [_size(path) for path in log.detection.files]
    engine: Literal["streaming", "in-memory"] = "in-memory" if small(log) else "streaming"
    stored = [ray.put(value) for value in shared]
    refs = [
        remote.remote(Part.of(log, a, b, query=query, engine=engine, every_row=every_row), *stored)
        for a, b in chunks(sizes, parts)
    ]
    order = {ref: index for index, ref in enumerate(refs)}
    tables: list[pl.DataFrame] = [pl.DataFrame()] * len(refs)
    pending = list(refs)
    try:
        while pending:
            progress.advance("a pass over the rows, as Ray tasks", len(refs) - len(pending))
            finished, pending = ray.wait(pending, num_returns=1)
            tables[order[finished[0]]] = ray.get(finished[0])  # a failed task raises now
    except ray.exceptions.RayTaskError as err:  # the task's own error, as locally
        for ref in pending:
            ray.cancel(ref)
        cause = getattr(err, "cause", None)
        if isinstance(cause, GrpoflawError):
            raise cause from None
        if isinstance(cause, Exception):
            raise cause from err  # a traceback shown then holds the task's too
        raise
    return merge(tables)


def run(
    engine: Engine,
    log: Log,
    query: Callable[..., pl.LazyFrame],
    merge: Callable[[list[pl.DataFrame]], pl.DataFrame],
    *shared: Any,
    every_row: bool = False,
) -> pl.DataFrame:
    """A second pass where ``engine`` says: ``query(rows, *shared)`` collected here
    (streaming, as :func:`~grpoflaw_cli.ingest.collect` does), or as Ray tasks whose
    tables ``merge`` merges (:func:`collected`)."""
    if engine == "ray":
        return collected(log, query, merge, *shared, every_row=every_row)
    rows = log.frame if every_row else log.stats_frame
    return collect(log, query(rows, *shared), streaming=True)


def part_table(part: Part, *shared: Any) -> pl.DataFrame:
    """A task: the part's table, its files read as the log reads them (this runs on a
    Ray worker, or anywhere: it is plain Polars)."""
    det, sources, schemas = part.detection, part.sources, part.schemas
    steps = det.file_steps
    # Read failures (here at the schema of a file that changed since it was loaded, or in
    # the pass) name their file and line, as the local engine's do.
    with explained(Log(pl.LazyFrame(), det, sources=sources)):
        frame = (
            prepared(det, 0, sources[0], det.formats[0], schemas[0], steps)
            if len(sources) == 1
            else read_all(det, det.files, det.formats, sources, schemas, steps)
        )
        if part.start:  # the file indexes of the whole log
            frame = frame.with_columns((pl.col(FILE_COL) + part.start).cast(pl.UInt32))
        rows = Log(canonicalize(frame, det), det)
        query = part.query(rows.frame if part.every_row else rows.stats_frame, *shared)
        return query.collect(engine=part.engine)


def started(ray: Any, num_cpus: int | None = None) -> None:
    """Ray connected: to ``RAY_ADDRESS``'s cluster, else a local one of ``num_cpus`` (every
    CPU); its logs kept off our screen (our outputs are ours)."""
    if ray.is_initialized():
        return
    quiet: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
        "runtime_env": {"env_vars": {"POLARS_MAX_THREADS": "1"}},  # a CPU per task
    }
    address = os.environ.get("RAY_ADDRESS")
    try:
        if address:
            reachable(address)  # else Ray retries for minutes, its warnings on stderr
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"the Ray cluster at RAY_ADDRESS={address}" if address else "a local Ray"
        raise InputError(
            f"cannot start or reach {where}: {str(err).strip().splitlines()[0]}",
            hint="check RAY_ADDRESS (`ray status` shows the cluster), or use the local engine",
        ) from None


def reachable(address: str, timeout: float = 5.0) -> None:
    """Raise :class:`ConnectionError` unless ``address`` (``host:port``, or
    ``ray://host:port``) accepts a connection; ``auto`` and ``local`` are Ray's to find.

    >>> reachable("auto")
    """
    where = address.split("://", 1)[-1].rstrip("/")
    if where in ("auto", "local") or ":" not in where:
        return
    host, _, port = where.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as err:
        raise ConnectionError(f"nothing answers at {where} ({err})") from None


def ray_module() -> Any:
    """The ``ray`` module, or a :class:`UsageError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(
            "the Ray engine needs Ray, which is not installed",
            hint="pip install 'grpoflaw[ray]'",
        ) from None
    return ray


def _size(path: Any) -> int:
    try:
        return int(os.path.getsize(path))
    except OSError:
        return 0
