"""Write grpoflaw's bundled sample logs (deterministic; re-run to regenerate them).

    python sample_data/generate.py            # writes next to this file

* ``seed.{jsonl,csv,parquet}``: the example from "GRPO's Main Flaw": two iterations of
  one group of 7 rollouts, rewards -1 -1 -1 0 1 1 1 and -5 -5 -5 0 5 5 5. No group column
  (each iteration is one group).
* ``multitask.jsonl``: a synthetic multi-task agent run, 40 steps x 32 prompt groups x 8
  rollouts, with four tasks on very different reward scales:

  ====================  =====================================================  ============
  task                  reward                                                  shows
  ====================  =====================================================  ============
  ``math``              one verifier, 0/1                                       zero variance
  ``code``              unit tests passed x 10 (0/10 when all-or-nothing)       collapsed pairs
  ``browser``           sum of 10 reward sources, each -5..5 (spans about ±50)  magnitude collapse
  ``format``            a shaping bonus of 0 or 0.01                            noise amplification
  ====================  =====================================================  ============

  Steps 12, 13 and 30 are math-only batches (a curriculum phase): their reward spread is
  a tenth of the run's typical one, yet GRPO gives them the same advantage scale. The
  last step ends with a one-rollout group (a truncated batch). Columns: ``step``,
  ``prompt_id``, ``task``, ``sample_idx``, ``reward`` and its components
  ``reward_correct``, ``reward_sources``, ``reward_format``, and ``response_length``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
SEED_REWARDS = [-1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0]


def seed_frame() -> pl.DataFrame:
    rows = [
        {"step": step, "rollout": i, "reward": r * scale}
        for step, scale in ((1, 1.0), (2, 5.0))
        for i, r in enumerate(SEED_REWARDS)
    ]
    return pl.DataFrame(rows)


def _group_rewards(task: str, rng: np.random.Generator, k: int) -> tuple[np.ndarray, ...]:
    """(correct, sources, format) reward components for one group of k rollouts."""
    correct = np.zeros(k)
    sources = np.zeros(k)
    fmt = np.zeros(k)
    if task == "math":
        p = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0])
        correct = (rng.random(k) < p).astype(float)
    elif task == "code":
        p = rng.choice([0.0, 0.25, 0.5, 0.75])
        correct = 10.0 * (rng.random(k) < p).astype(float)
    elif task == "browser":
        skill = rng.normal(0, 1.5)
        sources = np.clip(np.round(rng.normal(skill, 2.5, size=(k, 10))), -5, 5).sum(axis=1)
    else:  # format: shaping noise only
        fmt = 0.01 * (rng.random(k) < 0.5).astype(float)
    return correct, sources, fmt


def multitask_frame(steps: int = 40, groups: int = 32, k: int = 8, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    tasks = ["math", "code", "browser", "format"]
    cols: dict[str, list[object]] = {
        name: []
        for name in (
            "step",
            "prompt_id",
            "task",
            "sample_idx",
            "reward",
            "reward_correct",
            "reward_sources",
            "reward_format",
            "response_length",
        )
    }
    for step in range(1, steps + 1):
        curriculum = step in (12, 13, 30)
        for g in range(groups):
            task = "math" if curriculum else tasks[g % len(tasks)]
            size = 1 if (step == steps and g == groups - 1) else k
            correct, sources, fmt = _group_rewards(task, rng, size)
            total = correct + sources + fmt
            lengths = rng.integers(40, 900, size=size)
            for i in range(size):
                cols["step"].append(step)
                cols["prompt_id"].append(f"s{step}-p{g}")
                cols["task"].append(task)
                cols["sample_idx"].append(i)
                cols["reward"].append(round(float(total[i]), 6))
                cols["reward_correct"].append(float(correct[i]))
                cols["reward_sources"].append(float(sources[i]))
                cols["reward_format"].append(float(fmt[i]))
                cols["response_length"].append(int(lengths[i]))
    return pl.DataFrame(cols)


def main(out: Path = HERE) -> None:
    seed = seed_frame()
    seed.write_ndjson(out / "seed.jsonl")
    seed.write_csv(out / "seed.csv")
    seed.write_parquet(out / "seed.parquet")
    multi = multitask_frame()
    with (out / "multitask.jsonl").open("w", encoding="utf-8") as fh:
        for row in multi.iter_rows(named=True):
            fh.write(json.dumps(row) + "\n")
    print(
        f"wrote seed.{{jsonl,csv,parquet}} and multitask.jsonl ({multi.height} rollouts) to {out}"
    )


if __name__ == "__main__":
    main()
