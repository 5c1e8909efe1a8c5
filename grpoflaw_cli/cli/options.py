"""The options the commands share, and how the CLI spells the settings a message names.

Each shared option is declared once here. Every command that reads a log takes the same
column options (:func:`column_options`), ``--source`` and estimator options, and reads the
log the same way (:func:`read_log`); every command that computes advantages takes the same
conventions options (:func:`conventions_options`); the output options are given their flag
by :func:`output_options`. :data:`FLAGS` spells each :data:`grpoflaw_cli.errors.OPTIONS`
name as its flag.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer

from grpoflaw_cli.errors import UsageError

FLAGS = {
    "step_col": "--step-col",
    "group_col": "--group-col",
    "reward_cols": "--reward-col",
    "reward_weights": "--reward-weights",
    "group_size": "--group-size",
    "length_col": "--length-col",
    "task_col": "--task-col",
    "baseline_col": "--baseline-col",
    "component_cols": "--component-col",
    "skip_bad_lines": "--skip-bad-lines",
    "source": "--source",
    "framework": "--framework",
    "estimators": "--estimators",
    "ddof": "--std-ddof",
    "eps": "--eps",
    "clip": "--clip",
    "format": "--format",
    "output": "-o",
    "collapse_ratio": "--collapse-ratio",
    "magnitude_ratio": "--magnitude-ratio",
    "noise_ratio": "--noise-ratio",
    "zero_variance_warning": "--zero-variance-warning",
}
"""How the CLI spells each setting a library message names (see :func:`errors.option`)."""


# The log's files and columns -----------------------------------------------------------
Paths = Annotated[
    list[str],
    typer.Argument(
        help="Log files, folders (every .jsonl/.csv/.parquet inside) or globs; local, or "
        "s3://, gs://, az://, hf:// URLs.",
        show_default=False,
    ),
]
StepCol = Annotated[
    str | None, typer.Option("--step-col", help="Column holding the training step.")
]
GroupCol = Annotated[
    str | None, typer.Option("--group-col", help="Column identifying the prompt group.")
]
RewardCol = Annotated[
    list[str] | None,
    typer.Option("--reward-col", help="Reward column; repeat it to sum several components."),
]
RewardWeights = Annotated[
    str | None,
    typer.Option(
        "--reward-weights",
        help="Comma-separated weights, one per --reward-col (with one --reward-col: one per "
        "--component-col, GDPO's weights).",
    ),
]
GroupSize = Annotated[
    int | None,
    typer.Option(
        "--group-size",
        min=1,
        help="Groups are consecutive blocks of N rows within a step (as TRL writes them).",
    ),
]
LengthCol = Annotated[
    str | None, typer.Option("--length-col", help="Response length in tokens (token weighting).")
]
TaskCol = Annotated[str | None, typer.Option("--task-col", help="Task / data-source column.")]
BaselineCol = Annotated[
    str | None,
    typer.Option("--baseline-col", help="The greedy rollout's reward per rollout (ReMax)."),
]
ComponentCol = Annotated[
    list[str] | None,
    typer.Option(
        "--component-col",
        help="A reward component the reward already includes (repeat it): GDPO normalizes "
        "each and weighs it by --reward-weights (without them GDPO is left out), the "
        "aliasing check compares them.",
    ),
]


class LogColumns(NamedTuple):
    """The column options as given (:func:`column_options`); :meth:`mapping` checks them."""

    step_col: str | None = None
    group_col: str | None = None
    reward_col: list[str] | None = None
    reward_weights: str | None = None
    group_size: int | None = None
    length_col: str | None = None
    task_col: str | None = None
    baseline_col: str | None = None
    component_col: list[str] | None = None

    def mapping(self) -> Any:
        """The :class:`~grpoflaw_cli.ingest.ColumnMap` these options give."""
        from grpoflaw_cli.ingest import ColumnMap

        weights = None
        if self.reward_weights is not None:
            try:
                weights = tuple(float(w) for w in self.reward_weights.split(",") if w.strip())
            except ValueError:
                flag = FLAGS["reward_weights"]
                raise UsageError(
                    f"{flag} '{self.reward_weights}' is not a comma-separated list of numbers",
                    hint=f"e.g. {flag} 1,0.5,2",
                ) from None
        return ColumnMap(
            step=self.step_col,
            group=self.group_col,
            reward=tuple(self.reward_col or ()),
            reward_weights=weights,
            group_size=self.group_size,
            length=self.length_col,
            task=self.task_col,
            baseline=self.baseline_col,
            components=tuple(self.component_col or ()),
        )


COLUMN_OPTIONS: dict[str, Any] = {
    "step_col": StepCol,
    "group_col": GroupCol,
    "reward_col": RewardCol,
    "reward_weights": RewardWeights,
    "group_size": GroupSize,
    "length_col": LengthCol,
    "task_col": TaskCol,
    "baseline_col": BaselineCol,
    "component_col": ComponentCol,
}
"""The column options, in the order ``--help`` lists them."""

NO_COLUMNS = LogColumns()
"""A command's ``columns`` default: nothing mapped, every column detected."""


