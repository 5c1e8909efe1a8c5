"""Measure grpoflaw against the floors that matter, on this machine, in one run.

    python benchmarks/make_logs.py       # once: writes benchmarks/data/
    python benchmarks/run.py             # prints the table benchmarks/README.md shows

Each figure is the best of ``--repeat`` runs of a fresh process (startup and imports
included), with that run's peak resident memory. The runs are interleaved, each round
running every command once, so that a figure and its floor see the same machine load:

* **floor**: a bare Polars lazy scan of the same Parquet file grouped by (step, group)
  computing mean and std, in a process of its own;
* **Polars read**: ``pl.read_ndjson`` / ``pl.read_csv`` of the text logs;
* **grpoflaw compare**: every default estimator and diagnostic, ``--format json``;
* **advantages**: ``grpoflaw advantages`` writing one row per rollout (Parquet);
* start-up: ``grpoflaw --help`` and ``grpoflaw inspect`` on the bundled seed log;
* with ``--many N``: ``compare`` and ``advantages -o`` on N JSONL step files of 2 to 1,000
  rollouts each (verl-like ``step``, ``uid``, ``reward``), against the same rows in one file;
* with ``--big`` (after ``make_logs.py --big 100000000``): ``compare`` and ``advantages``
  (three estimators) on the 10^8-rollout log in 50 Parquet files, one run each;
* with ``--ray LOG`` (repeatable): ``compare --engine ray`` (a local Ray started in the
  process: its start-up is in the figure) against ``compare`` on the same log;
* with ``--text-dump FOLDER`` (after ``make_logs.py --text-dump GB``; repeatable):
  ``compare`` on a verl ``rollout_data_dir`` against its floor, Polars' own projected scan
  of the same files grouped by (step, group) computing mean and std of the score, where
  the group is the prompt text (legacy dump) or the uid's prompt prefix (v1 dump).

The package's bytecode is compiled first, as ``pip install`` does: an environment with
``PYTHONDONTWRITEBYTECODE`` set (some containers) would otherwise compile every module of
an editable install on each run (~50 ms).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Runs a command and prints "<seconds> <peak RSS of the child in KB>".
TIMER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "elapsed = time.perf_counter() - t\n"
    "assert done.returncode == 0, done.returncode\n"  # a failed run is no figure
    "print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)

FLOOR = (
    "import sys, polars as pl\n"
    "pl.scan_parquet(sys.argv[1]).group_by('step', 'prompt_id')"
    ".agg(pl.col('reward').mean().alias('m'), pl.col('reward').std().alias('s')).collect()\n"
)
READ = "import sys, polars as pl\ngetattr(pl, sys.argv[1])(sys.argv[2])\n"
TEXT_FLOOR = (
    "import sys, polars as pl\n"
    "rows = pl.scan_ndjson(sys.argv[1] + '/*.jsonl')\n"
    "names = rows.collect_schema().names()\n"
    "group = pl.col('uid').str.replace(r'_\\d+_\\d+$', '') if 'uid' in names else pl.col('input')\n"
    "rows.group_by('step', group).agg(pl.col('score').mean().alias('m'),"
    " pl.col('score').std().alias('s')).collect(engine='streaming')\n"
)

# Polars reading the Parquet log and writing the same rows with the columns advantages -o
# adds: the canonical group and length, and nine Float64 columns of real entropy (the
# reward centred and scaled per group, as a user would write one estimator by hand).
READ_WRITE = (
    "import sys, polars as pl\n"
    "r, g = pl.col('reward'), ['step', 'prompt_id']\n"
    "pl.scan_parquet(sys.argv[1]).with_columns("
    "pl.col('prompt_id').alias('group'), pl.col('response_length').cast(pl.Float64)"
    ".alias('length'), *[((r - r.mean().over(g)) / (r.std().over(g) + i + 1))"
    ".alias(f'adv_{i}') for i in range(9)]).sink_parquet(sys.argv[2])\n"
)


def run_once(cmd: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of one fresh process running ``cmd``."""
    out = subprocess.run(
        [sys.executable, "-c", TIMER, *cmd], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]) / 1024


