"""Reading: the error path and --skip-bad-lines stream (memory independent of
the file's size), inputs that are not bugs exit 2 (never 3, never a Rust panic), an
unreadable subfolder is an error, and messages name the real cause."""

from __future__ import annotations

import gzip
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import DATA, SAMPLES
from typer.testing import CliRunner

from grpoflaw_cli import api as gf
from grpoflaw_cli import ingest
from grpoflaw_cli.cli import app
from grpoflaw_cli.errors import InputError

BOM = b"\xef\xbb\xbf"
ROWS = [{"step": 1, "uid": "a", "reward": r} for r in (0.0, 1.0, 1.0, 0.0)]


def jsonl(*rows: Any) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


def run(*args: str | Path) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def rollouts(path: Path, *extra: str) -> int:
    result = run("compare", path, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["summary"]["rollouts"])


# --------------------------------------------------------------------------- memory


def big_cut_log(path: Path, megabytes: int = 24) -> int:
    """A JSONL log of about ``megabytes`` whose last line was cut by a crash; its rows."""
    row = {"step": 1, "uid": "g", "reward": 0.5, "text": "x" * 200}
    line = json.dumps(row).encode() + b"\n"
    count = megabytes * (1 << 20) // len(line)
    with path.open("wb") as fh:
        for i in range(count):
            fh.write(line.replace(b'"g"', f'"g{i // 4}"'.encode()))
        fh.write(line[:40])  # the cut last line
    return count


def peak_python_bytes(work: Any) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["big.jsonl", "big.jsonl.gz"])
def test_error_path_and_skip_bad_lines_stream(tmp_path: Path, name: str) -> None:
    """Naming the cut line, and skipping it, hold no copy of the file in memory."""
    plain = tmp_path / "plain.jsonl"
    count = big_cut_log(plain)
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    else:
        path = plain
    limit = 8 << 20  # the file is 24 MiB decompressed

    def fail() -> None:
        with pytest.raises(InputError, match=f"line {count + 1}"):
            log = ingest.load([path])
            ingest.collect(log, log.frame.select("reward"))

    assert peak_python_bytes(fail) < limit

    def skip() -> None:
        log = ingest.load([path], skip_bad_lines=True)
        assert log.skipped_lines == ((str(path), (count + 1,)),)
        assert ingest.collect(log, log.frame.select("reward")).height == count

    assert peak_python_bytes(skip) < limit


def test_skipped_and_bom_files_are_read_from_a_temporary_copy(tmp_path: Path) -> None:
    """Not from bytes in memory: a cleaned copy on disk, blank where lines were skipped."""
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(jsonl(*ROWS, b'{"step": 1, "ui'))
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + jsonl(*ROWS))
    for path, skip in ((cut, True), (bom, False), (bom, True)):
        log = ingest.load([path], skip_bad_lines=skip)
        copy = log.sources[0]
        assert isinstance(copy, Path) and copy != path and copy.is_file()
        assert copy.read_bytes().splitlines()[:4] == jsonl(*ROWS).splitlines()
        assert ingest.collect(log, log.frame.select("reward")).height == 4
    assert cut.read_bytes() == jsonl(*ROWS, b'{"step": 1, "ui')  # the input is unchanged


def test_a_file_cleaned_again_reuses_its_copy_and_a_changed_one_replaces_it(
    tmp_path: Path,
) -> None:
    """``watch`` reloads a growing file again and again: copies must not pile up."""
    path = tmp_path / "cut.jsonl"
    path.write_bytes(jsonl(*ROWS, b'{"step": 1, "ui'))
    first = ingest.load([path], skip_bad_lines=True).sources[0]
    assert ingest.load([path], skip_bad_lines=True).sources[0] == first
    path.write_bytes(jsonl(*ROWS, *ROWS, b'{"st'))
    os.utime(path, ns=(1, 1))
    second = ingest.load([path], skip_bad_lines=True).sources[0]
    assert second != first and second.is_file() and not first.exists()


# --------------------------------------------------------------------------- exit 2, not 3


def deep(levels: int) -> bytes:
    nested = b"[" * levels + b"]" * levels
    return b'{"step": 1, "uid": "a", "reward": 1.0, "trace": ' + nested + b"}"


