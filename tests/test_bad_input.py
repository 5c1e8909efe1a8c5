"""The catalogue of bad inputs: each gets a clear message naming file, line or column and a
fix, exit code 2, and no traceback (or, where the input is unusual but valid, a result)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from grpoflaw_cli.cli import app


def lines(*rows: Any) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else (r if isinstance(r, str) else json.dumps(r)).encode())
        + b"\n"
        for r in rows
    )


GOOD = [{"step": 1, "uid": "a", "reward": r} for r in (0.0, 1.0, 1.0, 0.0)]

# (name, file name, content, needles that must appear in the message)
REFUSED: list[tuple[str, str, bytes, list[str]]] = [
    ("empty file", "log.jsonl", b"", ["is empty"]),
    (
        "an object for a reward",
        "log.jsonl",
        lines(*[{**r, "reward": {"a": 1}} for r in GOOD]),
        ["line 1", "column 'reward'", 'found the JSON object {"a": 1}'],
    ),
    (
        "a number, then true, in one field",
        "log.jsonl",
        lines(*GOOD, {"step": 1, "uid": "a", "reward": True}),
        ["line 5", "column 'reward'", "the JSON true/false true where"],
    ),
    (
        "a number, then a list, in one field",
        "log.jsonl",
        lines(*GOOD, {"step": 1, "uid": "a", "reward": [1, 2]}),
        ["line 5", "column 'reward'", "list [1, 2]", "lines before hold numbers"],
    ),
    ("binary garbage as jsonl", "log.jsonl", bytes(range(256)) * 4, ["line 1", "not a JSON"]),
    ("non-UTF-8 jsonl", "log.jsonl", b"\xff\xfe\x00garbage\n", ["line 1", "not UTF-8"]),
    ("binary garbage as csv", "log.csv", bytes(range(128, 256)) * 4, ["log.csv"]),
    ("binary garbage as parquet", "log.parquet", b"\x00\x01garbage" * 50, ["not a Parquet file"]),
    (
        "truncated last line",
        "log.jsonl",
        lines(*GOOD, '{"step": 1, "uid": "a", "rew'),
        ["line 5", "still being written", "--skip-bad-lines"],
    ),
    ("malformed middle line", "log.jsonl", lines(GOOD[0], "{oops", *GOOD[1:]), ["line 2"]),
    (
        "text reward",
        "log.jsonl",
        lines(*GOOD, {"step": 1, "uid": "a", "reward": "high"}),
        ["line 5", "'reward'", "'high'"],
    ),
    (
        "number as JSON string",
        "log.jsonl",
        lines({"step": 1, "uid": "a", "reward": "0.5"}),
        ["line 1", "JSON string '0.5'"],
    ),
    (
        "bool reward",
        "log.jsonl",
        lines({"step": 1, "reward": True}, {"step": 1, "reward": False}),
        ["true/false"],
    ),
    (
        "null reward",
        "log.jsonl",
        lines(*GOOD, {"step": 1, "uid": "a", "reward": None}),
        ["line 5", "missing or not finite"],
    ),
    (
        "bare NaN",
        "log.jsonl",
        lines(*GOOD, '{"step": 1, "uid": "a", "reward": NaN}'),
        # a hint to fix the writer, not to skip the line
        ["line 5", "NaN", "write null for a missing value", "drop the rollout"],
    ),
    (
        "bare Infinity",
        "log.jsonl",
        lines('{"step": 1, "uid": "a", "reward": -Infinity}'),
        ["line 1", "Infinity"],
    ),
    (
        "rewards whose sum overflows",  # the mean overflows: named by the reward at fault
        "log.jsonl",
        lines(*({"step": 1, "uid": "a", "reward": r} for r in (1e308, -1e308, 1.5e308))),
        ["line 1", "magnitude 1e+308 overflows"],
    ),
    (
        "number out of range",
        "log.jsonl",
        lines('{"step": 1, "uid": "a", "reward": 1e400}'),
        ["line 1", "out of range"],
    ),
    ("inf in csv", "log.csv", b"step,reward\n1,0\n1,inf\n", ["line 3", "not finite"]),
    ("nan in csv", "log.csv", b"step,reward\n1,nan\n1,0\n", ["line 2", "not finite"]),
    (
        "null step",
        "log.jsonl",
        lines(GOOD[0], {"step": None, "uid": "a", "reward": 1.0}),
        ["line 2", "step"],
    ),
    ("list step", "log.jsonl", lines({"step": [1], "reward": 1.0}), ["'step'", "--step-col"]),
    ("no reward column", "log.jsonl", lines({"step": 1, "value": 1.0}), ["--reward-col"]),
    (
        "infinite length",
        "log.csv",
        b"step,reward,response_length\n1,0,5\n1,1,inf\n",
        ["line 3", "response length"],
    ),
    (
        "missing length",
        "log.csv",
        b"step,reward,response_length\n1,0,5\n1,1,\n",
        ["line 3", "response length", "missing"],
    ),
    (
        "negative length",
        "log.csv",
        b"step,reward,response_length\n1,0,5\n1,1,-3\n",
        ["line 3", "negative"],
    ),
    ("semicolon csv", "log.csv", b"step;reward\n1;0.5\n", ["separator"]),
    (
        "string reward after numbers",
        "log.jsonl",
        lines({"step": 1, "reward": 1}, {"step": 1, "reward": "0.5"}),
        ["line 2", "JSON string '0.5'"],
    ),
    (
        "string reward past the inferred rows",
        "log.jsonl",
        lines(*[{"step": 1, "reward": i % 2} for i in range(1200)], {"step": 1, "reward": "0.5"}),
        ["line 1201", "JSON string '0.5'"],
    ),
    ("a bare number line", "log.jsonl", lines({"step": 1, "reward": 1}, "5"), ["line 2"]),
    ("an extra field", "log.csv", b"step,reward\n1,0\n1,1,2\n", ["line 3", "3 fields"]),
    ("latin-1 byte", "log.csv", b"step,reward\n1,0\n1,\xe9\n", ["line 3", "UTF-8"]),
    (
        "a value spanning lines",
        "log.csv",
        b'step,note,reward\n1,"a\nb",0\n1,x,1\n1,y,abc\n',
        ["line 5", "'abc'"],
    ),
    ("tab-separated csv", "log.csv", b"step\treward\n1\t0.5\n", ["tab-separated", ".tsv"]),
    ("header only", "log.csv", b"step,uid,reward\n", ["no rows"]),
    ("a JSON array", "log.json", b'[{"reward": 1}]', ["line 1", "one JSON object per line"]),
]


@pytest.mark.parametrize(
    ("name", "file", "content", "needles"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_bad_input_is_refused_clearly(
    tmp_path: Path, name: str, file: str, content: bytes, needles: list[str]
) -> None:
    path = tmp_path / file
    path.write_bytes(content)
    for command in (["compare"], ["advantages", "-o", str(tmp_path / "out.parquet")]):
        result = CliRunner().invoke(app, [command[0], str(path), *command[1:]])
        assert result.exit_code == 2, (name, result.output)
        assert "Traceback" not in result.output
        assert str(path) in result.output or "no rows" in result.output, result.output
        for needle in needles:
            assert needle in result.output, (name, needle, result.output)
        assert not (tmp_path / "out.parquet").exists()


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "no such file" in result.output
    (tmp_path / "notes.txt").write_text("x")
    result = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert result.exit_code == 2 and "holds no log files" in result.output


def report(path: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["compare", str(path), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_all_rewards_equal(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(
        lines(
            *[
                {"step": s, "uid": f"g{g}", "reward": 1.0}
                for s in (1, 2)
                for g in range(3)
                for _ in range(4)
            ]
        )
    )
    out = report(path)
    assert {f["code"] for f in out["flags"]} == {"zero_variance"}
    assert all(f["severity"] == "error" for f in out["flags"])
    assert all(it["scale_grpo"] == 0.0 for it in out["iterations"])
    assert all(m["verdict_across"] == "n/a" for m in out["summary"]["magnitude"])


def test_one_iteration_only(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(lines(*GOOD, *[{"step": 1, "uid": "b", "reward": r} for r in (0, 5, 5, 0)]))
    out = report(path)
    assert out["summary"]["iterations"] == 1
    assert {f["code"] for f in out["flags"]} == {"collapsed_pair", "reallocation"}  # ±0.5 vs ±2.5


def test_unicode_and_very_long_prompts(tmp_path: Path) -> None:
    prompt = "Réponds en 日本語, s'il te plaît 🚀 " * 4000  # ~150 KB
    rows = [
        {"step": 1, "prompt": prompt + str(g), "reward": float(i % 2)}
        for g in range(3)
        for i in range(4)
    ]
    path = tmp_path / "log.jsonl"
    path.write_bytes(lines(*rows))
    out = report(path)
    assert out["summary"]["groups"] == 3
    target = tmp_path / "adv.parquet"
    result = CliRunner().invoke(app, ["advantages", str(path), "-o", str(target)])
    assert result.exit_code == 0
    assert pl.read_parquet(target)["prompt"][0] == prompt + "0"


def test_gzipped_truncated_log_with_skip(tmp_path: Path) -> None:
    path = tmp_path / "1.jsonl.gz"
    path.write_bytes(gzip.compress(lines(*GOOD, '{"step": 1, "uid"')))
    result = CliRunner().invoke(app, ["compare", str(path), "--skip-bad-lines", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "Skipped 1 malformed line " in result.stderr


def test_truncated_last_line_of_a_long_log(tmp_path: Path) -> None:
    """The cut line lies past the lines the schema is inferred from (and past where a bare
    row count would look): --skip-bad-lines still finds it, and watch reads up to it."""
    rows = [{"step": 1 + i // 100, "uid": f"g{i // 4}", "reward": i % 4} for i in range(500)]
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "rollouts.jsonl"
    path.write_bytes(lines(*rows, '{"step": 5, "rew'))
    result = CliRunner().invoke(app, ["compare", str(path), "--skip-bad-lines", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "line 501" in result.stderr and result.stdout.count("\n") == 6  # header + 5 steps
    watched = CliRunner().invoke(app, ["watch", str(folder), "--refreshes", "1"])
    assert watched.exit_code == 0, watched.output
    assert "500 in 5 iterations" in watched.output


def test_many_groups_of_two(tmp_path: Path) -> None:
    n = 200_000  # 100k groups of 2; the benchmark runs 10^6
    path = tmp_path / "pairs.parquet"
    pl.DataFrame(
        {
            "step": [0] * n,
            "group_id": [i // 2 for i in range(n)],
            "reward": [float((i * 7919) % 13) for i in range(n)],
        }
    ).write_parquet(path)
    out = report(path)
    assert out["summary"]["groups"] == n // 2
    assert out["iterations"][0]["group_size_max"] == 2


def test_rewards_too_large_for_float64(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(lines({"step": 1, "reward": 1e300}, {"step": 1, "reward": -1e300}))
    result = CliRunner().invoke(app, ["compare", str(path)])
    assert result.exit_code == 2 and "line 1" in result.output and "overflows" in result.output


def test_a_folder_mixing_layouts_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(lines({"step": 1, "prompt_id": 0, "reward": 1.0}))
    (tmp_path / "b.jsonl").write_bytes(lines({"step": 1, "reward": 1.0}))
    result = CliRunner().invoke(app, ["compare", str(tmp_path)])
    assert result.exit_code == 2
    assert "b.jsonl' has no column 'prompt_id'" in result.output
    assert "mix logs of different layouts" in result.output


def test_log_text_is_printed_as_written_not_read_as_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Llama-2 prompts hold "[/INST]"; a path or column may hold "[red]" or "[1]"."""
    rows = [
        {"step": s, "prompt": f"[INST] q{g} [/INST]", "reward": r * k}
        for s in (1, 2)
        for g, k in ((0, 1), (1, 10))
        for r in (0, 1, 0, 1)
    ]
    path = tmp_path / "run [1].jsonl"  # also a glob character class, to Polars
    path.write_bytes(lines(*rows))
    # A relative name on a fixed-width screen: the header fits it on one line, however
    # long the temporary folder's path (a wrapped name is no test of markup).
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["compare", path.name], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "log         run [1].jsonl" in result.output
    csv = tmp_path / "odd.csv"
    csv.write_bytes(b"step,[/note],reward\n1,[/t],1\n1,b,2\n")
    shown = CliRunner().invoke(app, ["inspect", str(csv)])
    assert shown.exit_code == 0 and "[/note]" in shown.output, shown.output
    missing = CliRunner().invoke(app, ["compare", str(tmp_path / "nope[red]x.jsonl")])
    assert missing.exit_code == 2 and "nope[red]x.jsonl" in missing.output, missing.output


