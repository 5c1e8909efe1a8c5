"""Following a rollout dump folder while a trainer writes it: a fresh report each time
its files change, from the files that can be read so far.

Files still being written are expected: empty ones are left out, a half-written last
line is skipped, and a file that cannot be read yet (a Parquet file before its footer)
is left out and named until a later look can read it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grpoflaw_cli.errors import GrpoflawError, InputError, option, spell
from grpoflaw_cli.formatting import count

if TYPE_CHECKING:
    from grpoflaw_cli.api import Clip
    from grpoflaw_cli.ingest import ColumnMap

Listing = tuple[tuple[str, int, int], ...]
"""The watched files as (path, size, mtime in ns), sorted."""

UNREADABLE = -1
"""The size :func:`listing` gives a subfolder it cannot read."""


def check_folder(folder: Path) -> None:
    """Refuse a path that is not a folder (an :class:`InputError`); a remote prefix is
    taken as one (its listing says what it holds)."""
    from grpoflaw_cli.ingest import is_remote

    if not folder.is_dir() and not is_remote(folder):
        raise InputError(f"'{folder}' is not a folder", hint="watch a rollout dump folder")


def follow(
    folder: Path,
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
    """Look at ``folder`` every ``interval`` seconds (``refreshes`` times, or until the
    caller stops) and, each time its files changed, yield the report of
    :func:`grpoflaw_cli.api.compare` with these settings (the last good one
    when this look failed; None before any) and why some or all files could not be read
    (None if all could), its settings named as the front end spells them
    (:func:`~grpoflaw_cli.errors.spelled_as`)."""
    check_folder(folder)
    seen: Listing | None = None
    last: dict[str, Any] | None = None
    done = 0
    look = _Look(
        mapping,
        estimators,
        source,
        {"framework": framework, "ddof": ddof, "eps": eps, "clip": clip},
    )
    while refreshes is None or done < refreshes:
        files = listing(folder)
        if files is not None and files != seen:
            seen = files
            report, problem = look(files, folder)
            last = report or last  # a failed look keeps the last good view
            yield last, problem
        done += 1
        if refreshes is not None and done >= refreshes:
            break
        time.sleep(interval)


def listing(folder: Path) -> Listing | None:
    """The watched files with size and mtime, or None when the folder changed under us
    (a trainer renaming a temp file): look again next time. A subfolder that cannot be
    read is listed with size -1, so that the look names it (its files would be missing)."""
    from grpoflaw_cli.ingest import file_format, is_remote, natural_key, remote_listing

    if is_remote(folder):
        return remote_listing(str(folder), lambda p: file_format(p) is not None, natural_key)
    found: list[tuple[str, int, int]] = []

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
    ) -> None:
        """``conventions``: the keywords of :func:`grpoflaw_cli.api.compare` that set them."""
        self.mapping, self.estimators = mapping, estimators
        self.source, self.conventions = source, conventions

    def report(self, paths: Sequence[Path]) -> dict[str, Any]:
        from grpoflaw_cli import api

        # A file still being written ends mid-line: skip that line, silently (the
        # screen is the live view's).
        framework = self.conventions["framework"]
        log = api.read(
            paths, self.mapping, source=self.source, framework=framework, skip_bad_lines=True
        )
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
            return self.report(paths or [folder]), None
        except (GrpoflawError, OSError) as err:
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
            except (GrpoflawError, OSError):
                pass
        left_out = ", ".join(p.name for p in paths if p not in readable)
        if not readable or len(readable) == len(paths):
            return None, problem
        try:
            return self.report(readable), f"left out {left_out} for now: {problem}"
        except (GrpoflawError, OSError):
            return None, problem

    def message(self, err: Exception) -> str:
        """Why this look failed, without a hint to skip bad lines (every look does)."""
        if isinstance(err, GrpoflawError):
            skip = spell(option("skip_bad_lines"))
            hint = err.hint if err.hint and skip not in err.hint else None
            return err.message + (f" ({hint})" if hint else "")
        name = getattr(err, "filename", None) or ""
        return f"{name} changed while being read; looking again".strip()
