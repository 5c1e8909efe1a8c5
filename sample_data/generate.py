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
* ``trainers/``: small dumps in each trainer's own format, with the advantages each
  trainer logs computed here by its own formula: ``verl_legacy/`` and ``verl_v1/``
  (``{step}.jsonl``), ``trl/completions/`` (``completions_{step:05d}.parquet``, two reward
  functions, one None), ``trl_scale_none/`` (the same written with ``scale_rewards="none"``),
  ``trl_wandb/media/table/`` (``trl/``'s rows as the W&B ``completions`` table exports),
  ``open_instruct/``, ``prime_rl/``, ``art/trajectories/train/``, ``nemo_rl/``,
  ``verl_reward_keys/`` (score = acc + format) and ``verl_multi_reward/``: 36 steps of a
  multi-reward run in pairs (score = 4·acc + format + 0.1·bonus) keyed by prompts behind a
  long shared system prefix, where GRPO inflates the bonus-only pairs; ``relax/`` (Relax's
  ``rollout_result/train/{rollout_id}.jsonl``).
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


# --------------------------------------------------------------------------- trainer dumps
# Small logs in each trainer's own on-disk format (the field names it writes). The
# logged advantages are computed here the way each trainer computes them, independently
# of grpoflaw's code, so grpoflaw's recomputation can be checked against them.

PROMPTS = ["What is 7*8?", "Name a prime > 10.", "Sort [3,1,2].", "Capital of Peru?"]


def _uuid(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("0123456789abcdef"), size=32))


def _group_rewards_binary(rng: np.random.Generator, k: int) -> np.ndarray:
    return (rng.random(k) < rng.choice([0.2, 0.5, 0.8])).astype(float)


