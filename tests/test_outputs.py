"""Outputs never destroy what is read, write where they are pointed, and fail with the real
cause, for output files and the process's own standard streams."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from grpoflaw_cli import api
from grpoflaw_cli.cli import app
from grpoflaw_cli.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def write_log(path: Path, steps: int = 2, note: str = "a response") -> Path:
    rows = [
        {"step": s, "group": g, "reward": float(r * (g + 1)), "note": note, "tokens": [1, 2]}
        for s in range(steps)
        for g in range(3)
        for r in range(4)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(*args: object) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def grpoflaw(
    *args: object, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """The real process (standard streams, signals): ``python -m grpoflaw_cli``."""
    return subprocess.run(
        [sys.executable, "-m", "grpoflaw_cli", *map(str, args)],
        capture_output="stdout" not in kwargs,
        stderr=subprocess.PIPE if "stdout" in kwargs else None,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
        **kwargs,
    )


def full_device(tmp_path: Path) -> Path:
    """A device whose writes fail with 'No space left on device': a private copy of
    /dev/full where the system allows it (so a bug cannot replace the real one)."""
    node = tmp_path / "full"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        return node
    except (OSError, AttributeError):
        pass
    real = Path("/dev/full")
    if real.is_char_device() and os.geteuid() != 0:
        return real
    pytest.skip("no /dev/full-like device here")


# --------------------------------------------------------------------------- data loss


def test_advantages_refuses_to_write_over_its_input(tmp_path: Path) -> None:
    log = write_log(tmp_path / "nemo.jsonl")
    before = log.read_bytes()
    result = run("advantages", log, "-o", log)
    assert result.exit_code == 2, result.output
    assert "is an input of this run" in result.output
    assert log.read_bytes() == before


def test_compare_html_refuses_its_input(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    before = log.read_bytes()
    result = run("compare", log, "--html", log)
    assert result.exit_code == 2, result.output
    assert "is an input of this run" in result.output
    assert log.read_bytes() == before


def test_simulate_html_refuses_its_from_log(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    before = log.read_bytes()
    result = run("simulate", "--from-log", log, "--html", log, "--seeds", "2", "--iterations", "2")
    assert result.exit_code == 2, result.output
    assert "is an input of this run" in result.output
    assert log.read_bytes() == before


@pytest.mark.parametrize("name", ["3.jsonl", "new.jsonl", "sub/adv.parquet", "adv.csv"])
def test_a_log_file_inside_an_input_folder_is_refused(tmp_path: Path, name: str) -> None:
    dumps = tmp_path / "dumps"
    (dumps / "sub").mkdir(parents=True)
    for step in (1, 2, 3):
        write_log(dumps / f"{step}.jsonl", steps=1)
    before = {p: p.read_bytes() for p in dumps.rglob("*.jsonl")}
    result = run("advantages", dumps, "-o", dumps / name)
    assert result.exit_code == 2, result.output
    expected = "is an input of this run" if name == "3.jsonl" else "inside the input folder"
    assert expected in result.output
    assert {p: p.read_bytes() for p in dumps.rglob("*.jsonl")} == before
    assert not (dumps / name).exists() or name == "3.jsonl"


def test_a_report_inside_an_input_folder_is_fine(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    write_log(dumps / "1.jsonl", steps=1)
    result = run("compare", dumps, "--html", dumps / "report.html")
    assert result.exit_code == 0, result.output
    assert (dumps / "report.html").read_text().startswith("<")


def test_an_output_matching_an_input_glob_is_refused(tmp_path: Path) -> None:
    write_log(tmp_path / "1.jsonl", steps=1)
    result = run("advantages", f"{tmp_path}/*.jsonl", "-o", tmp_path / "adv.jsonl")
    assert result.exit_code == 2, result.output
    assert "matched by the input glob" in result.output
    assert not (tmp_path / "adv.jsonl").exists()
    other = run("advantages", f"{tmp_path}/*.jsonl", "-o", tmp_path / "adv.csv")
    assert other.exit_code == 0, other.output  # the glob does not match a .csv


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_link_to_an_input_is_refused(tmp_path: Path, link: str) -> None:
    log = write_log(tmp_path / "run.jsonl")
    before = log.read_bytes()
    out = tmp_path / "other" / "adv.jsonl"
    out.parent.mkdir()
    (os.symlink if link == "symlink" else os.link)(log, out)
    result = run("advantages", log, "-o", out)
    assert result.exit_code == 2, result.output
    assert "is an input of this run" in result.output
    assert log.read_bytes() == before


def test_the_check_comes_before_any_reading(tmp_path: Path) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_text('{"step": 1, "reward": \n')  # malformed: reading it would fail first
    for args in (("advantages", log, "-o", log), ("compare", log, "--html", log)):
        result = run(*args)
        assert result.exit_code == 2 and "is an input of this run" in result.output, result.output


def test_the_library_refuses_to_write_over_its_input(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    before = log.read_bytes()
    with pytest.raises(UsageError, match="is an input of this run"):
        api.write_advantages(log, log)
    with pytest.raises(UsageError, match="is an input of this run"):
        api.write_advantages(api.load(log), str(log))
    assert log.read_bytes() == before


# --------------------------------------------------------------------------- what is at the path


def test_a_symlinked_output_updates_its_target(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    target = tmp_path / "reports" / "latest.html"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "report.html"
    link.symlink_to(target)
    result = run("compare", log, "--html", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("<")
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_a_fifo_output_is_written_through(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    fifo = tmp_path / "adv.csv"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()

    # A writer that opened the FIFO twice (the reader took the first close for the end)
    # waited for another reader for ever: an alarm makes that a failure, not a hang.
    def hung(signum: int, frame: object) -> None:
        raise AssertionError("the write never ended: it waits for a reader")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        result = run("advantages", log, "-o", fifo, "--estimators", "grpo")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    reader.join(30 if stat.S_ISFIFO(os.lstat(fifo).st_mode) else 0)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not a regular file
    assert received and received[0].startswith(b"step,group,reward")


@pytest.mark.slow
def test_an_output_that_is_the_shells_stdout_is_written_through(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    link = tmp_path / "adv.csv"
    link.symlink_to("/dev/stdout")
    shell = tmp_path / "shell.txt"
    with open(shell, "w") as stdout:
        done = grpoflaw("advantages", log, "-o", link, "--estimators", "grpo", stdout=stdout)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"
    assert shell.read_text().startswith("step,group,reward")


def test_html_to_a_full_device_is_a_clear_error_and_keeps_the_device(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    device = full_device(tmp_path)
    result = run("compare", log, "--html", device)
    assert result.exit_code == 2, result.output
    assert f"cannot write '{device}': No space left on device" in result.output
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_advantages_to_a_full_disk_says_it_cannot_write(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    out = tmp_path / "adv.csv"
    out.symlink_to(full_device(tmp_path))
    result = run("advantages", log, "-o", out)
    assert result.exit_code == 2, result.output
    assert f"cannot write '{out}': No space left on device" in result.output
    assert "cannot read the log" not in result.output


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_a_regular_file_on_a_full_disk_blames_the_write(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = write_log(tmp_path / "run.jsonl")
    out = tmp_path / f"adv{suffix}"

    def full(self: pl.LazyFrame, path: Any, *args: Any, **kwargs: Any) -> None:
        Path(path).write_bytes(b"partial")
        raise OSError("No space left on device (os error 28)")

    for sink in ("sink_parquet", "sink_csv", "sink_ndjson"):
        monkeypatch.setattr(pl.LazyFrame, sink, full)
    result = run("advantages", log, "-o", out)
    assert result.exit_code == 2, result.output
    assert f"cannot write '{out}': No space left on device" in result.output
    assert "cannot read the log" not in result.output
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


DRIVER = """
import sys, time
from pathlib import Path
from grpoflaw_cli import safe_output

