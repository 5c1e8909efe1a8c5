"""Following a rollout dump while a trainer writes it, a folder of step files or one
JSONL file a logger appends a line per rollout to: a fresh report each time it changes,
from what can be read so far.

Files still being written are expected: empty ones are left out, a half-written last
line is skipped, and a file that cannot be read yet (a Parquet file before its footer)
is left out and named until a later look can read it. In one appended file the newest
step is still being written (its groups half full): it is held back, and said to be,
until the next step begins.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from grpoflaw_cli.errors import GrpoflawError, InputError, option, spell
from grpoflaw_cli.formatting import count

if TYPE_CHECKING:
    from grpoflaw_cli.api import Clip
    from grpoflaw_cli.ingest import ColumnMap

Listing = tuple[tuple[str, int, int], ...]
"""The watched files as (path, size, mtime in ns), sorted."""

CHANGING = (GrpoflawError, OSError, pl.exceptions.PolarsError, pl.exceptions.PanicException)
"""What a look can raise while a file changes under it: a file growing between the check
of its lines and Polars' read of them fails in Polars ("Syntax at character 9"); the next
look reads it again."""

UNREADABLE = -1
"""The size :func:`listing` gives a subfolder it cannot read."""


def check_watched(path: Path) -> None:
    """Refuse a path that is neither a folder nor a log file (an :class:`InputError`); a
    remote prefix is taken as a folder (its listing says what it holds)."""
    from grpoflaw_cli.ingest import file_format, is_remote

    if is_remote(path) or path.is_dir() or (path.is_file() and file_format(path) is not None):
        return
    if path.is_file():
        raise InputError(
            f"'{path}' is not a log file (extension '{''.join(path.suffixes)}')",
            hint="watch a rollout dump folder, or the JSONL file a logger appends to",
        )
    raise InputError(
        f"'{path}': no such folder or file",
        hint="watch a rollout dump folder, or the JSONL file a logger appends to",
    )


def follow(
    watched: Path,
    mapping: ColumnMap,
    *,
    estimators: Sequence[str] | None = None,
    source: str = "auto",
    framework: str | None = None,
    ddof: int | None = None,
    eps: float | None = None,
    clip: Clip = "default",
    interval: float = 2.0,
    refreshes: int | None = None,
) -> Iterator[tuple[dict[str, Any] | None, str | None]]:
    """Look at ``watched`` (a folder, or one appended file) every ``interval`` seconds
    (``refreshes`` times, or until the caller stops) and, each time it changed, yield the
    report of
    :func:`grpoflaw_cli.api.compare` with these settings (the last good one
    when this look failed; None before any) and why some or all files could not be read
    (None if all could), its settings named as the front end spells them
    (:func:`~grpoflaw_cli.errors.spelled_as`)."""
    from grpoflaw_cli.ingest import file_format

    check_watched(watched)
    seen: Listing | None = None
    last: dict[str, Any] | None = None
    done = 0
    look = _Look(
        mapping,
        estimators,
        source,
        {"framework": framework, "ddof": ddof, "eps": eps, "clip": clip},
        # A JSONL or CSV file grows by lines; a Parquet file or a W&B table is rewritten
        # whole, so its newest step is as complete as the others.
        appended=watched.is_file() and file_format(watched) in ("jsonl", "csv", "tsv"),
    )
    while refreshes is None or done < refreshes:
        files = listing(watched)
        if files is not None and files != seen:
            seen = files
            report, problem = look(files, watched)
            last = report or last  # a failed look keeps the last good view
            yield last, problem
        done += 1
        if refreshes is not None and done >= refreshes:
            break
        time.sleep(interval)


def listing(folder: Path) -> Listing | None:
    """The watched files with size and mtime, or None when the folder changed under us
    (a trainer renaming a temp file, or rotating the watched file): look again next time.
    A subfolder that cannot be read is listed with size -1, so that the look names it
    (its files would be missing)."""
    from grpoflaw_cli.ingest import file_format, is_remote, natural_key, remote_listing

    if is_remote(folder):
        return remote_listing(str(folder), lambda p: file_format(p) is not None, natural_key)
    found: list[tuple[str, int, int]] = []
    if not folder.is_dir():  # one file, appended to
        try:
            stat = folder.stat()
        except OSError:
            return None
        return ((str(folder), stat.st_size, stat.st_mtime_ns),)

    def unreadable(err: OSError) -> None:
        if err.filename is not None and os.path.exists(err.filename):  # not a rename
            found.append((str(err.filename), UNREADABLE, 0))

    try:
        for root, _, names in os.walk(folder, onerror=unreadable):
            for name in names:
                path = Path(root, name)
                if file_format(path) and path.is_file():
                    stat = path.stat()
                    found.append((str(path), stat.st_size, stat.st_mtime_ns))
    except OSError:
        return None
    return tuple(sorted(found, key=lambda f: natural_key(Path(f[0]))))  # as compare reads them


class _Look:
    """One look at the watched files, read with these settings."""

    def __init__(
        self,
        mapping: ColumnMap,
        estimators: Sequence[str] | None,
        source: str,
        conventions: dict[str, Any],
        appended: bool = False,
    ) -> None:
        """``conventions``: the keywords of :func:`grpoflaw_cli.api.compare` that set them;
        ``appended``: the watched path is one file a logger appends to."""
        self.mapping, self.estimators = mapping, estimators
        self.source, self.conventions = source, conventions
        self.appended = appended
        self.held: str | None = None
        """What the last look held back, said on screen (:func:`without_newest_step`)."""

    def report(self, paths: Sequence[Path]) -> dict[str, Any]:
        from grpoflaw_cli import api

        # A file still being written ends mid-line: skip that line, silently (the
        # screen is the live view's).
        framework = self.conventions["framework"]
        log = api.read(
            paths, self.mapping, source=self.source, framework=framework, skip_bad_lines=True
        )
        if self.appended:
            log, self.held = without_newest_step(log)
        return api.compare(log, self.estimators, **self.conventions).report()

    def __call__(self, files: Listing, folder: Path) -> tuple[dict[str, Any] | None, str | None]:
        """The report (None if nothing can be read yet) and why some or all of the files
        could not be read (None if all could)."""
        locked = [f for f, size, _ in files if size == UNREADABLE]
        files = tuple(entry for entry in files if entry[1] != UNREADABLE)
        if locked:  # its files are not in the view: say so on every look
            shown = ", ".join(f"'{f}'" for f in locked)
            why = f"cannot read the folder {shown}: its files are left out"
            if not files:
                return None, why
            view, problem = self(files, folder)
            return view, why + (f"; {problem}" if problem else "")
        paths = [Path(f) for f, size, _ in files if size > 0]
        if files and not paths:
            return None, f"{count(len(files), 'empty file')} so far"
        try:
            return self.report(paths or [folder]), self.held if self.appended else None
        except CHANGING as err:
            problem = self.message(err)
            if len(paths) < 2:
                return None, problem
        return self.without_unreadable(paths, problem)

    def without_unreadable(
        self, paths: list[Path], problem: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Error path only: find the files that cannot be read alone, and show the others."""
        readable = []
        for path in paths:
            try:
                self.report([path])
                readable.append(path)
            except CHANGING:
                pass
        left_out = ", ".join(p.name for p in paths if p not in readable)
        if not readable or len(readable) == len(paths):
            return None, problem
        try:
            return self.report(readable), f"left out {left_out} for now: {problem}"
        except CHANGING:
            return None, problem

    def message(self, err: Exception) -> str:
        """Why this look failed, without a hint to skip bad lines (every look does)."""
        if isinstance(err, GrpoflawError):
            skip = spell(option("skip_bad_lines"))
            hint = err.hint if err.hint and skip not in err.hint else None
            return err.message + (f" ({hint})" if hint else "")
        name = getattr(err, "filename", None) or "a file"
        why = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        return f"{name} changed while being read ({why}); looking again"


