"""``grpoflaw estimators``: the catalogue, one row per estimator."""

from __future__ import annotations

from grpoflaw_cli.cli.display import screen


def list_estimators() -> None:
    """List the estimators, what each does to reward magnitude, and their formulas."""
    from grpoflaw_cli.render.estimators import render_estimators

    screen().print(render_estimators())