def _grouped(
    name: str, options: dict[str, Any], given_as: Callable[..., Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator putting ``options`` in place of a command's ``name`` parameter, which
    receives them as one ``given_as(**options)`` (as sqlite-utils' ``output_options``
    gives every command the same switches). ``--help`` lists them where ``name`` stands."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name != name:
                parameters.append(parameter)
                continue
            parameters += [
                inspect.Parameter(option, parameter.kind, default=None, annotation=annotation)
                for option, annotation in options.items()
            ]

        @functools.wraps(command)
        def with_group(**given: Any) -> Any:
            group = given_as(**{option: given.pop(option) for option in options})
            return command(**{name: group}, **given)

        with_group.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return with_group

    return decorate


column_options = _grouped("columns", COLUMN_OPTIONS, LogColumns)
"""``command`` with the column options in place of its ``columns`` parameter, which
receives them as one :class:`LogColumns`."""


class SourceName(str, Enum):
    """``ingest.SOURCES`` as choices; spelled out because reading that would import the
    ingest layer (Polars) on every ``--help`` (a test keeps the two equal)."""

    auto = "auto"
    generic = "generic"
    verl = "verl"
    trl = "trl"
    open_instruct = "open-instruct"
    prime_rl = "prime-rl"
    relax = "relax"
    art = "art"
    nemo_rl = "nemo-rl"


SourceOpt = Annotated[
    SourceName,
    typer.Option(
        "--source",
        help="Which trainer wrote the log (its columns, grouping and conventions); auto "
        "recognizes it.",
    ),
]


class EngineName(str, Enum):
    """Where the pass over the rows runs (``api.Engine``)."""

    local = "local"
    ray = "ray"


EngineOpt = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="local: this process; ray: the passes over the rows as Ray tasks, a run of files "
        "each, on the cluster RAY_ADDRESS names or a local Ray (pip install 'grpoflaw[ray]').",
    ),
]


def engine_ready(engine: EngineName) -> None:
    """Refuse ``--engine ray`` before any work when Ray is not installed."""
    if engine is EngineName.ray:
        from grpoflaw_cli.ray_engine import ray_module

        ray_module()


SkipBadLines = Annotated[
    bool,
    typer.Option(
        "--skip-bad-lines",
        help="Skip malformed JSONL lines (e.g. a truncated last line) and report how many.",
    ),
]


def read_log(
    paths: Sequence[str | Path],
    mapping: Any,
    skip_bad_lines: bool,
    source: SourceName,
    framework: FrameworkName | None = None,
) -> Any:
    """Read the log as the options say (its errors spelled by the CLI)."""
    from grpoflaw_cli import api

    return api.read(
        paths,
        mapping,
        source=source.value,
        framework=framework_name(framework),
        skip_bad_lines=skip_bad_lines,
    )


# Estimators and their conventions -----------------------------------------------------
Estimators = Annotated[
    str | None,
    typer.Option(
        "--estimators",
        help="Comma-separated estimators, or 'all' (default: the standard set, plus the "
        "trainer's own). See `grpoflaw estimators`.",
    ),
]


def chosen_estimators(names: str | None) -> list[str] | None:
    """``--estimators``, checked before any file is read; ``None`` if not given (the
    log then decides: :func:`grpoflaw_cli.api.log_defaults`)."""
    from grpoflaw_cli.estimators import resolve

    return None if names is None else resolve(names)


StdDdof = Annotated[
    int | None,
    typer.Option(
        "--std-ddof",
        min=0,
        max=1,
        help="Std denominator n-ddof: 1 unbiased (verl, TRL, OpenRLHF; the default), "
        "0 population (the paper).",
        show_default=False,
    ),
]
Eps = Annotated[
    float | None,
    typer.Option(
        "--eps",
        min=0.0,
        help="Added to the std before dividing [default: the framework's: verl 1e-6, "
        "TRL 1e-4, OpenRLHF 1e-9].",
        show_default=False,
    ),
]


