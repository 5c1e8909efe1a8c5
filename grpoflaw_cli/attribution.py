"""Attribution of the update mass to the reward's components.

With a reward made of several components (summed reward columns, or component columns
beside a reward that already includes them, weights applied), each non-constant group
falls in a *class*: the set of components that vary inside it. A class's share of the
update mass under an estimator is

    share_e(C) = Σ_{g ∈ C} M_e(g) / Σ_g M_e(g),    M_e(g) = Σ_{i ∈ g} A_i² = n_g · scale_e(g)²

over the run, with ``scale_e`` the group's RMS advantage (``scale_<estimator>`` in
:attr:`~grpoflaw_cli.analysis.Analysis.groups`). GRPO (``grpo``) gives every
non-constant group about the same mass, n_g, whatever its reward spread; Dr. GRPO
(``dr_grpo``, r − mean) gives it the group's Σ (r − mean)², the weighted reward's own
spread. A class whose GRPO share is several times its Dr. GRPO share is a small term (a
format bonus) that GRPO's std normalization inflates to a full advantage.

>>> import polars as pl
>>> groups = pl.DataFrame({
...     "n": [2, 2, 2], "spread": [2.0, 0.5, 0.0], "scale_grpo": [0.7071, 0.7071, 0.0],
...     "components_varying": [1, 2, 0]})
>>> rows = attribution(groups, ("acc", "format"))
>>> [(r["components"], r["groups"], round(r["share_grpo"], 3), round(r["share_dr_grpo"], 3))
...  for r in rows]
[(['acc'], 1, 0.5, 0.941), (['format'], 1, 0.5, 0.059)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from grpoflaw_cli.estimators import REFERENCE

GRPO, MAGNITUDE = REFERENCE, "dr_grpo"
"""The estimator whose normalization is in question, and the magnitude-keeping one."""


def update_mass(groups: pl.DataFrame, estimator: str) -> np.ndarray:
    """Each group's Σ A² under ``estimator``: n · scale². Dr. GRPO's, when it was not
    computed, is the group's Σ (r − mean)² (n · spread², over the rollouts with a reward)."""
    n = groups["n"].cast(pl.Float64).to_numpy()
    column = f"scale_{estimator}"
    if column not in groups.columns and estimator == MAGNITUDE:
        column = "spread"
    scale = groups[column].cast(pl.Float64).fill_null(0.0).fill_nan(0.0).to_numpy()
    mass: np.ndarray = n * scale * scale
    return mass


def attribution(groups: pl.DataFrame, components: Sequence[str]) -> list[dict[str, Any]]:
    """Per class of non-constant groups (the set of components varying in them): the
    class's ``components`` (in the reward's order), its number of ``groups``, and its
    shares of the run's update mass under GRPO (``share_grpo``) and under Dr. GRPO
    (``share_dr_grpo``); sorted by ``share_grpo``, largest first. Empty without several
    components or without any non-constant group.
    """
    if len(components) < 2 or "components_varying" not in groups.columns:
        return []
    live = groups["spread"].cast(pl.Float64).fill_null(0.0).to_numpy() > 0
    masses = {e: update_mass(groups, e) for e in (GRPO, MAGNITUDE)}
    totals = {e: float(m[live].sum()) for e, m in masses.items()}
    if not all(t > 0 for t in totals.values()):
        return []
    mask = groups["components_varying"].to_numpy()[live]
    rows = []
    for cls in np.unique(mask):
        inside = mask == cls
        rows.append(
            {
                "components": [c for k, c in enumerate(components) if int(cls) >> k & 1],
                "groups": int(inside.sum()),
                **{
                    f"share_{e}": float(masses[e][live][inside].sum()) / totals[e]
                    for e in (GRPO, MAGNITUDE)
                },
            }
        )
    return sorted(rows, key=lambda r: (-r["share_grpo"], r["components"]))


def inflation(row: Mapping[str, Any]) -> float:
    """A class's GRPO share over its Dr. GRPO share (inf when Dr. GRPO gives it none).

    >>> inflation({"share_grpo": 0.16, "share_dr_grpo": 0.0118})
    13.559322033898306
    """
    grpo, magnitude = row["share_grpo"], row["share_dr_grpo"]
    return grpo / magnitude if magnitude > 0 else float("inf")
