"""A tour of grpoflaw's Python API on the bundled multi-task sample.

python examples/api_tour.py [OUT.html]   # prints a few numbers, writes the HTML report
                                         # (default: api_tour.html in the temporary folder)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polars as pl

import grpoflaw_cli.api as gf

ROOT = Path(__file__).resolve().parents[1]

log = gf.load(ROOT / "sample_data" / "multitask.jsonl")
print("detected:", *log.detection.reasons, sep="\n  ")

result = gf.compare(log)
print("\nreward spread vs advantage scale, first iterations:")
print(result.iterations.select("step", "spread", "scale_grpo", "scale_dr_grpo").head(3))
print("\nhow much magnitude each estimator keeps:")
print(result.magnitude.select("estimator", "elasticity_within", "elasticity_across"))
print("\neach task's say under GRPO vs its share of the reward spread:")
assert result.tasks is not None
print(result.tasks.filter(pl.col("step").is_null()).select("task", "spread_share", "share_grpo"))
print("\ntop finding (by consequence):", result.flags[0].code, "-", result.flags[0].message)

rows = gf.advantages(log, estimators=["grpo", "rloo"])
print(
    "\nper-rollout advantages:",
    rows.select("step", "group", "reward", "adv_grpo", "adv_rloo").head(3),
)

figure = result.figure()  # a plotly Figure: figure.show() in a notebook
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir(), "api_tour.html")
out.write_text(result.to_html(), encoding="utf-8")
print(f"\n{len(figure.data)} chart traces; report written to {out}")
