"""Write large synthetic rollout logs for the benchmark (deterministic).

    python benchmarks/make_logs.py [--rows 10000000] [--text-rows 1000000] [--out benchmarks/data]
    python benchmarks/make_logs.py --big 100000000   # the 10^8 log, as 50 Parquet files
    python benchmarks/make_logs.py --text-dump 1     # a 1 GB verl-style text dump
    python benchmarks/make_logs.py --iterations      # only rollouts_iters.parquet

Writes ``rollouts.parquet`` (``--rows`` rollouts) and ``rollouts.jsonl`` / ``rollouts.csv``
(``--text-rows`` rollouts); with ``--big N``, only ``big/part-*.parquet``: N rollouts in
files of 2M, as a trainer writes them over a run; with ``--iterations``, only
``rollouts_iters.parquet``: the many-iterations shape (``--rows`` rollouts, 8 per group,
128 groups per step: ~9.8k steps). Otherwise 16 rollouts per prompt group, 1,024
groups per step, columns
``step``, ``prompt_id``, ``reward`` (group-specific scale, so every diagnostic has work)
and ``response_length``. Generated in chunks, so memory stays small.

With ``--text-dump GB``, only ``verl_<GB>gb/``: a verl ``rollout_data_dir`` of about that
many gigabytes, one ``{step}.jsonl`` per step (see :func:`write_text_dump`).
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


SYSTEM_PREFIX = (
    "<|im_start|>system\nYou are a careful competition mathematician. Read the problem, "
    "think step by step inside <think></think>, check every step, and put only the final "
    "answer inside <answer></answer>. Answers without the tags are not graded. "
) * 6
"""The long system prompt every ``input`` starts with (about 1.5 KB), as chat templates do."""

VOCABULARY = (
    "so the sum is then we get hence let x be the value of since therefore multiply both "
    "sides by divide check that it holds for all n wait recompute carefully the answer "
    "is clearly by induction the base case gives equals plus minus times over squared"
)
"""The words the responses are made of."""


def text_step(
    step: int, prompts: int, group: int, rng: np.random.Generator, kind: str
) -> pl.DataFrame:
    """One step of a verl dump: ``prompts`` × ``group`` rows of ``input`` (the shared
    system prefix and a problem), ``output`` (0.5–4 KB of text), ``gts``, ``score``,
    ``step`` and, as verl's legacy trainer writes them, ``acc`` with the rows in
    ``_balance_batch`` (shuffled) order; as verl v1 writes them, ``uid`` instead, sorted."""
    n = prompts * group
    pool = " ".join(
        rng.choice(VOCABULARY.split(), size=20_000)
    )  # ~100 KB of words to slice responses from
    skill = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0], size=prompts)
    acc = (rng.random(n) < np.repeat(skill, group)).astype(float)
    fmt = (rng.random(n) < 0.9).astype(float)
    length = rng.integers(500, 4000, size=n)
    frame = pl.DataFrame(
        {
            "p": np.repeat(np.arange(prompts), group),
            "i": np.tile(np.arange(group), prompts),
            "start": rng.integers(0, len(pool) - 4000, size=n),
            "length": length,
            "score": acc + 0.1 * fmt,
            "acc": acc,
        }
    )
    problem = pl.format(
        "Problem {}.{}: find the remainder of 7^n + {} when divided by 13.<|im_end|>\n"
        "<|im_start|>assistant\n",
        pl.lit(step),
        pl.col("p"),
        pl.col("p") * 7 + step,
    )
    frame = frame.select(
        input=pl.lit(SYSTEM_PREFIX) + problem,
        output=pl.lit(pool).str.slice(pl.col("start"), pl.col("length"))
        + pl.format("<answer>{}</answer>", pl.col("i")),
        gts=(pl.col("p") % 13).cast(pl.String),
        score=pl.col("score"),
        step=pl.lit(step, dtype=pl.Int64),
        acc=pl.col("acc"),
        # v1: "{prompt_uuid}_{session_id}_{output_index}", a 32-hex-digit uuid per prompt
        uid=pl.format(
            "{}_{}_0", pl.lit(f"{step:08x}") + pl.col("p").cast(pl.String).str.zfill(24), "i"
        ),
    )
    if kind == "legacy":
        return frame.drop("uid")[rng.permutation(n)]
    return frame.drop("acc")


def write_text_dump(
    folder: Path, gigabytes: float, prompts: int = 512, group: int = 16, kind: str = "legacy"
) -> None:
    """A verl ``rollout_data_dir`` of about ``gigabytes``: ``1.jsonl``, ``2.jsonl``, ... of
    ``prompts`` × ``group`` rows each (512 × 16 is about 20 MB a step). Deterministic."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    written, step = 0, 0
    while written < gigabytes * 1e9:
        step += 1
        path = folder / f"{step}.jsonl"
        text_step(step, prompts, group, rng, kind).write_ndjson(path)
        written += path.stat().st_size


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
    parser.add_argument(
        "--text-dump", type=float, default=0, help="write only verl_<GB>gb/: a verl dump of GB"
    )
    parser.add_argument("--prompts", type=int, default=512, help="--text-dump: prompts a step")
    parser.add_argument("--group", type=int, default=16, help="--text-dump: responses a prompt")
    parser.add_argument("--kind", choices=("legacy", "v1"), default="legacy", help="--text-dump")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.text_dump:
        folder = args.out / f"verl_{args.text_dump:g}gb{'_v1' if args.kind == 'v1' else ''}"
        write_text_dump(folder, args.text_dump, args.prompts, args.group, args.kind)
        files = list(folder.iterdir())
        size = sum(p.stat().st_size for p in files)
        print(f"{folder}  {len(files)} step files, {size / 1e6:,.0f} MB")
        return
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
