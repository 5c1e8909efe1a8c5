"""Trainer presets: recognize what a trainer wrote and read it without flags.

One file per trainer format (``verl.py``, ``trl.py``, ...) holds its recognizer and its
hooks;
``registry.py`` holds :data:`TRAINERS` (a line per trainer) and the functions the rest of
ingest calls the hooks through; ``preset.py`` what a recognizer returns; ``metrics.py`` a
record column's fields as the reward's parts (prime-rl, ART). Adding a trainer is a file
here and a line in :data:`TRAINERS`.
"""

from grpoflaw_cli.ingest.trainers.preset import Choice, Preset, Shape
from grpoflaw_cli.ingest.trainers.registry import (
    SOURCES,
    TRAINERS,
    Trainer,
    choose,
    explain,
    finished,
    fitted,
    located,
    merge,
    missing_rewards,
    reshaped,
    reshapes,
    roles,
    scanned,
)

__all__ = [
    "SOURCES",
    "TRAINERS",
    "Choice",
    "Preset",
    "Shape",
    "Trainer",
    "choose",
    "explain",
    "finished",
    "fitted",
    "located",
    "merge",
    "missing_rewards",
    "reshaped",
    "reshapes",
    "roles",
    "scanned",
]