def test_json_nested_deeper_than_the_reader_goes(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_bytes(jsonl(*ROWS[:2], deep(5000), *ROWS[2:]))
    result = run("compare", path)
    assert result.exit_code == 2, result.output
    assert "line 3" in result.output and "nested more than 1,024 levels" in result.output
    assert "Internal error" not in result.output
    assert rollouts(path, "--skip-bad-lines") == 4


def test_json_nested_as_deep_as_the_reader_goes_is_not_blamed(tmp_path: Path) -> None:
    """1,010 levels: Polars reads it, Python's decoder needs more stack. The real bad line
    is named, and --skip-bad-lines keeps the deep one."""
    path = tmp_path / "deep.jsonl"
    path.write_bytes(jsonl(*ROWS, deep(1010), b'{"step": 1, "uid"'))
    result = run("compare", path)
    assert result.exit_code == 2 and "line 6" in result.output, result.output
    assert rollouts(path, "--skip-bad-lines") == 5


def test_decimal_column_wider_than_polars_reads(tmp_path: Path) -> None:
    """tests/data/decimal256.parquet: pyarrow's decimal256(40, 2) column 'price' beside
    step/uid/reward (written with pyarrow.parquet.write_table)."""
    path = DATA / "decimal256.parquet"
    assert rollouts(path) == 4
    inspected = run("inspect", path)
    assert inspected.exit_code == 0 and "left out: 'price'" in inspected.output
    out = tmp_path / "adv.parquet"
    written = run("advantages", path, "-o", out)
    assert written.exit_code == 0, written.output
    mapped = run("compare", path, "--reward-col", "price")
    assert mapped.exit_code == 2 and "Internal error" not in mapped.output


def test_a_file_name_too_long() -> None:
    result = run("compare", "x" * 300 + ".jsonl")
    assert result.exit_code == 2, result.output
    assert "name too long" in result.output.lower()


def deny(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make ``folder`` untraversable as it is to a user without rights (tests run as root,
    for whom chmod 000 changes nothing)."""
    real_scandir, real_stat = os.scandir, Path.stat

    def scandir(path: Any = ".") -> Any:
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def stat(self: Path, *args: Any, **kwargs: Any) -> Any:
        if folder in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(Path, "stat", stat)


def test_a_file_under_an_untraversable_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "log.jsonl").write_bytes(jsonl(*ROWS))
    deny(monkeypatch, locked)
    result = run("compare", locked / "log.jsonl")
    assert result.exit_code == 2, result.output
    assert "Permission denied" in result.output and "log.jsonl" in result.output


# --------------------------------------------------------------------------- folders


def two_steps(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    for step in (1, 2):
        sub = run_dir / f"part{step}"
        sub.mkdir(parents=True)
        (sub / f"{step}.jsonl").write_bytes(jsonl(*({**r, "step": step} for r in ROWS)))
    return run_dir


def test_an_unreadable_subfolder_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the log analyzed with exit 0 would answer wrong in silence."""
    run_dir = two_steps(tmp_path)
    deny(monkeypatch, run_dir / "part2")
    result = run("compare", run_dir)
    assert result.exit_code == 2, result.output
    assert "part2" in result.output and "Permission denied" in result.output


def test_watch_names_an_unreadable_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """watch showed the readable half of the folder without a word."""
    run_dir = two_steps(tmp_path)
    deny(monkeypatch, run_dir / "part2")
    result = CliRunner().invoke(
        app, ["watch", str(run_dir), "--refreshes", "1"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0, result.output
    message = " ".join(result.output.split())
    assert "cannot read the folder" in message and "part2" in message, message
    assert "rollouts 4 in 1 iteration," in message  # the readable half, named as such


@pytest.mark.skipif(os.geteuid() == 0, reason="root traverses any folder (see the test above)")
def test_an_unreadable_subfolder_for_real(tmp_path: Path) -> None:
    run_dir = two_steps(tmp_path)
    (run_dir / "part2").chmod(0)
    try:
        result = run("compare", run_dir)
    finally:
        (run_dir / "part2").chmod(0o755)
    assert result.exit_code == 2 and "part2" in result.output, result.output


def test_broken_link_and_link_loop_in_a_folder(tmp_path: Path) -> None:
    for name, target in (("broken", "nowhere.jsonl"), ("loop", "3.jsonl")):
        run_dir = two_steps(tmp_path / name)
        (run_dir / "3.jsonl").symlink_to(run_dir / target)
        result = run("compare", run_dir)
        assert result.exit_code == 2, (name, result.output)
        assert "3.jsonl" in result.output and "link" in result.output, result.output
        loose = run("compare", run_dir / "3.jsonl")
        assert loose.exit_code == 2 and "symbolic link to nothing" in loose.output


def test_links_to_files_are_read_and_links_to_folders_are_not_followed(tmp_path: Path) -> None:
    run_dir = two_steps(tmp_path)
    (run_dir / "again").symlink_to(run_dir / "part1")  # would read step 1 twice
    (run_dir / "3.jsonl").symlink_to(run_dir / "part2" / "2.jsonl")  # the same file: once
    assert rollouts(run_dir) == 8
    extra = tmp_path / "elsewhere.jsonl"
    extra.write_bytes(jsonl(*({**r, "step": 3} for r in ROWS)))
    (run_dir / "4.jsonl").symlink_to(extra)
    assert rollouts(run_dir) == 12


# --------------------------------------------------------------------------- messages


def test_reward_weights_must_be_finite(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(jsonl(*ROWS))
    for value in ("nan", "inf", "-inf"):
        result = run("compare", path, "--reward-weights", value)
        assert result.exit_code == 2, result.output
        assert "--reward-weights" in result.output and "line 1" not in result.output


def late_type_change(path: Path, fmt: str) -> None:
    """300 rows: the reward is an integer until row 200 (then 0.5: fine), and a carried
    column 'extra' holds numbers until row 200, then text."""
    rows = [
        {"step": 1, "uid": f"g{i // 4}", "reward": i % 2 if i < 200 else 0.5, "extra": i}
        if i < 200
        else {"step": 1, "uid": f"g{i // 4}", "reward": 0.5, "extra": "text"}
        for i in range(300)
    ]
    if fmt == "jsonl":
        path.write_bytes(jsonl(*rows))
    else:
        path.write_text(
            "step,uid,reward,extra\n"
            + "".join(f"{r['step']},{r['uid']},{r['reward']},{r['extra']}\n" for r in rows)
        )


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_carried_columns_late_type_change_is_read_or_named(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"log.{fmt}"
    late_type_change(path, fmt)
    assert rollouts(path) == 300  # compare never reads 'extra'
    result = run("advantages", path, "-o", tmp_path / "out.parquet")
    if fmt == "jsonl":  # a small JSONL log's types come from every line: 'extra' is text
        assert result.exit_code == 0, result.output
        extra = pl.read_parquet(tmp_path / "out.parquet")["extra"]
        assert extra.dtype == pl.String and extra[0] == "0" and extra[-1] == "text"
        return
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "column 'extra'" in message and "'reward'" not in message, message
    assert "--reward-col" not in message, message
    assert "line 20" in message  # line 201 (JSONL) or 202 (CSV, after its header)


def test_no_break_and_zero_width_spaces_in_column_names_are_text(tmp_path: Path) -> None:
    for i, odd in enumerate(("note\u00a0x", "no\u200bte", "caf\u00e9 \u2014 \u00fcber")):
        path = tmp_path / f"log{i}.jsonl"
        path.write_bytes(jsonl(*({**r, odd: 1} for r in ROWS)))
        assert rollouts(path) == 4, odd
    keyed = tmp_path / "control.jsonl"  # a JSON key is text whatever it holds: shown escaped
    keyed.write_bytes(jsonl(*({**r, "a\x01b\x1b]0;t\x07": 1} for r in ROWS)))
    assert rollouts(keyed) == 4
    shown = run("inspect", keyed)
    assert shown.exit_code == 0 and "a\\x01b\\x1b]0;t\\x07" in shown.output, shown.output
    garbage = tmp_path / "garbage.csv"  # in a CSV header it means the bytes are no text
    garbage.write_bytes(b"step,uid,reward,a\x01b\n1,a,1,1\n")
    result = run("compare", garbage)
    assert result.exit_code == 2 and "header is not text" in result.output


@pytest.mark.parametrize("ending", ["\n\n", "\n\n\n", "\r\n\r\n", "\n\r\n"])
def test_blank_lines_at_the_end_of_a_csv_are_ignored(tmp_path: Path, ending: str) -> None:
    newline = "\r\n" if ending.startswith("\r") else "\n"
    body = newline.join(["step,uid,reward", *(f"1,a,{r['reward']}" for r in ROWS)])
    clean = tmp_path / "clean.csv"
    clean.write_bytes((body + newline).encode())
    path = tmp_path / "blank.csv"
    path.write_bytes((body + ending).encode())
    assert rollouts(path) == 4
    a, b = (json.loads(run("compare", p, "--format", "json").stdout) for p in (clean, path))
    a["summary"].pop("files"), b["summary"].pop("files")
    assert a == b
    out = tmp_path / "adv.csv"
    assert run("advantages", path, "-o", out).exit_code == 0
    assert len(out.read_text().splitlines()) == 5


def test_a_blank_line_inside_a_csv_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "hole.csv"
    path.write_text("step,uid,reward\n1,a,0\n\n1,a,1\n")
    result = run("compare", path)
    assert result.exit_code == 2 and "line 3" in result.output, result.output


def test_a_quoted_value_spanning_the_last_lines_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('step,uid,reward,note\n1,a,0,x\n1,a,1,"two\n\n"\n')
    out = tmp_path / "adv.csv"
    assert run("advantages", path, "-o", out).exit_code == 0
    assert "two" in out.read_text()


def test_carriage_return_line_ends_are_named(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"step,uid,reward\r1,a,0\r1,a,1\r")
    result = run("compare", path)
    assert result.exit_code == 2 and "carriage return" in result.output, result.output


def test_spaces_after_the_commas_of_a_header_are_named(tmp_path: Path) -> None:
    """' uid' is not 'uid': read as written, the log would silently lose its groups."""
    path = tmp_path / "spaced.csv"
    path.write_text("step, uid, reward\n1,a,0\n1,a,1\n1,b,1\n1,b,0\n")
    result = run("compare", path)
    assert result.exit_code == 2, result.output
    assert "' uid'" in result.output and "spaces" in result.output


def test_a_comma_separated_tsv_is_named(tmp_path: Path) -> None:
    path = tmp_path / "log.tsv"
    path.write_text("step,uid,reward\n1,a,0\n1,a,1\n")
    result = run("compare", path)
    assert result.exit_code == 2, result.output
    assert "comma-separated" in result.output and ".csv" in result.output


@pytest.mark.slow
def test_bytes_columns_are_written_as_hex_or_refused_never_a_panic(tmp_path: Path) -> None:
    """Polars' JSON writer cannot write bytes (a Rust panic and its backtrace on stderr):
    bytes are written as hex text to CSV and JSONL; bytes inside lists are refused there."""
    import subprocess
    import sys

    import polars as pl

    log = tmp_path / "bytes.parquet"
    ids = {"step": [1, 1], "uid": ["a", "a"], "reward": [0.0, 1.0]}
    pl.DataFrame({**ids, "blob": [b"\x00A", b"z"]}).write_parquet(log)
    nested = tmp_path / "nested.parquet"
    pl.DataFrame({**ids, "blobs": [[b"x"], [b"y"]]}).write_parquet(nested)

    def advantages(path: Path, out: Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "grpoflaw_cli", "advantages", str(path), "-o", str(out)]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    for out in (tmp_path / "adv.jsonl", tmp_path / "adv.csv"):
        done = advantages(log, out)
        assert done.returncode == 0 and "panicked" not in done.stderr, done.stderr
        assert "0041" in out.read_text() and "7a" in out.read_text()
        refused = advantages(nested, out.with_name("n" + out.name))
        assert refused.returncode == 2 and "panicked" not in refused.stderr, refused.stderr
        assert "'blobs'" in refused.stderr and "Parquet" in refused.stderr


def test_a_broken_link_matched_by_a_glob_is_named(tmp_path: Path) -> None:
    run_dir = two_steps(tmp_path)
    (run_dir / "part2" / "3.jsonl").symlink_to(tmp_path / "gone.jsonl")
    result = run("compare", str(run_dir / "part*" / "*.jsonl"))
    assert result.exit_code == 2, result.output
    assert "3.jsonl" in result.output and "symbolic link to nothing" in result.output


def test_no_room_for_the_cleaned_copy_is_not_blamed_on_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from grpoflaw_cli.ingest import files

    def full(*_: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "cleaned_copy", full)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(jsonl(*ROWS, b'{"st'))
    result = run("compare", path, "--skip-bad-lines")
    assert result.exit_code == 2, result.output
    assert "temporary folder" in result.output and "TMPDIR" in result.output


def test_carriage_return_line_ends_in_jsonl_are_named(tmp_path: Path) -> None:
    path = tmp_path / "mac.jsonl"
    path.write_bytes(jsonl(*ROWS).replace(b"\n", b"\r"))
    result = run("compare", path)
    assert result.exit_code == 2 and "carriage return" in result.output, result.output
    assert "--skip-bad-lines" not in result.output


@pytest.mark.parametrize("name", ["blank.jsonl", "empty.jsonl.gz"])
def test_a_jsonl_file_with_no_line_is_called_empty(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"") if name.endswith(".gz") else b"\n\n \n")
    result = run("compare", path)
    assert result.exit_code == 2 and "empty or blank" in result.output, result.output


# ------------------------------------------------------- files read alone, not in a batch


def test_step_files_read_from_cleaned_copies_are_batched_as_copies(tmp_path: Path) -> None:
    """Step files with a byte-order mark or a cut last line are read from their cleaned
    copies even when consecutive files of one schema are read in one scan."""
    for step in (1, 2, 3):
        rows = [{**r, "step": step} for r in ROWS]
        (tmp_path / f"{step}.jsonl").write_bytes(BOM + jsonl(*rows) + b'{"step": ')
    assert rollouts(tmp_path, "--skip-bad-lines") == 12


def test_csv_step_files_ending_in_blank_lines_are_read_alone(tmp_path: Path) -> None:
    for step in (1, 2, 3):
        body = "".join(f"{step},{r['uid']},{r['reward']}\n" for r in ROWS)
        (tmp_path / f"{step}.csv").write_text("step,uid,reward\n" + body + "\n\n")
    assert rollouts(tmp_path) == 12


def test_parquet_step_files_with_unreadable_decimals_are_read_alone(tmp_path: Path) -> None:
    for step in (1, 2):
        (tmp_path / f"{step}.parquet").write_bytes((DATA / "decimal256.parquet").read_bytes())
    assert rollouts(tmp_path) == 8


def test_a_file_name_that_is_not_utf8_is_read(tmp_path: Path) -> None:
    """Polars opens only UTF-8 paths (it raised a TypeError: exit 3); grpoflaw reads such a
    file through a link under a UTF-8 name and shows the odd byte as an escape."""
    name = os.fsdecode(b"run\xff.jsonl")
    try:
        (tmp_path / name).write_bytes(jsonl(*ROWS, b'{"step": '))
    except (OSError, UnicodeEncodeError):  # pragma: no cover - a file system that refuses
        pytest.skip("this file system takes only UTF-8 names")
    assert rollouts(tmp_path, "--skip-bad-lines") == 4
    assert rollouts(tmp_path / name, "--skip-bad-lines") == 4
    html = tmp_path.parent / f"{tmp_path.name}-report.html"
    shown = run("compare", tmp_path, "--skip-bad-lines", "--html", html)
    assert shown.exit_code == 0, shown.output
    assert "run\\xff.jsonl" in shown.output and "\udcff" not in shown.output
    written = run("advantages", tmp_path, "--skip-bad-lines", "-o", tmp_path.parent / "adv.csv")
    assert written.exit_code == 0, written.output
    assert (tmp_path.parent / "adv.csv").read_text().count("\n") == 5


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM or SIGKILL ends a run before its exit cleanup: the cleaned copies' folder
    stays, and the next run that needs one removes it (its process is gone)."""
    import subprocess
    import sys
    import tempfile

    from grpoflaw_cli.ingest import lines

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead = int(gone.stdout)
    scratch = tmp_path / "tmp"
    left = scratch / f"grpoflaw-{dead}-abc"
    left.mkdir(parents=True)
    (left / "copy.jsonl").write_bytes(b"x" * 1000)
    alive = scratch / "grpoflaw-1-def"  # process 1 always runs
    alive.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(lines, "_FOLDER", [])
    log = tmp_path / "bom.jsonl"
    log.write_bytes(BOM + jsonl(*ROWS))
    assert rollouts(log) == 4  # a byte-order mark: read from a cleaned copy
    assert not left.exists() and alive.exists()
    for folder in lines._FOLDER:
        folder.cleanup()


def test_parquet_files_with_enums_of_other_categories_read_as_one_log(tmp_path: Path) -> None:
    """Two step files whose step and group columns are Enums of different categories have
    no common type: they are read as the text they stand for, not refused with an internal
    error."""
    for step in (1, 2):
        pl.DataFrame(
            {
                "step": pl.Series([str(step)] * 4, dtype=pl.Enum([str(step)])),
                "group": pl.Series(
                    [f"p{step}a"] * 2 + [f"p{step}b"] * 2, dtype=pl.Enum([f"p{step}a", f"p{step}b"])
                ),
                "reward": [0.0, 1.0, 0.0, 3.0],
            }
        ).write_parquet(tmp_path / f"{step}.parquet")
    result = gf.compare(tmp_path, ["grpo", "dr_grpo"])
    assert (result.analysis.rollouts, result.analysis.iterations.height) == (8, 2)
    assert result.analysis.groups.height == 4


def test_step_files_with_an_optional_key_read_as_one_log(tmp_path: Path) -> None:
    """Step files where every other one logs an extra key are scanned together over the
    union of their keys (6,000 such files took minutes as one scan each): the rows, their
    order and a null where a file lacks the key are what per-file reads give."""
    steps = tmp_path / "steps"
    steps.mkdir()
    expected = []
    for step in range(1, 7):
        rows = [
            {"step": step, "uid": f"p{step}-{k // 2}", "reward": float(k % 3)} for k in range(4)
        ]
        if step % 2:
            rows = [{**r, "extra": step} for r in rows]
        (steps / f"{step}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        expected += [{**r, "extra": r.get("extra")} for r in rows]
    out = tmp_path / "adv.parquet"
    result = CliRunner().invoke(
        app, ["advantages", str(steps), "-o", str(out), "--estimators", "grpo"]
    )
    assert result.exit_code == 0, result.output
    got = pl.read_parquet(out)
    assert got.select("step", "uid", "reward", "extra").to_dicts() == expected


def test_a_file_named_twice_is_read_once_and_said(tmp_path: Path) -> None:
    """The same file twice on the command line, or a step file that is a link to another,
    is read once, and the log's warnings (printed on stderr) say which, not silently."""
    (tmp_path / "1.jsonl").write_text(
        '{"step": 1, "uid": "a", "reward": 1}\n{"step": 1, "uid": "a", "reward": 0}\n'
    )
    (tmp_path / "2.jsonl").symlink_to(tmp_path / "1.jsonl")
    log = ingest.load([tmp_path])
    assert [p.name for p in log.detection.files] == ["1.jsonl"]
    assert log.warnings == (
        f"'{tmp_path / '2.jsonl'}' is the same file as '{tmp_path / '1.jsonl'}' "
        "(named twice, or a link): read once",
    )
    result = CliRunner().invoke(
        app, ["compare", str(tmp_path / "1.jsonl"), str(tmp_path / "1.jsonl"), "--format", "json"]
    )
    assert result.exit_code == 0 and "read once" in result.stderr
    assert json.loads(result.stdout)["summary"]["rollouts"] == 2


def test_a_missing_reward_is_found_in_a_file_that_lacks_the_task_column(tmp_path: Path) -> None:
    """The task column is logged in one step file only; the other has a null reward on
    line 3: the message names that file and line, not a column the file lacks."""
    rows = [
        {"step": 1, "prompt_id": k // 2, "reward": float(k % 2), "task": "math"} for k in range(8)
    ]
    (tmp_path / "1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    second = [{"step": 2, "prompt_id": k // 2, "reward": float(k % 2)} for k in range(8)]
    second[2]["reward"] = None
    (tmp_path / "2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in second))
    result = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert result.exit_code == 2
    assert f"'{tmp_path / '2.jsonl'}', line 3: the reward is missing" in result.output
    assert "__file" not in result.output


def test_a_small_log_gives_the_same_report_bytes_every_run(monkeypatch) -> None:
    """A log under SMALL_LOG_BYTES is aggregated in memory, whose sums are added in a fixed
    order: five runs over 36 step files give one JSON text. A larger log streams."""
    from grpoflaw_cli.ingest import log as log_module
    from grpoflaw_cli.render.formats import report_json

    folder = SAMPLES / "trainers" / "verl_multi_reward"
    assert log_module.small(ingest.load([folder]))
    texts = {report_json(gf.compare(folder).report()) for _ in range(5)}
    assert len(texts) == 1
    monkeypatch.setattr(log_module, "SMALL_LOG_BYTES", 1000)
    assert not log_module.small(ingest.load([folder]))