def without_newest_step(log: Any) -> tuple[Any, str | None]:
    """``log`` without its newest step, which a logger appending a line per rollout is
    still writing (its groups half full, flagged as ragged on every look), and what was
    held back; the log as it is when it holds one step so far (with that said) or no
    steps. The newest step is the last row's: such a logger writes steps in order.

    >>> import tempfile
    >>> from grpoflaw_cli import ingest
    >>> path = Path(tempfile.mkdtemp()) / "rollouts.jsonl"
    >>> line = '{{"step": {}, "uid": "a", "score": {}}}\\n'
    >>> _ = path.write_text("".join(line.format(s, r) for s, r in [(1, 0), (1, 1), (2, 1)]))
    >>> log, held = without_newest_step(ingest.load([path]))
    >>> held
    'step 2 is still being written (1 rollout so far): shown once a later step begins'
    >>> log.frame.select("step").collect()["step"].to_list()
    [1, 1]
    """
    from grpoflaw_cli import ingest

    if log.detection.step_col is None:  # one iteration, whatever is appended
        return log, None
    step = pl.col("step")
    last, rows, steps = ingest.collect(
        log,
        log.frame.select(
            step.last(), (step == step.last()).sum().alias("rows"), step.n_unique().alias("n")
        ),
    ).row(0)
    if last is None:
        return log, None
    if steps < 2:
        return log, f"step {last} may still be being written: its numbers can change"
    kept = replace(log, frame=log.frame.filter(step != last))
    return kept, (
        f"step {last} is still being written ({count(rows, 'rollout')} so far): "
        "shown once a later step begins"
    )
