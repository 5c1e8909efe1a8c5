"""Ingest: rollout logs on disk → one canonical lazy Polars frame. Never prints.

==================  ===========================================================
module              what it holds
==================  ===========================================================
``load``            :func:`load`: the phases from paths to a :class:`Log`
``log``             :class:`Log`, collecting its rows with messages that name the line
``files``           finding files (folders, globs), formats, lazy scans, schemas
``headers``         column names that show a wrong separator; a column named twice
``late_fields``     a large JSONL log's fields that first appear after its first lines
``lines``           a file's lines, streamed; is a line JSON; cleaned temporary copies
``remote``          s3://, gs://, az://, hf:// paths: listing, stat and byte reads
``locate``          after a failed read: the file, line and column at fault
``columns``         the canonical roles, :class:`ColumnMap`, :class:`Detection`
``detect``          which column plays which role, and why
``canonical``       each file's scan as used, and the canonical columns
``checks``          refusing columns and values the numbers cannot use
``weights``         the reward's weights as outputs show them
``wandb_tables``    W&B table exports (``*.table.json``), read from a Parquet copy
``trainers/``       one file per trainer format; the registry, through which the
                    rest of ingest calls each trainer's hooks
==================  ===========================================================
"""

from grpoflaw_cli.ingest.canonical import FILE_COL, canonicalize
from grpoflaw_cli.ingest.checks import check_rewards
from grpoflaw_cli.ingest.columns import (
    INTERNAL_PREFIX,
    ColumnMap,
    Detection,
    NanRewards,
    carried_name,
    input_name,
    weighted_sum,
)
from grpoflaw_cli.ingest.detect import NoRewardColumn, detect
from grpoflaw_cli.ingest.files import file_format, natural_key, resolve_paths
from grpoflaw_cli.ingest.load import Survey, load, reread, steps_from_file_names, survey
from grpoflaw_cli.ingest.log import Log, collect, duplicate_rows, explained, facts
from grpoflaw_cli.ingest.remote import is_remote
from grpoflaw_cli.ingest.remote import listing as remote_listing
from grpoflaw_cli.ingest.trainers import SOURCES, missing_rewards
from grpoflaw_cli.ingest.wandb_tables import shown_format
from grpoflaw_cli.ingest.weights import components_text, reward_text, weights_given

__all__ = [
    "FILE_COL",
    "INTERNAL_PREFIX",
    "SOURCES",
    "ColumnMap",
    "Detection",
    "Log",
    "NanRewards",
    "NoRewardColumn",
    "Survey",
    "canonicalize",
    "carried_name",
    "check_rewards",
    "collect",
    "components_text",
    "detect",
    "duplicate_rows",
    "explained",
    "facts",
    "file_format",
    "input_name",
    "is_remote",
    "load",
    "missing_rewards",
    "natural_key",
    "remote_listing",
    "reread",
    "resolve_paths",
    "reward_text",
    "shown_format",
    "steps_from_file_names",
    "survey",
    "weighted_sum",
    "weights_given",
]
