"""``grpoflaw simulate``: the seeded learning experiment, every estimator on one budget."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from grpoflaw_cli.cli.display import note_skipped, screen
from grpoflaw_cli.cli.options import (
    NO_COLUMNS,
    EngineName,
    EngineOpt,
    Estimators,
    LogColumns,
    SourceName,
    TableOrJson,
    chosen_estimators,
    column_options,
    engine_ready,
    output_options,
    output_path,
    read_log,
)
from grpoflaw_cli.errors import UsageError


class SimSetting(str, Enum):
    multiscale = "multiscale"
    binary = "binary"


@column_options
@output_options(html_out="Also write the learning curves as HTML.")
def simulate(
    setting: Annotated[
        SimSetting,
        typer.Option(
            "--setting",
            help="multiscale: 4 tasks, 8 summed reward sources, scales 0.1/1/10/50; "
            "binary: one 0/1 verifier per rollout.",
        ),
    ] = SimSetting.multiscale,
    from_log: Annotated[
        list[str] | None,
        typer.Option("--from-log", help="Fit the tasks to a log's reward shapes (per task)."),
    ] = None,
    columns: LogColumns = NO_COLUMNS,
    estimators: Estimators = None,
    seeds: Annotated[int, typer.Option("--seeds", min=2, help="Independent runs.")] = 30,
    iterations: Annotated[
        int, typer.Option("--iterations", min=1, help="Policy updates per run.")
    ] = 150,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Makes the experiment reproducible.")
    ] = 0,
    output_format: TableOrJson = TableOrJson.table,
    html_out: str | None = None,
    engine: EngineOpt = EngineName.local,
) -> None:
    """Does GRPO's normalization cost learning on your kind of rewards? A seeded
    multi-task policy-gradient experiment, every estimator on the same budget."""
    from grpoflaw_cli import simulate as sim

    html = output_path(html_out, "--html")
    mapping = columns.mapping()  # checked before anything runs, as compare does
    if columns != NO_COLUMNS and not from_log:
        raise UsageError(
            "the column options map a log's columns: they go with --from-log",
            hint="add --from-log LOG, or drop the column options",
        )
    if engine is not EngineName.local and not from_log:
        raise UsageError(
            "--engine runs the pass over a log: it goes with --from-log",
            hint="add --from-log LOG, or drop --engine",
        )
    engine_ready(engine)
    every = estimators is not None and estimators.strip() == "all"
    names, left_out = sim.runnable(chosen_estimators(estimators), every=every)
    note_skipped(left_out, explicit=True)  # "all" means all that can run here
    if html is not None:
        from grpoflaw_cli.safe_output import check_output

        check_output(html, from_log or ())
    binary = setting is SimSetting.binary
    base = sim.preset(binary=binary, seeds=seeds, iterations=iterations, seed=seed)
    if from_log:
        if binary:
            raise UsageError(
                "--from-log takes the reward shapes from the log, --setting binary "
                "replaces them with a 0/1 verifier",
                hint="drop --setting binary: a log whose rewards are all 0/1 is "
                "simulated as a verifier",
            )
        from grpoflaw_cli import api

        log = read_log(from_log, mapping, False, SourceName.auto)
        base = api.simulation_fitted_to(log, base, engine=engine.value)
    outcome = sim.run(base, names)
    if html is not None:
        from grpoflaw_cli.render.html import render_simulation
        from grpoflaw_cli.safe_output import write_text_atomic

        write_text_atomic(html, render_simulation(outcome))
    if output_format is TableOrJson.json:
        from grpoflaw_cli.render.formats import json_text

        sys.stdout.write(json_text(outcome.to_dict()))
    else:
        from grpoflaw_cli.render.terminal import render_simulation as show

        screen().print(show(outcome))
