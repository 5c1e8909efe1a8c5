"""Write large synthetic rollout logs for the benchmark (deterministic).

    python benchmarks/make_logs.py [--rows 10000000] [--text-rows 1000000] [--out benchmarks/data]
    python benchmarks/make_logs.py --big 100000000   # the 10^8 log, as 50 Parquet files
    python benchmarks/make_logs.py --iterations      # only rollouts_iters.parquet

Writes ``rollouts.parquet`` (``--rows`` rollouts) and ``rollouts.jsonl`` / ``rollouts.csv``
(``--text-rows`` rollouts); with ``--big N``, only ``big/part-*.parquet``: N rollouts in
files of 2M, as a trainer writes them over a run; with ``--iterations``, only
``rollouts_iters.parquet``: the many-iterations shape (``--rows`` rollouts, 8 per group,
128 groups per step: ~9.8k steps). Otherwise 16 rollouts per prompt group, 1,024
groups per step, columns
``step``, ``prompt_id``, ``reward`` (group-specific scale, so every diagnostic has work)
and ``response_length``. Generated in chunks, so memory stays small.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

GROUP = 16
GROUPS_PER_STEP = 1024
CHUNK = 2_000_000
ITERATIONS_SHAPE = (8, 128)  # the many-iterations log: ~9.8k steps in 10M rollouts


def chunk(
    start: int,
    stop: int,
    rng: np.random.Generator,
    group_size: int = GROUP,
    groups_per_step: int = GROUPS_PER_STEP,
) -> pl.DataFrame:
    idx = np.arange(start, stop)
    group = idx // group_size
    first = group[0]
    scale = np.exp(rng.normal(size=group[-1] - first + 1))[group - first]
    return pl.DataFrame(
        {
            "step": idx // (group_size * groups_per_step),
            "prompt_id": group,
            "reward": np.round(rng.normal(size=idx.size) * scale, 4),
            "response_length": rng.integers(20, 2000, size=idx.size),
        }
    )


def write(
    path: Path, rows: int, fmt: str, shape: tuple[int, int] = (GROUP, GROUPS_PER_STEP)
) -> None:
    rng = np.random.default_rng(0)
    frames = (chunk(s, min(s + CHUNK, rows), rng, *shape) for s in range(0, rows, CHUNK))
    if fmt == "parquet":
        # Chunks to a scratch folder, then one streaming sink into a single file.
        scratch = path.with_suffix(".parts")
        scratch.mkdir(exist_ok=True)
        for i, df in enumerate(frames):
            df.write_parquet(scratch / f"{i:05d}.parquet")
        pl.scan_parquet(scratch / "*.parquet").sink_parquet(path)
        for part in scratch.iterdir():
            part.unlink()
        scratch.rmdir()
    else:
        with path.open("wb") as fh:
            for i, df in enumerate(frames):
                if fmt == "csv":
                    df.write_csv(fh, include_header=i == 0)
                else:
                    df.write_ndjson(fh)


def write_parts(folder: Path, rows: int) -> None:
    """``rows`` rollouts as one Parquet file per chunk, steps continuing across files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, start in enumerate(range(0, rows, CHUNK)):
        chunk(start, min(start + CHUNK, rows), rng).write_parquet(folder / f"part-{i:05d}.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--text-rows", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=0, help="write only big/: this many rollouts")
    parser.add_argument(
        "--iterations",
        action="store_true",
        help="write only rollouts_iters.parquet: 8 per group, 128 groups per step",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.big:
        write_parts(args.out / "big", args.big)
        size = sum(p.stat().st_size for p in (args.out / "big").iterdir())
        print(f"{args.out / 'big'}  {size / 1e6:,.0f} MB")
        return
    if args.iterations:
        path = args.out / "rollouts_iters.parquet"
        write(path, args.rows, "parquet", ITERATIONS_SHAPE)
        print(f"{path}  {path.stat().st_size / 1e6:,.0f} MB")
        return
    write(args.out / "rollouts.parquet", args.rows, "parquet")
    write(args.out / "rollouts.jsonl", args.text_rows, "jsonl")
    write(args.out / "rollouts.csv", args.text_rows, "csv")
    for p in sorted(args.out.iterdir()):
        print(f"{p}  {p.stat().st_size / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