def verl_dumps(out: Path, rng: np.random.Generator) -> None:
    """verl rollout_data_dir: legacy (rows shuffled, no uid, extra key acc) and v1 (uid)."""
    for kind in ("legacy", "v1"):
        folder = out / f"verl_{kind}"
        folder.mkdir(parents=True, exist_ok=True)
        for step in (1, 2, 3):
            rows = []
            for p, prompt in enumerate(PROMPTS):
                uid = _uuid(rng)
                scores = _group_rewards_binary(rng, 8) * (5.0 if p == 3 else 1.0)
                for i, score in enumerate(scores):
                    row = {
                        "input": f"<|user|>{prompt}",
                        "output": f"answer {i}",
                        "gts": "42",
                        "score": float(score),
                        "step": step,
                    }
                    if kind == "legacy":
                        row["acc"] = float(score > 0)
                    else:
                        row["uid"] = f"{uid}_{i}_0"  # one session per rollout
                    rows.append(row)
            if kind == "legacy":
                rows = [rows[i] for i in rng.permutation(len(rows))]  # _balance_batch order
            with (folder / f"{step}.jsonl").open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def verl_reward_keys(out: Path, rng: np.random.Generator) -> None:
    """verl legacy dump whose compute_score returns a dict: every key joins the row and
    its 'score' overwrites the base score. Here score = acc + format, so (1, 0) and (0, 1)
    alias; verl's GDPO (algorithm.gdpo_reward_keys) would normalize acc and format apart."""
    folder = out / "verl_reward_keys"
    folder.mkdir(parents=True, exist_ok=True)
    for step in (1, 2):
        rows = []
        for prompt in PROMPTS:
            acc = _group_rewards_binary(rng, 8)
            fmt = rng.choice([0.0, 1.0], size=8)
            for i in range(8):
                rows.append(
                    {
                        "input": f"<|user|>{prompt}",
                        "output": f"answer {i}",
                        "gts": "42",
                        "score": float(acc[i] + fmt[i]),
                        "step": step,
                        "acc": float(acc[i]),
                        "format": float(fmt[i]),
                        "pred": "42" if acc[i] else "41",
                    }
                )
        rows = [rows[i] for i in rng.permutation(len(rows))]  # _balance_batch order
        with (folder / f"{step}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row) + "\n" for row in rows)


SYSTEM = (
    "<|system|>You are a careful math tutor. Think step by step, show your reasoning "
    "inside <think></think>, then give the final answer inside <answer></answer>. "
    "Answers without the tags are not graded.<|user|>"
)
"""The long system prefix every prompt of ``verl_multi_reward`` shares."""


def verl_multi_reward(out: Path, rng: np.random.Generator, steps: int = 36) -> None:
    """verl legacy dump of a multi-reward run, groups of two (rollout.n=2), keyed by the
    prompt text behind a long shared system prefix: compute_score returns acc, format and
    a length bonus, and score = 4·acc + format + 0.1·bonus. Pairs that differ only in
    format get the same ±0.707 GRPO advantage as pairs that differ in accuracy."""
    folder = out / "verl_multi_reward"
    folder.mkdir(parents=True, exist_ok=True)
    for step in range(1, steps + 1):
        rows = []
        for p in range(12):
            a, b = rng.integers(2, 99, size=2)
            prompt = f"{SYSTEM}Problem {step}.{p}: what is {a} * {b} + {a}?"
            skill = rng.choice([0.1, 0.5, 0.9])
            acc = (rng.random(2) < skill).astype(float)
            fmt = (rng.random(2) < 0.8).astype(float)
            bonus = (rng.random(2) < 0.5).astype(float)
            for i in range(2):
                rows.append(
                    {
                        "input": prompt,
                        "output": f"<think>...</think><answer>{a * b + a - i}</answer>",
                        "gts": str(a * b + a),
                        "score": float(4 * acc[i] + fmt[i] + 0.1 * bonus[i]),
                        "step": step,
                        "acc": float(acc[i]),
                        "format": float(fmt[i]),
                        "bonus": float(bonus[i]),
                    }
                )
        rows = [rows[i] for i in rng.permutation(len(rows))]  # _balance_batch order
        with (folder / f"{step}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row) + "\n" for row in rows)


def _trl_advantages(rewards: np.ndarray, weights: np.ndarray, g: int, scale: str) -> np.ndarray:
    """TRL GRPOTrainer, sum_then_normalize: nansum over functions, group nanmean/nanstd."""
    unscorable = np.all(np.isnan(rewards), axis=1)
    total = np.where(unscorable, np.nan, np.nansum(rewards * weights, axis=1)).reshape(-1, g)
    mean = np.nanmean(total, axis=1, keepdims=True)
    count = np.sum(~np.isnan(total), axis=1, keepdims=True)
    var = np.nanmean((total - mean) ** 2, axis=1, keepdims=True)
    factor = np.where(count > 1, count / np.maximum(count - 1, 1), np.nan).astype(np.float32)
    std = np.sqrt(var * factor)
    adv = total - mean
    if scale == "group":
        adv = adv / (std + 1e-4)
    return np.nan_to_num(adv.reshape(-1), nan=0.0)


def trl_completions(out: Path, rng: np.random.Generator, scale: str = "group") -> None:
    """TRL log_completions: completions/completions_{step:05d}.parquet, groups of 4."""
    folder = out / ("trl" if scale == "group" else "trl_scale_none") / "completions"
    folder.mkdir(parents=True, exist_ok=True)
    g = 4
    for step in (10, 20):
        prompts = [PROMPTS[i % len(PROMPTS)] for i in range(8) for _ in range(g)]
        acc = np.concatenate([_group_rewards_binary(rng, g) for _ in range(8)])
        fmt = rng.choice([0.0, 1.0], size=acc.size)  # (1, 0) and (0, 1) alias
        fmt[3] = np.nan  # a reward function returned None: stored as NaN
        rewards = np.column_stack([acc, fmt])
        adv = _trl_advantages(rewards, np.ones(2), g, scale)
        pl.DataFrame(
            {
                "step": [step] * acc.size,
                "prompt": prompts,
                "completion": [f"completion {i}" for i in range(acc.size)],
                "accuracy_reward": acc,
                "format_reward": fmt,
                "advantage": adv,
            }
        ).write_parquet(folder / f"completions_{step:05d}.parquet")


def trl_wandb_tables(out: Path) -> None:
    """TRL's ``completions`` table as W&B writes it to the run's files
    (media/table/completions_{step}_{hash}.table.json): the rows of ``trl/completions``,
    ``step`` as text, a missing reward as NaN."""
    import hashlib

    folder = out / "trl_wandb" / "media" / "table"
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted((out / "trl" / "completions").glob("*.parquet")):
        frame = pl.read_parquet(source).with_columns(pl.col("step").cast(pl.String))
        table = {
            "_type": "table",
            "columns": frame.columns,
            "data": [list(row) for row in frame.rows()],
            "ncols": frame.width,
            "nrows": frame.height,
        }
        text = json.dumps(table)
        digest = hashlib.sha1(text.encode()).hexdigest()[:20]
        step = frame["step"][0]
        (folder / f"completions_{step}_{digest}.table.json").write_text(text, encoding="utf-8")


def open_instruct_traces(out: Path, rng: np.random.Generator) -> None:
    """open-instruct save_traces: one line per rollout, with the advantage of today's default
    ``advantage_normalization_type="centered"``: the reward minus the group mean."""
    folder = out / "open_instruct"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "run_rollouts_000000.jsonl").open("w", encoding="utf-8") as fh:
        for step in (1, 2):
            for p in range(4):
                rewards = _group_rewards_binary(rng, 6) * 10.0
                adv = rewards - rewards.mean()
                for i, (r, a) in enumerate(zip(rewards, adv, strict=True)):
                    tokens = [int(t) for t in rng.integers(0, 50000, size=rng.integers(5, 40))]
                    fh.write(
                        json.dumps(
                            {
                                "step": step,
                                "sample_idx": i,
                                "prompt_idx": p,
                                "prompt_tokens": [1, 2, 3],
                                "response_tokens": tokens,
                                "reward": float(r),
                                "advantage": float(a),
                                "finish_reason": "stop",
                                "dataset": "math" if p < 2 else "code",
                                "ground_truth": "42",
                                "request_info": {},
                                "logprobs": [],
                            }
                        )
                        + "\n"
                    )


def prime_rl_rollouts(out: Path, rng: np.random.Generator) -> None:
    """prime-rl parquet: per-rubric rewards in a JSON metrics string; GRPO = r - mean."""
    folder = out / "prime_rl"
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[object]] = {
        k: []
        for k in ("step", "problem_id", "sample_id", "env_name", "reward", "advantage", "metrics")
    }
    for step in (1, 2):
        for problem in range(4):
            correct = _group_rewards_binary(rng, 8)
            style = rng.choice([0.0, 0.2], size=8)
            reward = correct + style
            for i in range(8):
                rows["step"].append(step)
                rows["problem_id"].append(f"p{problem}")
                rows["sample_id"].append(i)
                rows["env_name"].append("gsm8k" if problem < 2 else "wordle")
                rows["reward"].append(float(reward[i]))
                rows["advantage"].append(float(reward[i] - reward.mean()))
                rows["metrics"].append(json.dumps({"correct": correct[i], "style": style[i]}))
    pl.DataFrame(rows).write_parquet(folder / "rollouts.parquet")


