"""Group labels: short, stable and unique, built from the part of a key that differs."""

from __future__ import annotations

import polars as pl
from helpers import analyze

from grpoflaw_cli.diagnostics import diagnose
from grpoflaw_cli.estimators import applicable, defaults
from grpoflaw_cli.labels import WIDTH, group_labels

SYSTEM = (
    "<|im_start|>system\nYou are a helpful assistant. Reason step by step, then put the "
    "final answer in \\boxed{}. Be concise and check your arithmetic.<|im_end|>\n"
    "<|im_start|>user\n"
)
QUESTIONS = [
    "What is 17 times 23?",
    "What is 17 times 24?",
    "Find all real x with x^2 - 5x + 6 = 0, and explain why there are no others.",
    "A train leaves at 3pm going 60 km/h; another at 4pm going 80 km/h. When does it catch up?",
]
KEYS = [SYSTEM + q + "<|im_end|>\n<|im_start|>assistant\n" for q in QUESTIONS]


def test_labels_show_the_differing_part_of_prompts_with_a_shared_prefix() -> None:
    labels = group_labels(KEYS)
    assert all(len(label) <= WIDTH for label in labels.values())
    assert labels[KEYS[0]].endswith(" What is 17 times 23?")
    assert labels[KEYS[1]].endswith(" What is 17 times 24?")
    assert "system" not in labels[KEYS[2]] and labels[KEYS[2]].endswith("…")
    assert labels[KEYS[3]].split(" ", 1)[1].startswith("A train leaves at 3pm")
    assert all(label.startswith("#") for label in labels.values())


def test_labels_are_unique_for_distinct_keys_and_stable() -> None:
    keys = [SYSTEM + f"Question {i}: " + "padding " * 20 for i in range(500)]
    labels = group_labels(keys)
    assert len(set(labels.values())) == len(keys)
    assert all(len(label) <= WIDTH for label in labels.values())
    again = group_labels(reversed(keys))
    assert {k: again[k] for k in keys} == labels  # the order does not matter
    # the id part is the key's own: the same key gets it among other neighbours too
    alone = group_labels([keys[7], "another long prompt that shares nothing at all here"])
    assert alone[keys[7]].split()[0] == labels[keys[7]].split()[0]


def test_short_keys_and_identifiers_are_their_own_labels() -> None:
    uid = "2e75197dfb29df5131987f2af48157b7"
    assert group_labels(["s6-p13", 3, uid]) == {"s6-p13": "s6-p13", 3: "3", uid: uid}


def test_flags_name_groups_by_label_and_keep_the_key_in_evidence() -> None:
    rows: dict[str, list[object]] = {"step": [], "group": [], "reward": []}
    for key, scale in zip(KEYS[:2], (1, 10), strict=True):
        for r in (0, 1, 0, 1):
            rows["step"].append(1)
            rows["group"].append(key)
            rows["reward"].append(float(r * scale))
    flags = diagnose(analyze(pl.DataFrame(rows), applicable(defaults(), set())[0]))
    pair = next(f for f in flags if f.code == "collapsed_pair")
    assert pair.evidence["group_key"] in KEYS[:2] and pair.evidence["partner_group"] in KEYS[:2]
    labels = group_labels(KEYS[:2])
    assert repr(labels[pair.evidence["group_key"]]) in pair.message
    assert SYSTEM not in pair.message and len(pair.message) < 300
