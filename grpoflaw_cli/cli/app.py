"""The Typer app: its commands, ``--version``, and the one place errors become messages
and exit codes (0 ok, 1 a flag at or above ``--fail-on``, 2 bad input or usage, 3 a bug
in grpoflaw: re-run with ``--traceback``)."""

from __future__ import annotations

import functools
import sys
import traceback as tb
from collections.abc import Callable
from inspect import Parameter, signature
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from grpoflaw_cli import __version__
from grpoflaw_cli.cli.advantages import advantages
from grpoflaw_cli.cli.compare import compare
from grpoflaw_cli.cli.display import plain, stderr
from grpoflaw_cli.cli.estimators import list_estimators
from grpoflaw_cli.cli.inspect import inspect as inspect_log
from grpoflaw_cli.cli.options import FLAGS, Traceback
from grpoflaw_cli.cli.simulate import simulate
from grpoflaw_cli.cli.watch import watch
from grpoflaw_cli.errors import ExitCode, GrpoflawError, spelled_as

T = TypeVar("T")

app = typer.Typer(
    name="grpoflaw",
    help=(
        "See what your advantage estimator did to your reward signal: recompute GRPO, "
        "Dr. GRPO, RLOO, REINFORCE++, GPG, OPO, ReMax and GDPO advantages from rollout logs "
        "(verl, TRL, open-instruct, prime-rl, NeMo-RL, ART dumps; any JSONL, CSV or Parquet) with "
        "verl's, TRL's or OpenRLHF's numerics, and flag where GRPO's std normalization erased "
        "reward magnitude."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _fail(err: GrpoflawError) -> NoReturn:
    console = stderr()
    with spelled_as(FLAGS):  # the handler runs outside the command's spelled_as block
        message, hint = err.message, err.hint
    console.print(f"[bold red]Error:[/bold red] {plain(message)}", markup=True, highlight=False)
    if hint:
        console.print(f"[dim]Hint:[/dim] {plain(hint)}", markup=True, highlight=False)
    raise typer.Exit(int(err.exit_code))


def guard(show_traceback: bool, work: Callable[[], T]) -> T:
    """Run ``work``; typed errors become messages and exit codes, bugs exit 3."""
    try:
        with spelled_as(FLAGS):  # the library's messages name our flags
            return work()
    except typer.Exit:
        raise
    except GrpoflawError as err:
        if show_traceback:
            _print_traceback()
        _fail(err)
    except KeyboardInterrupt:
        stderr().print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug: say so, do not blame the input
        _internal_error(exc, show_traceback)
    except BaseException as exc:  # a Rust panic inside Polars is a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        _internal_error(exc, show_traceback)
    raise AssertionError("unreachable")  # pragma: no cover


def _print_traceback() -> None:
    """The traceback of the exception being handled, on stderr, its control characters
    (those of the messages quoting a path or a value) shown as escapes."""
    from grpoflaw_cli.textsafe import printable_lines

    sys.stderr.write(printable_lines(tb.format_exc()))


def _internal_error(exc: BaseException, show_traceback: bool) -> NoReturn:
    """A bug (ours or a library's): say so with exit 3, never blame the input."""
    if show_traceback:
        _print_traceback()
    first_line = (str(exc).strip().splitlines() or [""])[0]
    console = stderr()
    console.print(
        f"[bold red]Internal error:[/bold red] {type(exc).__name__}: {plain(first_line)}",
        markup=True,
        highlight=False,
    )
    console.print("This is a bug in grpoflaw. Re-run with --traceback and report it.")
    raise typer.Exit(int(ExitCode.INTERNAL)) from None


def guarded(command: Callable[..., int | None]) -> Callable[..., None]:
    """``command`` with ``--traceback``, run by :func:`guard`: the exit code it returns
    (``None``: 0) ends the process."""
    options = signature(command, eval_str=True)
    show = Parameter("show_traceback", Parameter.KEYWORD_ONLY, default=False, annotation=Traceback)

    @functools.wraps(command)
    def run(*, show_traceback: bool = False, **given: Any) -> None:
        code = guard(show_traceback, lambda: command(**given))
        if code:
            raise typer.Exit(code)

    run.__signature__ = options.replace(  # type: ignore[attr-defined]
        parameters=[*options.parameters.values(), show]
    )
    return run


for _name, _command in (
    ("compare", compare),
    ("advantages", advantages),
    ("inspect", inspect_log),
    ("watch", watch),
    ("simulate", simulate),
    ("estimators", list_estimators),
):
    app.command(_name)(guarded(_command))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grpoflaw {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """grpoflaw: what your advantage estimator did to your reward signal."""
    # A log's values may nest as deep as Polars reads them (1,024 levels); walking their
    # types (a hash, a comparison) takes a Python frame or two per level.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6_000))


def main() -> None:
    """Console-script entry point: the standard streams made safe (:mod:`grpoflaw_cli.cli.stdio`),
    and what is left in standard output's buffer written before the exit code is decided."""
    from grpoflaw_cli.cli import stdio

    stdio.prepare()
    code: Any = 0
    try:
        app()
    except SystemExit as done:
        code = done.code
    try:
        guard(False, stdio.flush)
    except typer.Exit as failed:
        code = failed.exit_code
    sys.exit(code)