def nemo_rl_train_data(out: Path, rng: np.random.Generator) -> None:
    """NeMo-RL: train_data_step{N}.jsonl, one line per sample, each field a batch slice of
    one (``rewards: [r]``, token lists ``[[...]]``); no prompt id: the group is the prompt's
    tokens. Its default advantage: leave-one-out mean, leave-one-out sample std, eps 1e-6,
    zero-std rows left unscaled; every token of the row carries it."""
    folder = out / "nemo_rl"
    folder.mkdir(parents=True, exist_ok=True)
    k = 4
    for step in (1, 2):
        lines = []
        for prompt in range(3):
            prompt_ids = [100 + prompt, 7, 8 + step]
            rewards = rng.choice([0.0, 1.0], size=k) * (5.0 if prompt == 2 else 1.0)
            for i in range(k):
                others = np.delete(rewards, i)
                baseline, std = others.mean(), others.std(ddof=1)
                adv = (rewards[i] - baseline) / (std + 1e-6) if std > 0 else rewards[i] - baseline
                response = [int(t) for t in rng.integers(1000, 2000, size=int(rng.integers(2, 5)))]
                tokens = prompt_ids + response + [0] * (8 - len(response))
                mask = [0] * len(prompt_ids) + [1] * len(response) + [0] * (8 - len(response))
                lines.append(
                    {
                        "content": [[f"Question {prompt}?", f"answer {i}"]],
                        "rewards": [float(rewards[i])],
                        "input_lengths": [len(prompt_ids) + len(response)],
                        "token_ids": [tokens],
                        "token_loss_mask": [mask],
                        "sample_loss_mask": [1],
                        "advantages": [[float(adv)] * len(tokens)],
                        "idx": len(lines),
                    }
                )
        with (folder / f"train_data_step{step}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(line) + "\n" for line in lines)


def art_trajectories(out: Path, rng: np.random.Generator) -> None:
    """OpenPipe ART: trajectories/train/{step:04d}.jsonl, one JSON line per group."""
    folder = out / "art" / "trajectories" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    for step in (1, 2):
        with (folder / f"{step:04d}.jsonl").open("w", encoding="utf-8") as fh:
            for _ in range(3):
                rewards = rng.normal(size=4) * (3.0 if step == 2 else 1.0)
                trajectories = [
                    {
                        "reward": float(r),
                        "metrics": {"turns": 2},
                        "metadata": {},
                        "messages_and_choices": [{"role": "user", "content": "hi"}],
                    }
                    for r in rewards
                ]
                fh.write(json.dumps({"trajectories": trajectories}) + "\n")


def relax_rollout_results(out: Path, rng: np.random.Generator) -> None:
    """Relax: ``rollout_result/train/{rollout_id}.jsonl``, one line per sample as
    ``save_rollout_result_jsonl`` writes it (``group_index`` the prompt group; no
    advantage). Two steps of four groups of six, rewards 0/1 with a 0.5 partial credit."""
    folder = out / "relax" / "rollout_result" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    for step in (1, 2):
        lines = []
        for group in range(4):
            rewards = rng.choice([0.0, 0.5, 1.0], size=6)
            for r in rewards:
                length = int(rng.integers(20, 200))
                lines.append(
                    {
                        "rollout_id": step,
                        "sample_index": len(lines),
                        "prompt": f"question {group}",
                        "response": "answer",
                        "reward": float(r),
                        "prompt_length": 12,
                        "response_length": length,
                        "total_length": 12 + length,
                        "agent_turns": 1,
                        "status": "completed",
                        "group_index": group,
                    }
                )
        with (folder / f"{step}.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(line) + "\n" for line in lines)


def trainer_dumps(out: Path, seed: int = 11) -> None:
    rng = np.random.default_rng(seed)
    verl_dumps(out, rng)
    trl_completions(out, rng)
    trl_completions(out, rng, scale="none")
    trl_wandb_tables(out)
    open_instruct_traces(out, rng)
    prime_rl_rollouts(out, rng)
    art_trajectories(out, rng)
    nemo_rl_train_data(out, rng)
    verl_reward_keys(out, rng)
    verl_multi_reward(out, rng)
    relax_rollout_results(out, rng)


def main(out: Path = HERE) -> None:
    seed = seed_frame()
    seed.write_ndjson(out / "seed.jsonl")
    seed.write_csv(out / "seed.csv")
    seed.write_parquet(out / "seed.parquet")
    multi = multitask_frame()
    with (out / "multitask.jsonl").open("w", encoding="utf-8") as fh:
        for row in multi.iter_rows(named=True):
            fh.write(json.dumps(row) + "\n")
    trainer_dumps(out / "trainers")
    print(
        f"wrote seed.{{jsonl,csv,parquet}}, multitask.jsonl ({multi.height} rollouts) and "
        f"trainers/ to {out}"
    )


if __name__ == "__main__":
    main()