@dataclass
class Case:
    """One command to time; ``floor`` names the case its ratio is taken to."""

    what: str
    cmd: list[str]
    rows: int | None
    floor: str | None = None
    repeat: int | None = None  # None: --repeat
    best: tuple[float, float] = (float("inf"), 0.0)


def run_rounds(cases: list[Case], repeat: int) -> None:
    """Best time (and that run's peak RSS) of each case, over rounds that run every case
    once in turn: a figure and its floor are measured under the same machine load."""
    for round_ in range(max(c.repeat or repeat for c in cases)):
        for case in cases:
            if round_ < (case.repeat or repeat):
                case.best = min(case.best, run_once(case.cmd))


def millions(rows: int) -> str:
    """10000000 -> '10M' (rollouts)."""
    return f"{rows / 1e6:g}M"


def rows_of(path: Path) -> int:
    import polars as pl

    if path.is_dir():  # a folder of Parquet files
        return int(pl.scan_parquet(path / "*.parquet").select(pl.len()).collect().item())
    if path.suffix == ".parquet":
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    if path.suffix == ".csv":
        return int(pl.scan_csv(path).select(pl.len()).collect().item())
    return int(pl.scan_ndjson(path).select(pl.len()).collect().item())


def write_many(n: int, folder: Path) -> tuple[Path, Path, int]:
    """N step files of 2 to 1,000 rollouts (log-uniform) under ``folder/steps`` and the same
    rows in ``folder/one.jsonl``: the folder, the file and the number of rows."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    sizes = np.exp(rng.uniform(np.log(2), np.log(1000), n)).astype(int) // 2 * 2 + 2
    steps = folder / "steps"
    steps.mkdir(parents=True)
    frames = []
    for step, size in enumerate(sizes):
        pairs = np.arange(size) // 2
        frame = pl.DataFrame(
            {
                "step": np.full(size, step),
                "uid": [f"p{step}_{u}" for u in pairs],
                "reward": np.round(rng.normal(size=size), 3),
            }
        )
        frame.write_ndjson(steps / f"step_{step}.jsonl")
        frames.append(frame)
    pl.concat(frames).write_ndjson(folder / "one.jsonl")
    return steps, folder / "one.jsonl", int(sizes.sum())


def compare_case(grpoflaw: list[str], path: Path, shape: str, rows: int, floor: str) -> Case:
    """``grpoflaw compare PATH --format json``, labelled by the log's ``shape`` and measured
    against the case named ``floor``."""
    return Case(
        f"grpoflaw compare ({shape})",
        [*grpoflaw, "compare", str(path), "--format", "json"],
        rows,
        floor,
    )


def _standard_cases(grpoflaw: list[str], data: Path, tmp: str) -> list[Case]:
    """compare and advantages on the Parquet log and compare on the text logs, each beside
    the Polars floor it is measured against; --help and inspect for start-up."""
    parquet, jsonl, csv = (data / f"rollouts.{ext}" for ext in ("parquet", "jsonl", "csv"))
    n_parquet, n_text = rows_of(parquet), rows_of(jsonl)
    pq = f"Parquet, {millions(n_parquet)}"
    floor = f"floor: Polars scan + group_by mean/std ({pq})"
    cases = [
        Case(floor, [sys.executable, "-c", FLOOR, str(parquet)], n_parquet),
        compare_case(grpoflaw, parquet, pq, n_parquet, floor),
        Case(
            f"grpoflaw advantages -o out.parquet ({pq})",
            [*grpoflaw, "advantages", str(parquet), "-o", f"{tmp}/adv.parquet"],
            n_parquet,
            floor,
        ),
    ]
    for path, reader in ((jsonl, "read_ndjson"), (csv, "read_csv")):
        fmt = f"{path.suffix[1:].upper()}, {millions(n_text)}"
        read = f"floor: Polars {reader} ({fmt})"
        cases += [
            Case(read, [sys.executable, "-c", READ, reader, str(path)], n_text),
            compare_case(grpoflaw, path, fmt, n_text, read),
        ]
    return [
        *cases,
        Case("grpoflaw --help", [*grpoflaw, "--help"], None),
        Case(
            "grpoflaw inspect sample_data/seed.jsonl",
            [*grpoflaw, "inspect", str(ROOT / "sample_data" / "seed.jsonl")],
            None,
        ),
    ]


def _shape_cases(grpoflaw: list[str], data: Path, tmp: str) -> list[Case]:
    """The two 10M Parquet shapes (1,024 groups of 16 per step; 128 groups of 8, ~9.8k
    steps), compare as a table and as JSON, each against its own floor; and advantages -o
    against Polars reading the file and writing it with two new columns."""
    cases = []
    for name, shape in (("rollouts", "1,024×16/step"), ("rollouts_iters", "128×8/step")):
        path = data / f"{name}.parquet"
        if not path.exists():
            continue
        n = rows_of(path)
        pq = f"Parquet {millions(n)}, {shape}"
        floor = f"floor: Polars scan + group_by mean/std ({pq})"
        cases.append(Case(floor, [sys.executable, "-c", FLOOR, str(path)], n))
        for fmt in ("table", "json"):
            cases.append(
                Case(
                    f"grpoflaw compare --format {fmt} ({pq})",
                    [*grpoflaw, "compare", str(path), "--format", fmt],
                    n,
                    floor,
                )
            )
        if name == "rollouts":
            rw = f"floor: Polars read + write with the 11 new columns ({pq})"
            cases += [
                Case(rw, [sys.executable, "-c", READ_WRITE, str(path), f"{tmp}/rw.parquet"], n),
                Case(
                    f"grpoflaw advantages -o out.parquet ({pq})",
                    [*grpoflaw, "advantages", str(path), "-o", f"{tmp}/adv2.parquet"],
                    n,
                    rw,
                ),
            ]
    return cases


def _many_file_cases(grpoflaw: list[str], n: int, tmp: str) -> list[Case]:
    """compare and advantages on N step files against the same rows in one file."""
    steps, one, n_many = write_many(n, Path(tmp) / "many")
    cases = []
    for command, extra in (("compare", ["--format", "json"]), ("advantages", ["-o"])):
        out = [f"{tmp}/many.parquet"] if command == "advantages" else []
        single = f"grpoflaw {command} (JSONL, {n_many:,} rows in one file)"
        cases += [
            Case(single, [*grpoflaw, command, str(one), *extra, *out], n_many),
            Case(
                f"grpoflaw {command} (JSONL, the same rows in {n:,} files)",
                [*grpoflaw, command, str(steps), *extra, *out],
                n_many,
                single,
            ),
        ]
    return cases


def _big_cases(grpoflaw: list[str], big: Path, tmp: str) -> list[Case]:
    """compare and a three-estimator advantages on the 10^8-row log, one run each."""
    n_big = rows_of(big)
    files = len(list(big.glob("*.parquet")))
    three = ["--estimators", "grpo,dr_grpo,rloo", "-o", f"{tmp}/big.parquet"]
    return [
        Case(
            f"grpoflaw compare (Parquet, {millions(n_big)} in {files} files; one run)",
            [*grpoflaw, "compare", str(big), "--format", "json"],
            n_big,
            repeat=1,
        ),
        Case(
            f"grpoflaw advantages -o, 3 estimators ({millions(n_big)}; one run)",
            [*grpoflaw, "advantages", str(big), *three],
            n_big,
            repeat=1,
        ),
    ]


def _text_dump_cases(grpoflaw: list[str], dumps: list[Path]) -> list[Case]:
    """compare on each verl text dump beside its floor (:data:`TEXT_FLOOR`)."""
    cases = []
    for dump in dumps:
        files = list(dump.glob("*.jsonl"))
        size = sum(p.stat().st_size for p in files) / 1e9
        rows = rows_of_dump(dump)
        shape = f"verl text dump, {dump.name}: {len(files)} step files, {size:.2f} GB"
        floor = f"floor: Polars projected scan + group_by mean/std ({shape})"
        cases += [
            Case(floor, [sys.executable, "-c", TEXT_FLOOR, str(dump)], rows),
            compare_case(grpoflaw, dump, shape, rows, floor),
        ]
    return cases


def _ray_cases(grpoflaw: list[str], logs: list[Path]) -> list[Case]:
    """compare --engine ray on each log beside compare (the local engine) on it."""
    cases = []
    for log in logs:
        files = sorted(log.glob("*.jsonl")) if log.is_dir() else [log]
        size = sum(p.stat().st_size for p in files) / 1e6
        rows = rows_of_dump(log) if log.is_dir() else rows_of(log)
        shape = f"{log.name}: {len(files)} files, {size:,.0f} MB"
        local = compare_case(grpoflaw, log, shape, rows, "")
        local.floor = None
        ray = compare_case(grpoflaw, log, shape, rows, local.what)
        ray.what, ray.cmd = f"{ray.what}, --engine ray", [*ray.cmd, "--engine", "ray"]
        cases += [local, ray]
    return cases


def rows_of_dump(dump: Path) -> int:
    import polars as pl

    return int(pl.scan_ndjson(dump / "*.jsonl").select(pl.len()).collect().item())


def _print_table(results: list[dict[str, Any]], data: Path) -> None:
    parquet, jsonl = data / "rollouts.parquet", data / "rollouts.jsonl"
    machine = f"machine: {platform.machine()}, {platform.python_implementation()} "
    if parquet.exists() and jsonl.exists():
        print(
            f"{machine}{platform.python_version()}; Parquet {rows_of(parquet):,} rollouts, "
            f"text logs {rows_of(jsonl):,}"
        )
    else:
        print(f"{machine}{platform.python_version()}")
    print("| what | seconds | rollouts/s | × floor | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        rate = f"{r['rollouts_per_s']:,}" if r["rollouts_per_s"] else ""
        ratio = f"{r['x_floor']}" if r["x_floor"] else ""
        print(f"| {r['what']} | {r['seconds']} | {rate} | {ratio} | {r['peak_rss_mib']:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description="grpoflaw benchmark")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--big", action="store_true", help="also the 10^8 log (data/big)")
    parser.add_argument("--many", type=int, default=0, help="also N step files against one")
    parser.add_argument(
        "--text-dump",
        type=Path,
        action="append",
        default=[],
        help="also this verl dump folder (make_logs.py --text-dump GB); repeatable",
    )
    parser.add_argument("--only-text", action="store_true", help="only the --text-dump rows")
    parser.add_argument(
        "--ray",
        type=Path,
        action="append",
        default=[],
        help="also compare --engine ray against compare on this log (with --only-text: alone)",
    )
    parser.add_argument(
        "--shapes",
        action="store_true",
        help="only the two 10M Parquet shapes (make_logs.py and make_logs.py --iterations)",
    )
    args = parser.parse_args()
    grpoflaw = [sys.executable, "-m", "grpoflaw_cli"]
    for ext in () if args.only_text else ("parquet", "jsonl", "csv"):
        path = args.data / f"rollouts.{ext}"
        if not path.exists():
            sys.exit(f"{path} is missing: run python benchmarks/make_logs.py first")
    big = args.data / "big"
    if args.big and not big.is_dir():
        sys.exit(f"{big} is missing: run python benchmarks/make_logs.py --big 100000000 first")

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "grpoflaw_cli")], check=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.shapes:
            cases = _shape_cases(grpoflaw, args.data, tmp)
        elif args.only_text:
            cases = []
        else:
            cases = _standard_cases(grpoflaw, args.data, tmp)
        cases += _text_dump_cases(grpoflaw, args.text_dump)
        cases += _ray_cases(grpoflaw, args.ray)
        if args.many:
            cases += _many_file_cases(grpoflaw, args.many, tmp)
        if args.big:
            cases += _big_cases(grpoflaw, big, tmp)
        run_rounds(cases, args.repeat)

    best = {c.what: c.best[0] for c in cases}
    results = [
        {
            "what": c.what,
            "seconds": round(c.best[0], 3),
            "rollouts_per_s": round(c.rows / c.best[0]) if c.rows else None,
            "x_floor": round(c.best[0] / best[c.floor], 2) if c.floor else None,
            "peak_rss_mib": round(c.best[1]),
        }
        for c in cases
    ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print_table(results, args.data)


if __name__ == "__main__":
    main()
