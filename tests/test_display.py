"""Display: text from logs and paths never drives the terminal.

Task, column and file names, and the messages quoting them, reach the screen with their
control characters shown as escapes (``\\x1b``, ``\\n``, ``\\u202e``): no escape sequence
(colors, window title, OSC 52 clipboard write), no forged line, no bidi reordering.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grpoflaw_cli.cli import app
from grpoflaw_cli.textsafe import printable

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
"""A wide, fixed terminal: nothing in these tests depends on where Rich wraps."""

CONTROLS = ("\x1b", "\x07", "\x9b", "\x85", "\x08", "\r", "\u202e", "\u2066")
"""ESC, BEL, the 8-bit CSI and NEL (C1), backspace, carriage return, bidi override/isolate."""

HOSTILE = "math\x1b]52;c;aGFja2Vk\x07\x1b]0;pwned\x07\x1b[31mred\x9b2J\u202eevil\nError: all good"
SHOWN = r"math\x1b]52;c;aGFja2Vk\x07\x1b]0;pwned\x07\x1b[31mred\x9b2J\u202eevil\nError: all good"


def run(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


def jsonl(*rows: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def rollouts(**extra: Any) -> list[dict[str, Any]]:
    """Two steps of two groups of four; the second group's rewards 10× the first's."""
    return [
        {"step": s, "prompt": f"q{g}", "reward": r * k, **extra}
        for s in (1, 2)
        for g, k in ((0, 1), (1, 10))
        for r in (0, 1, 0, 1)
    ]


def assert_inert(text: str) -> None:
    """No control character from the input reaches the terminal, and no forged line."""
    found = [c for c in CONTROLS if c in text]
    assert not found, (found, text)
    assert not any(line.startswith("Error: all good") for line in text.splitlines()), text


def test_printable_shows_every_control_character_and_keeps_the_rest() -> None:
    assert printable(HOSTILE) == SHOWN
    assert printable("a\x00b\x7fc\x85d\u2028e\u2067f\u200fg") == (
        r"a\x00b\x7fc\x85d\u2028e\u2067f\u200fg"
    )
    kept = "réponse 数学 🤖 [1] \\ 'q' \u200d \u00a0"
    assert printable(kept) == kept
    assert printable("run\udcff.jsonl") == r"run\xff.jsonl"  # an undecodable byte of a name


def test_task_names_from_the_log_are_shown_not_obeyed(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    log.write_bytes(jsonl(*rollouts(task=HOSTILE)))
    result = run("compare", log, "--task-col", "task")
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    assert SHOWN in result.output  # still recognizable, on one line


def test_column_names_of_a_csv_never_reach_the_terminal_raw(tmp_path: Path) -> None:
    """Read or refused (ingest decides), such a header never drives the terminal."""
    column = "score\x1b[2J\x1b]0;pwned\x07\u202e"
    log = tmp_path / "run.csv"
    body = "".join(
        f"{s},q{g},{r * k}\n" for s in (1, 2) for g, k in ((0, 1), (1, 9)) for r in (0, 1)
    )
    log.write_text(f'step,prompt,"{column}"\n' + body, encoding="utf-8")
    for command in ("compare", "inspect"):
        result = run(command, log, "--reward-col", column)
        assert result.exit_code in (0, 2), result.output
        assert_inert(result.output)


def hostile_report(tmp_path: Path) -> dict[str, Any]:
    """A real ``compare`` report whose every string (names, values, messages) is hostile."""
    log = tmp_path / "run.jsonl"
    log.write_bytes(jsonl(*rollouts(task="t")))
    result = run("compare", log, "--task-col", "task", "--format", "json")
    assert result.exit_code == 0, result.output

    def spoil(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: spoil(v) for k, v in value.items()}
        if isinstance(value, list):
            return [spoil(v) for v in value]
        return value + HOSTILE if isinstance(value, str) else value

    report = json.loads(result.stdout)
    summary = report["summary"]
    report["summary"] = dict(
        spoil(summary),
        estimators=summary["estimators"],  # names the renderer looks up: not from the log
        magnitude=[
            dict(
                spoil(row),
                estimator=row["estimator"],
                **{k: row[k] for k in row if k.startswith("verdict")},
            )
            for row in summary["magnitude"]
        ],
        flags=summary["flags"],
    )
    report["flags"] = [
        dict(spoil(f), severity=f["severity"], code=f["code"]) for f in report["flags"]
    ]
    return report


def test_every_string_of_a_report_is_shown_not_obeyed(tmp_path: Path) -> None:
    """Whatever log text a report carries (column and file names, the source, task names,
    flag messages...), the screens show it printable: one chokepoint, not call sites."""
    import io

    from rich.console import Console

    from grpoflaw_cli.render.inspect import render_inspect
    from grpoflaw_cli.render.terminal import render_compare, render_watch

    report = hostile_report(tmp_path)
    for screen in (
        render_compare(report, width=200),
        render_watch(report, tmp_path / HOSTILE, width=200, error=HOSTILE),
        render_inspect({"facts": {"columns": HOSTILE, HOSTILE: 1}, "reasons": [HOSTILE]}),
    ):
        out = io.StringIO()
        Console(file=out, width=200, markup=False).print(screen)
        assert_inert(out.getvalue())
        assert SHOWN in out.getvalue()


def test_file_names_are_shown_not_obeyed(tmp_path: Path) -> None:
    names = [
        "run\x1b]0;pwned\x07.jsonl",
        "x\nError: all good.jsonl",
        "evil\u202elnosj.jsonl",
    ]
    for name in names:
        (tmp_path / name).write_bytes(jsonl(*rollouts()))
    result = run("compare", *(tmp_path / n for n in names))
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    for name in names:
        assert printable(name) in result.output


def test_a_missing_path_forges_no_error_line(tmp_path: Path) -> None:
    missing = tmp_path / "x\nError: all good\x1b[2K\r.jsonl"
    result = run("compare", missing)
    assert result.exit_code == 2, result.output
    assert_inert(result.output)
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        line for line in result.output.splitlines() if "x\\nError: all good\\x1b[2K\\r" in line
    ]
    assert "Traceback" not in result.output


def test_an_undecodable_file_name_is_shown_by_its_byte(tmp_path: Path) -> None:
    missing = tmp_path / os.fsdecode(b"run\xff\x1b[31m.jsonl")
    result = run("compare", missing)
    assert result.exit_code == 2, result.output
    assert_inert(result.output)
    assert r"run\xff\x1b[31m.jsonl" in result.output


def test_skipped_lines_warning_names_the_file_visibly(tmp_path: Path) -> None:
    log = tmp_path / "dump\x1b]52;c;aGk=\x07\nError: all good.jsonl"
    log.write_bytes(jsonl(*rollouts()) + b'{"step": 3, "rew')
    result = run("compare", log, "--skip-bad-lines")
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    assert r"dump\x1b]52;c;aGk=\x07\nError: all good.jsonl" in result.stderr
    assert "Skipped 1 malformed line " in result.stderr


def test_inspect_names_files_and_columns_visibly(tmp_path: Path) -> None:
    log = tmp_path / "run\x1b]0;pwned\x07\nError: all good.jsonl"
    log.write_bytes(jsonl(*rollouts()) + b'{"step": 3, "rew')
    result = run("inspect", log, "--skip-bad-lines")
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    assert r"run\x1b]0;pwned\x07\nError: all good.jsonl" in result.output
    missing = run("inspect", log, "--skip-bad-lines", "--task-col", "task\x1b[31m")
    assert missing.exit_code == 2, missing.output  # no such column: the message quotes it
    assert_inert(missing.output)
    assert r"task\x1b[31m" in missing.output


def test_html_report_escapes_the_log_text(tmp_path: Path) -> None:
    rows = [
        {**row, "prompt": f"<b onmouseover=alert(1)>{row['prompt']}"}
        for row in rollouts(task="<script>alert('task')</script>")
    ]
    log = tmp_path / "<img src=x onerror=alert(1)>.jsonl"
    log.write_bytes(jsonl(*rows))
    report = tmp_path / "report\x1b]0;pwned\x07.html"
    result = run("compare", log, "--task-col", "task", "--html", report)
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    assert r"HTML report written to" in result.output and r"report\x1b]0;pwned\x07.html" in (
        result.output
    )
    page = report.read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;task&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;.jsonl" in page
    # Plotly draws hover text as HTML: a group id's tags are escaped, so shown as text
    assert "group &lt;b onmouseover=alert(1)&gt;q1" in page


def test_group_ids_stay_safe(tmp_path: Path) -> None:
    """Group ids reach the screen only inside flag messages, quoted with repr()."""
    rows = [{**row, "prompt": "g\x1b[31m" + row["prompt"]} for row in rollouts()]
    log = tmp_path / "run.jsonl"
    log.write_bytes(jsonl(*rows))
    result = run("compare", log)
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    assert r"g\x1b[31mq" in result.output


def test_watch_names_an_unreadable_file_visibly(tmp_path: Path) -> None:
    folder = tmp_path / "dumps\x1b]0;pwned\x07"
    folder.mkdir()
    (folder / "1.jsonl").write_bytes(jsonl(*rollouts()))
    (folder / "2\x1b[2J\nError: all good.parquet").write_bytes(b"PAR1 not yet")
    result = run("watch", folder, "--refreshes", "1", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    assert r"watching " in result.output and r"dumps\x1b]0;pwned\x07" in result.output
    assert r"left out 2\x1b[2J\nError: all good.parquet" in result.output


def _on_a_terminal(args: list[str], cwd: Path) -> bytes:
    """What a run prints on stdout when stdout is a terminal (a pseudo-terminal)."""
    pty = pytest.importorskip("pty")
    try:
        main, other = pty.openpty()
    except OSError:  # pragma: no cover - a machine without pseudo-terminals
        pytest.skip("no pseudo-terminal here")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "grpoflaw_cli", *args],
            stdout=other,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env={**os.environ, **ENV},
        )
        os.close(other)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=60) == 0, b"".join(chunks)
    finally:
        os.close(main)
    return b"".join(chunks)


@pytest.mark.slow
def test_csv_on_a_terminal_shows_control_characters(tmp_path: Path) -> None:
    """Data formats are faithful when piped or redirected; on a terminal (as ``ls``
    does) the control characters of the values show as escapes."""
    rows = [
        {**row, "step": f"s{row['step']}\x1b]0;pwned\x07\nError: all good"} for row in rollouts()
    ]
    (tmp_path / "run.jsonl").write_bytes(jsonl(*rows))
    for args in (
        ["compare", "run.jsonl", "--format", "csv"],
        ["advantages", "run.jsonl", "-o", "-"],
    ):
        shown = _on_a_terminal(args, tmp_path)
        assert_inert(shown.decode().replace("\r\n", "\n"))  # the terminal's own line ends
        assert rb"s1\x1b]0;pwned\x07\nError: all good" in shown, (args, shown)
        piped = run(*args[:1], tmp_path / "run.jsonl", *args[2:])
        assert piped.exit_code == 0, piped.output
        assert "s1\x1b]0;pwned\x07\nError: all good" in piped.stdout  # the data as it is


def test_json_escapes_control_characters_itself(tmp_path: Path) -> None:
    """A guard, true before the display fixes too (json.dumps writes \\u001b)."""
    log = tmp_path / "run\x1b[31m.jsonl"
    log.write_bytes(jsonl(*rollouts(task=HOSTILE)))
    result = run("compare", log, "--task-col", "task", "--format", "json")
    assert result.exit_code == 0, result.output
    assert_inert(result.stdout)
    assert json.loads(result.stdout)["summary"]["tasks"][0]["task"] == HOSTILE


def test_the_header_breaks_between_file_names_not_inside_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"a step dump [{k}].jsonl" for k in (1, 2, 3)]
    for name in names:
        (tmp_path / name).write_bytes(jsonl(*rollouts()))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["compare", *names], env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.output
    for name in names:
        assert name in result.output, result.output


def test_a_traceback_shows_control_characters(tmp_path: Path) -> None:
    """--traceback prints the exception's message, which quotes the path."""
    missing = tmp_path / "run\x1b]0;pwned\x07.jsonl"
    result = run("compare", missing, "--traceback")
    assert result.exit_code == 2, result.output
    assert "Traceback" in result.output
    assert_inert(result.output)
    assert r"run\x1b]0;pwned\x07.jsonl" in result.output


def test_the_output_path_is_named_visibly(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    log.write_bytes(jsonl(*rollouts()))
    output = tmp_path / "adv\x1b]0;pwned\x07\nError: all good.csv"
    result = run("advantages", log, "-o", output)
    assert result.exit_code == 0, result.output
    assert_inert(result.output)
    assert r"adv\x1b]0;pwned\x07\nError: all good.csv" in result.stderr
    assert output.exists()  # the file itself has the name asked for


def test_html_chart_labels_escape_text_steps(tmp_path: Path) -> None:
    """Plotly reads axis labels and hover texts as HTML: a text step's tags stay text."""
    rows = [{**row, "step": f"<i>s{row['step']}</i>"} for row in rollouts()]
    log = tmp_path / "run.jsonl"
    log.write_bytes(jsonl(*rows))
    report = tmp_path / "report.html"
    result = run("compare", log, "--html", report)
    assert result.exit_code == 0, result.output
    page = report.read_text(encoding="utf-8")
    assert "\\u003ci\\u003es1" not in page  # Plotly's JSON writes a raw "<" so
    assert '"&lt;i&gt;s1&lt;\\u002fi&gt;"' in page