with safe_output._atomic(Path(sys.argv[1])) as tmp:
    tmp.write_text("half of it")
    print(tmp, flush=True)
    time.sleep(60)
"""


SLOW_SINK = """
import sys, time
import polars as pl
from pathlib import Path
from grpoflaw_cli import safe_output

def slow(frame: pl.DataFrame) -> pl.DataFrame:
    print("writing", flush=True)
    time.sleep(60)  # a sink that takes a minute, in Polars' threads
    return frame

rows = pl.LazyFrame({"a": [1, 2, 3]}).map_batches(slow, streamable=False)
safe_output.sink_frame_atomic(Path(sys.argv[1]), rows)
"""


def test_a_signal_during_a_long_sink_is_handled_at_once(tmp_path: Path) -> None:
    out = tmp_path / "adv.csv"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SINK, str(out)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    assert list(tmp_path.glob(".*.tmp"))  # the sink has its temporary file
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(15)
    finally:
        proc.kill()
    assert code == -signal.SIGTERM and time.monotonic() - started < 15
    assert not list(tmp_path.glob(".*.tmp")) and not out.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)])
def test_a_signal_during_a_write_leaves_no_temp_file(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "report.html"
    out.write_text("the previous report")
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(out)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    tmp = Path(proc.stdout.readline().strip())
    assert tmp.exists()
    proc.send_signal(signum)
    assert proc.wait(30) == -signum  # ended as the signal ends a process
    assert not tmp.exists() and not list(tmp_path.glob(".*.tmp"))
    assert out.read_text() == "the previous report"


# --------------------------------------------------------------------------- checked before work


@pytest.mark.parametrize("command", ["compare", "advantages", "simulate"])
def test_a_missing_output_folder_is_refused_before_reading(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"step": 1, "reward": \n')  # reading it would fail
    out = tmp_path / "missing" / "out.csv"
    args = {
        "compare": ("compare", bad, "--html", out.with_suffix(".html")),
        "advantages": ("advantages", bad, "-o", out),
        "simulate": ("simulate", "--from-log", bad, "--html", out.with_suffix(".html")),
    }[command]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "folder" in result.output and "does not exist" in result.output, result.output


def test_a_file_name_too_long_is_refused_before_reading(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    for args in (
        ("advantages", log, "-o", tmp_path / ("a" * 300 + ".csv")),
        ("compare", log, "--html", tmp_path / ("r" * 300 + ".html")),
    ):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert "the file name is too long" in result.output, result.output


def test_a_long_name_within_the_limit_is_written(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    out = tmp_path / ("a" * 240 + ".csv")  # its temporary file's name must fit too
    result = run("advantages", log, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.exists()


# --------------------------------------------------------------------------- standard streams


@pytest.mark.slow
def test_stdout_on_a_full_device(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    with open(full_device(tmp_path), "w") as full:
        for args in (("compare", log, "--format", "json"),):
            done = grpoflaw(*args, stdout=full)
            assert done.returncode == 2, done.stderr
            assert "cannot write to standard output: No space left on device" in done.stderr
            assert "Traceback" not in done.stderr and "Exception" not in done.stderr
        done = grpoflaw("advantages", log, "-o", "-", stdout=full)
        assert done.returncode == 2, done.stderr
        assert "cannot write to standard output: No space left on device" in done.stderr


@pytest.mark.slow
def test_closed_stdout(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")

    def closed(*args: object) -> subprocess.CompletedProcess[str]:
        command = " ".join(f"'{a}'" for a in (sys.executable, "-m", "grpoflaw_cli", *args))
        return subprocess.run(
            f"{command} >&-", shell=True, capture_output=True, text=True, check=False
        )

    for args in (("compare", log), ("advantages", log, "-o", "-")):
        done = closed(*args)
        assert done.returncode == 2, done.stderr
        assert "cannot write to standard output: it is closed" in done.stderr
        assert "Traceback" not in done.stderr
    out = tmp_path / "adv.csv"
    done = closed("advantages", log, "-o", out)  # stdout is not needed
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("step,")


@pytest.mark.slow
def test_closed_stderr_and_stdin(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    out = tmp_path / "adv.csv"
    command = " ".join(f"'{a}'" for a in (sys.executable, "-m", "grpoflaw_cli"))
    done = subprocess.run(
        f"{command} advantages '{log}' -o '{out}' 2>&- <&-", shell=True, check=False
    )
    assert done.returncode == 0
    assert out.read_text().startswith("step,")
    missing = subprocess.run(
        f"{command} compare '{tmp_path / 'nope.jsonl'}' 2>&-", shell=True, check=False
    )
    assert missing.returncode == 2  # the message has nowhere to go; the code still says it


@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl")
    for args in (("compare", log), ("advantages", log, "-o", "-")):
        read, write = os.pipe()
        os.close(read)  # `| head -1` that has already stopped reading
        done = grpoflaw(*args, stdout=write)
        os.close(write)
        assert done.returncode in (-signal.SIGPIPE, 128 + signal.SIGPIPE), done.stderr
        assert "Error" not in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow
def test_a_non_utf8_stdout(tmp_path: Path) -> None:
    log = write_log(tmp_path / "run.jsonl", note="a “quoted” × response")
    for args in (("compare", log), ("estimators",)):
        done = grpoflaw(*args, env={"PYTHONIOENCODING": "ascii"})
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------- -o - and CSV


def test_advantages_to_stdout_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = write_log(tmp_path / "run.jsonl")
    out = tmp_path / "adv.csv"
    assert run("advantages", log, "-o", out).exit_code == 0

    def in_memory(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("-o - collected every row in memory")

    monkeypatch.setattr(api, "advantages", in_memory)
    result = run("advantages", log, "-o", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout == out.read_text()


FORMULAS = ["=1+1", "+41", "-2+3", "@SUM(A1:A2)", "\tstarts with a tab", "\rcarriage", "plain"]


def test_csv_outputs_keep_text_verbatim_and_numbers_numeric(tmp_path: Path) -> None:
    """The policy on CSV formula injection: the CSV is a data file for Polars / pandas, so
    text is written as it is in the log (never prefixed with a quote), and negative numbers
    stay numbers. Opening it in a spreadsheet is the user's risk (see the README)."""
    rows = [
        {"step": 0, "group": 0, "reward": -0.5 * i, "note": text} for i, text in enumerate(FORMULAS)
    ]
    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "adv.csv"
    assert run("advantages", log, "-o", out).exit_code == 0
    to_stdout = run("advantages", log, "-o", "-")
    assert to_stdout.exit_code == 0
    for text in (out.read_bytes().decode(), to_stdout.stdout):
        back = pl.read_csv(text.encode())
        assert back["note"].to_list() == FORMULAS
        assert back["reward"].dtype == pl.Float64
        assert back["reward"].to_list() == [-0.5 * i for i in range(len(FORMULAS))]
        assert ",-0.5," in text and ",'-" not in text and ",'=" not in text


def test_the_readme_states_the_csv_policy() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "formula" in readme and "spreadsheet" in readme