@pytest.mark.slow
def test_an_output_folder_that_cannot_be_written(tmp_path: Path) -> None:
    forbidden = Path("/sys")  # not writable, even by root
    try:
        (forbidden / "grpoflaw-probe").write_text("")
    except OSError:
        pass
    else:  # pragma: no cover - an unusual machine
        pytest.skip("/sys is writable here")
    seed = tmp_path / "seed.jsonl"
    seed.write_bytes(lines(*GOOD))
    for args in (
        ["compare", str(seed), "--html", "/sys/report.html"],
        ["advantages", str(seed), "-o", "/sys/adv.csv"],
        ["simulate", "--html", "/sys/sim.html"],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "cannot write '/sys/" in result.output and "Traceback" not in result.output


def test_steps_written_as_text_sort_as_numbers(tmp_path: Path) -> None:
    rows = [{"step": str(s), "uid": "a", "reward": r * s} for s in range(1, 13) for r in (0, 1)]
    path = tmp_path / "text_steps.jsonl"
    path.write_bytes(lines(*rows))
    out = report(path)
    assert [it["step"] for it in out["iterations"]] == list(range(1, 13))
    # past the sample the choice was made on, a step that is no number is refused
    path.write_bytes(lines(*(rows * 50), {"step": "warmup", "uid": "a", "reward": 1.0}))
    result = CliRunner().invoke(app, ["compare", str(path)])
    assert result.exit_code == 2, result.output
    assert "line 1201" in result.output and "'warmup' is not a whole number" in result.output


def test_nan_step_or_group_ids_are_refused_like_null_ones(tmp_path: Path) -> None:
    nan = float("nan")
    for column, values in (("step", [1.0, 1.0, nan, 1.0]), ("group", [0.0, 0.0, nan, 1.0])):
        ids = {"step": [1.0] * 4, "group": [0.0, 0.0, 1.0, 1.0], column: values}
        path = tmp_path / f"nan_{column}.parquet"
        pl.DataFrame({**ids, "reward": [1.0, 2.0, 3.0, 4.0]}).write_parquet(path)
        result = CliRunner().invoke(app, ["compare", str(path)])
        assert result.exit_code == 2, result.output
        assert f"row 3: no value (null or NaN) in the {column} column" in result.output


def test_jsonl_with_a_byte_order_mark(tmp_path: Path) -> None:
    """Windows tools may start a file with a UTF-8 BOM: the first rollout still counts."""
    for name, data in (("bom.jsonl", b"\xef\xbb\xbf" + lines(*GOOD)),):
        for path in (tmp_path / name, tmp_path / f"{name}.gz"):
            path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
            for extra in ((), ("--skip-bad-lines",)):
                out = report(path, *extra)
                assert out["summary"]["rollouts"] == len(GOOD), (path, extra)


def test_gzip_cut_short(tmp_path: Path) -> None:
    """A .jsonl.gz still being written: refused clearly, read as far as it goes with
    --skip-bad-lines, shown by watch."""
    rows = [{"step": 1 + i // 400, "uid": f"g{i // 4}", "reward": (i * 7) % 5} for i in range(4000)]
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "rollouts.jsonl.gz"
    path.write_bytes(gzip.compress(lines(*rows))[:6000])
    cut = CliRunner().invoke(app, ["compare", str(path)])
    assert cut.exit_code == 2 and "gzip stream ends early" in cut.output, cut.output
    out = report(path, "--skip-bad-lines")
    assert 0 < out["summary"]["rollouts"] < 4000
    watched = CliRunner().invoke(app, ["watch", str(folder), "--refreshes", "1"])
    assert watched.exit_code == 0 and f"{out['summary']['rollouts']:,} in" in watched.output


def test_skip_bad_lines_on_a_file_with_no_good_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"garbage\n{bad\n")
    result = CliRunner().invoke(app, ["compare", str(path), "--skip-bad-lines"])
    assert result.exit_code == 2 and "no line is a JSON object" in result.output
    assert "pass --skip-bad-lines" not in result.output


def test_watch_interval_must_be_finite(tmp_path: Path) -> None:
    for value in ("nan", "inf"):
        result = CliRunner().invoke(
            app, ["watch", str(tmp_path), "--interval", value, "--refreshes", "1"]
        )
        assert result.exit_code == 2 and "--interval" in result.output, result.output


def test_byte_order_mark_in_a_gzip_cut_short(tmp_path: Path) -> None:
    rows = [{"step": 1 + i // 400, "uid": f"g{i // 4}", "reward": (i * 7) % 5} for i in range(4000)]
    # two gzip members, the second cut in its header: what decompresses ends at a line end,
    # so only the stream itself can tell that the file is incomplete
    first = gzip.compress(b"\xef\xbb\xbf" + lines(*rows[:2000]))
    second = gzip.compress(lines(*rows[2000:]))
    path = tmp_path / "bom.jsonl.gz"
    path.write_bytes(first + second[:5])
    cut = CliRunner().invoke(app, ["compare", str(path)])
    assert cut.exit_code == 2 and "gzip stream ends early" in cut.output, cut.output
    skipped = CliRunner().invoke(app, ["compare", str(path), "--skip-bad-lines"])
    assert skipped.exit_code == 0 and "2,000 in 5 iterations" in skipped.output, skipped.output
