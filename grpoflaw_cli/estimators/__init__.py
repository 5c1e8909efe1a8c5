"""Advantage estimators: a registry of pure functions over per-group statistics.

Every estimator here is, for rollout ``i`` of group ``g`` in iteration ``s``,

    A_i = mult_s · ( scale_g · (r_i − center_g) − shift_s )

a per-group affine map of the reward, optionally followed by an affine whitening over
the iteration (``shift_s``/``mult_s``; identity for the group-only estimators). Each
registered function returns that :class:`Affine` from
:class:`~grpoflaw_cli.group_stats.Groups` and :class:`Conventions`.

Notation in the docstrings: ``n`` group size, ``μ`` group mean, ``σ`` group std with
``ddof`` from the conventions, ``ε`` the conventions' epsilon, ``L`` response length in
tokens.

* :mod:`.registry`: the registry, :func:`resolve`, the uniform signature;
* :mod:`.conventions`: each framework's ddof, eps, clip and singleton rules;
* :mod:`.affine`: the :class:`Affine` contract, :func:`apply`, :func:`group_moments`
  (:func:`group_sum_sq`);
* :mod:`.whitening`: batch whitening, as verl, OpenRLHF and TRL do it;
* :mod:`.rows`: row variables, the per-rollout values of a second pass;
* the catalogue: :mod:`.group_normalized` (GRPO family), :mod:`.leave_one_out` (RLOO,
  leave-one-out GRPO), :mod:`.reinforce` (REINFORCE++), :mod:`.baselines` (OPO, ReMax),
  :mod:`.pass_at_k`.

>>> import numpy as np
>>> from grpoflaw_cli.group_stats import Groups
>>> g = Groups(step_index=np.array([0]), n_steps=1, n=np.array([7]), mean=np.array([0.0]),
...            m2=np.array([6.0]), n_nonzero=np.array([6]), len_sum=np.array([7.0]),
...            len_d1=np.array([0.0]), len_d2=np.array([6.0]), has_length=False)
>>> coef = REGISTRY["grpo"].fn(g, Conventions(ddof=0, eps=0.0))
>>> round(float(coef.scale[0]), 4)        # 1/σ with σ = sqrt(6/7)
1.0801
"""

from grpoflaw_cli.estimators import baselines, group_normalized, leave_one_out, pass_at_k, reinforce
from grpoflaw_cli.estimators.affine import (
    Affine,
    apply,
    constant,
    group_moments,
    group_sum_sq,
    identity,
)
from grpoflaw_cli.estimators.conventions import (
    FRAMEWORKS,
    Conventions,
    Framework,
    singleton_denominator,
)
from grpoflaw_cli.estimators.group_normalized import gdpo_components
from grpoflaw_cli.estimators.registry import (
    LISTING,
    REFERENCE,
    REGISTRY,
    Estimator,
    applicable,
    defaults,
    resolve,
)
from grpoflaw_cli.estimators.rows import SUMS_CENTER, RowVariable, clipped, evaluate, group_column
from grpoflaw_cli.estimators.whitening import whiten

__all__ = [
    "FRAMEWORKS",
    "LISTING",
    "REFERENCE",
    "REGISTRY",
    "SUMS_CENTER",
    "Affine",
    "Conventions",
    "Estimator",
    "Framework",
    "RowVariable",
    "applicable",
    "apply",
    "baselines",
    "clipped",
    "constant",
    "defaults",
    "evaluate",
    "gdpo_components",
    "group_column",
    "group_moments",
    "group_normalized",
    "group_sum_sq",
    "identity",
    "leave_one_out",
    "pass_at_k",
    "reinforce",
    "resolve",
    "singleton_denominator",
    "whiten",
]
