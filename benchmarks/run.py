"""Measure grpoflaw against the floors that matter, on this machine, in one run.

    python benchmarks/make_logs.py       # once: writes benchmarks/data/
    python benchmarks/run.py             # prints the table the README shows

Each figure is the best of ``--repeat`` runs of a fresh process (startup and imports
included), with its peak resident memory:

* **floor**: a bare Polars lazy scan of the same Parquet file grouped by (step, group)
  computing mean and std, in a process of its own;
* **Polars read**: ``pl.read_ndjson`` / ``pl.read_csv`` of the text logs;
* **grpoflaw compare**: every default estimator and diagnostic, ``--format json``;
* **advantages**: ``grpoflaw advantages`` writing one row per rollout (Parquet);
* start-up: ``grpoflaw --help`` and ``grpoflaw inspect`` on the bundled seed log.

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
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Runs a command and prints "<seconds> <peak RSS of the child in KB>".
TIMER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "elapsed = time.perf_counter() - t\n"
    "assert done.returncode in (0, 1), done.returncode\n"
    "print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)

FLOOR = (
    "import sys, polars as pl\n"
    "pl.scan_parquet(sys.argv[1]).group_by('step', 'prompt_id')"
    ".agg(pl.col('reward').mean().alias('m'), pl.col('reward').std().alias('s')).collect()\n"
)
READ = "import sys, polars as pl\ngetattr(pl, sys.argv[1])(sys.argv[2])\n"


def measure(cmd: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time (s) and the peak RSS (MB) of that run."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", TIMER, *cmd], capture_output=True, text=True, check=True
        ).stdout.split()
        seconds, kb = float(out[0]), float(out[1])
        if seconds < best[0]:
            best = (seconds, kb / 1024)
    return best


def rows_of(path: Path) -> int:
    import polars as pl

    if path.suffix == ".parquet":
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    if path.suffix == ".csv":
        return int(pl.scan_csv(path).select(pl.len()).collect().item())
    return int(pl.scan_ndjson(path).select(pl.len()).collect().item())


def main() -> None:
    parser = argparse.ArgumentParser(description="grpoflaw benchmark")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    grpoflaw = [sys.executable, "-m", "grpoflaw_cli"]
    parquet, jsonl, csv = (args.data / f"rollouts.{ext}" for ext in ("parquet", "jsonl", "csv"))
    for path in (parquet, jsonl, csv):
        if not path.exists():
            sys.exit(f"{path} is missing: run python benchmarks/make_logs.py first")

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "grpoflaw_cli")], check=True
    )
    results: list[dict[str, object]] = []

    def add(name: str, cmd: list[str], rows: int | None, floor: float | None = None) -> float:
        seconds, mb = measure(cmd, args.repeat)
        results.append(
            {
                "what": name,
                "seconds": round(seconds, 3),
                "rollouts_per_s": round(rows / seconds) if rows else None,
                "x_floor": round(seconds / floor, 2) if floor else None,
                "peak_rss_mb": round(mb),
            }
        )
        return seconds

    n_parquet, n_text = rows_of(parquet), rows_of(jsonl)
    with tempfile.TemporaryDirectory() as tmp:
        floor = add(
            "floor: Polars scan + group_by mean/std (Parquet)",
            [sys.executable, "-c", FLOOR, str(parquet)],
            n_parquet,
        )
        add(
            "grpoflaw compare (Parquet)",
            [*grpoflaw, "compare", str(parquet), "--format", "json"],
            n_parquet,
            floor,
        )
        add(
            "grpoflaw advantages -o out.parquet (Parquet)",
            [*grpoflaw, "advantages", str(parquet), "-o", f"{tmp}/adv.parquet"],
            n_parquet,
            floor,
        )
        for path, reader in ((jsonl, "read_ndjson"), (csv, "read_csv")):
            fmt = path.suffix[1:].upper()
            read = add(
                f"floor: Polars {reader} ({fmt})",
                [sys.executable, "-c", READ, reader, str(path)],
                n_text,
            )
            add(
                f"grpoflaw compare ({fmt})",
                [*grpoflaw, "compare", str(path), "--format", "json"],
                n_text,
                read,
            )
        add("grpoflaw --help", [*grpoflaw, "--help"], None)
        add(
            "grpoflaw inspect sample_data/seed.jsonl",
            [*grpoflaw, "inspect", str(ROOT / "sample_data" / "seed.jsonl")],
            None,
        )

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}; Parquet {n_parquet:,} rollouts, text logs {n_text:,}"
    )
    print("| what | seconds | rollouts/s | × floor | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        rate = f"{r['rollouts_per_s']:,}" if r["rollouts_per_s"] else ""
        ratio = f"{r['x_floor']}" if r["x_floor"] else ""
        print(f"| {r['what']} | {r['seconds']} | {rate} | {ratio} | {r['peak_rss_mb']:,} |")


if __name__ == "__main__":
    main()
