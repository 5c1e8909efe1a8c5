"""Short, readable labels for group keys.

Groups keyed by prompt text (verl dumps, prompt-grouped logs) have keys hundreds of
characters long that share a long system prefix. A key of at most ``SHORT`` characters, or
an identifier (no whitespace) of at most ``width``, is its own label; another becomes
``#<id> <snippet>``, at most ``width`` characters:

* ``id``: the first hex digits of the key's BLAKE2b hash (4, more when two labels would
  otherwise coincide): stable across runs and tools for the same key;
* ``snippet``: the key with the prefix and suffix it shares with the other keys removed
  (the prefix cut back to a word start), whitespace collapsed, cut with "…" to fit.

The full key stays in the JSON evidence (``group_key``) and in the advantages output.

>>> system = "<|system|>You are a careful math tutor. Think step by step. <|user|>"
>>> keys = [system + "What is 17 × 23?", system + "Solve x^2 = 49 for x > 0."]
>>> labels = group_labels(keys)
>>> [labels[k] for k in keys]
['#971b What is 17 × 23?', '#30ee Solve x^2 = 49 for x > 0.']
>>> uid = "2e75197dfb29df5131987f2af48157b7"  # an identifier that fits is its own label
>>> group_labels(["s1-p3", 7, uid]) == {"s1-p3": "s1-p3", 7: "7", uid: uid}
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

SHORT = 24
"""A key this short or shorter is its own label."""
WIDTH = 50
"""The longest label."""


def _id(key: str, digits: int) -> str:
    return hashlib.blake2b(key.encode("utf-8", "replace"), digest_size=8).hexdigest()[:digits]


def _common_prefix(texts: list[str]) -> int:
    """How many leading characters all ``texts`` share."""
    first, last = min(texts), max(texts)  # the lexical extremes bound every other text
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return n


def _shared_ends(texts: list[str]) -> tuple[int, int]:
    """How many leading and trailing characters all ``texts`` share (the prefix cut back
    to a word start when it ends inside one); (0, 0) for fewer than two."""
    if len(texts) < 2:
        return 0, 0
    prefix = _common_prefix(texts)
    mid_word = any(prefix < len(t) and t[prefix].isalnum() for t in texts)
    if prefix and texts[0][prefix - 1].isalnum() and mid_word:
        cut = texts[0].rfind(" ", 0, prefix)
        prefix = cut + 1 if cut >= 0 else 0
    rest = [t[prefix:] for t in texts]
    suffix = _common_prefix([t[::-1] for t in rest])
    return prefix, min(suffix, min(len(t) for t in rest))


def _snippet(text: str, room: int) -> str:
    """``text`` with whitespace collapsed, cut to ``room`` characters with "…"."""
    flat = " ".join(text.split()) or text.strip() or "…"
    return flat if len(flat) <= room else flat[: max(room - 1, 1)].rstrip() + "…"


def _is_own_label(text: str, width: int) -> bool:
    """A short key, or an identifier that fits (a uid, a hash)."""
    return len(text) <= SHORT or (len(text) <= width and not any(c.isspace() for c in text))


def group_labels(keys: Iterable[Any], width: int = WIDTH) -> dict[Any, str]:
    """Each distinct key's label (see the module docstring); distinct keys get distinct
    labels."""
    unique = list(dict.fromkeys(keys))
    text = {k: str(k) for k in unique}
    own = {k for k in unique if _is_own_label(text[k], width)}
    long = [k for k in unique if k not in own]
    prefix, suffix = _shared_ends([text[k] for k in long])
    out = {k: text[k] for k in unique if k in own}
    for digits in (4, 6, 8, 12, 16):
        labels = {}
        for k in long:
            middle = text[k][prefix : len(text[k]) - suffix] if suffix else text[k][prefix:]
            head = f"#{_id(text[k], digits)} "
            labels[k] = head + _snippet(middle, width - len(head))
        if len(set(labels.values()) | set(out.values())) == len(labels) + len(out):
            break
    else:  # 64-bit hashes that coincide: number the labels
        labels = {k: f"{label[: width - 6]} ({i})" for i, (k, label) in enumerate(labels.items())}
    return {**out, **labels}