class FrameworkName(str, Enum):
    """``estimators.FRAMEWORKS`` as choices, spelled out like :class:`SourceName`."""

    verl = "verl"
    trl = "trl"
    openrlhf = "openrlhf"


FrameworkOpt = Annotated[
    FrameworkName | None,
    typer.Option(
        "--framework",
        help="Whose conventions to reproduce: epsilon, Bessel rounding, one-rollout groups, "
        "batch whitening [default: the one the log's source implies, else verl].",
        show_default=False,
    ),
]


def framework_name(framework: FrameworkName | None) -> str | None:
    return framework.value if framework is not None else None


Clip = Annotated[
    str | None,
    typer.Option(
        "--clip",
        help="Clamp shaped values to LO,HI before batch whitening (OpenRLHF's "
        "reward.clip_range; default -10,10 under --framework openrlhf), or 'none'.",
        show_default=False,
    ),
]


def parse_clip(text: str | None) -> Any:
    """``--clip`` → (lo, hi), None for 'none', or "default" when not given."""
    if text is None:
        return "default"
    if text.strip().lower() == "none":
        return None
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        flag = FLAGS["clip"]
        raise UsageError(
            f"{flag} '{text}' is not LO,HI", hint=f"e.g. {flag} -10,10, or {flag} none"
        ) from None
    return (lo, hi)


class ConventionsChoice(NamedTuple):
    """The conventions options as given (:func:`conventions_options`)."""

    framework: FrameworkName | None = None
    std_ddof: int | None = None
    eps: float | None = None
    clip: str | None = None

    def settings(self) -> dict[str, Any]:
        """The keywords ``api.compare``, ``api.write_advantages`` and ``watch.follow``
        take (``--clip`` checked)."""
        return {
            "framework": framework_name(self.framework),
            "ddof": self.std_ddof,
            "eps": self.eps,
            "clip": parse_clip(self.clip),
        }


CONVENTIONS_OPTIONS: dict[str, Any] = {
    "framework": FrameworkOpt,
    "std_ddof": StdDdof,
    "eps": Eps,
    "clip": Clip,
}
"""The conventions options, in the order ``--help`` lists them."""

DEFAULT_CONVENTIONS = ConventionsChoice()
"""A command's ``conventions`` default: each the log's or its framework's."""

conventions_options = _grouped("conventions", CONVENTIONS_OPTIONS, ConventionsChoice)
"""``command`` with ``--framework``, ``--std-ddof``, ``--eps`` and ``--clip`` in place of
its ``conventions`` parameter, which receives them as one :class:`ConventionsChoice`."""


# Outputs ---------------------------------------------------------------------------------
class OutputFormat(str, Enum):
    """``compare --format``."""

    table = "table"
    json = "json"
    csv = "csv"


class TableOrJson(str, Enum):
    """``--format`` of the commands that print a screen or its JSON (inspect, simulate)."""

    table = "table"
    json = "json"


OUTPUT_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "output_format": ("--format", {}),
    "html_out": ("--html", {}),
    "max_rows": ("--max-rows", {"min": 1}),
}
"""The output options: each command parameter's flag, and how Typer checks it."""


def output_options(
    *, output_format: str = "table or json.", html_out: str = "", max_rows: str = ""
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give the command's output parameters (``output_format``, ``html_out``,
    ``max_rows``: their type, default and place in ``--help`` its own) their flag, with
    the help given here: what each shows or writes for this command."""
    helps = {"output_format": output_format, "html_out": html_out, "max_rows": max_rows}

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        parameters = []
        for parameter in signature.parameters.values():
            if parameter.name in OUTPUT_OPTIONS:
                flag, checks = OUTPUT_OPTIONS[parameter.name]
                if not helps[parameter.name]:
                    raise TypeError(f"{command.__name__}: say what {flag} does")
                option = typer.Option(flag, help=helps[parameter.name], **checks)
                parameter = parameter.replace(annotation=Annotated[parameter.annotation, option])
            parameters.append(parameter)
        command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return command

    return decorate


def output_path(raw: str | None, flag: str) -> Path | None:
    """An output option's path as typed: one ending in '/' names a folder, and is refused
    (a path would drop the '/')."""
    if raw is None:
        return None
    if raw.endswith(("/", os.sep)) and raw.strip("/"):
        raise UsageError(
            f"cannot write '{raw}': it names a folder (it ends with '/')",
            hint=f"give {flag} a file name",
        )
    return Path(raw)


Traceback = Annotated[
    bool, typer.Option("--traceback", help="Show the Python traceback on errors (for bug reports).")
]
