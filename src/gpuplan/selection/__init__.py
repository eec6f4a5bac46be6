"""The selection stage: which models are chosen — candidates, the seed-001 role
selector, exact joint selection over several roles, and ``fit``.

One public face, loaded lazily (see ``gpuplan.models``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpuplan._lazy import lazy_exports

if TYPE_CHECKING:
    from gpuplan.selection.candidates import (
        Candidate,
        bits_per_weight,
        build_candidates,
        planning_context,
    )
    from gpuplan.selection.fit import (
        CONTEXT_STEP,
        FitRow,
        fit_registry,
        fit_variant,
    )
    from gpuplan.selection.joint import (
        JointSelection,
        select_joint,
    )
    from gpuplan.selection.policy import (
        Bias,
        SelectionPolicy,
        quantization_rank,
        rank_key,
    )
    from gpuplan.selection.select import (
        DEFAULT_TOP_N,
        Explanation,
        RoleSelector,
        select_by_role_response,
    )

__all__ = [
    "CONTEXT_STEP",
    "DEFAULT_TOP_N",
    "Bias",
    "Candidate",
    "Explanation",
    "FitRow",
    "JointSelection",
    "RoleSelector",
    "SelectionPolicy",
    "bits_per_weight",
    "build_candidates",
    "fit_registry",
    "fit_variant",
    "planning_context",
    "quantization_rank",
    "rank_key",
    "select_by_role_response",
    "select_joint",
]

_HOME: dict[str, str] = {
    "Candidate": "gpuplan.selection.candidates",
    "bits_per_weight": "gpuplan.selection.candidates",
    "build_candidates": "gpuplan.selection.candidates",
    "planning_context": "gpuplan.selection.candidates",
    "CONTEXT_STEP": "gpuplan.selection.fit",
    "FitRow": "gpuplan.selection.fit",
    "fit_registry": "gpuplan.selection.fit",
    "fit_variant": "gpuplan.selection.fit",
    "JointSelection": "gpuplan.selection.joint",
    "select_joint": "gpuplan.selection.joint",
    "Bias": "gpuplan.selection.policy",
    "SelectionPolicy": "gpuplan.selection.policy",
    "quantization_rank": "gpuplan.selection.policy",
    "rank_key": "gpuplan.selection.policy",
    "DEFAULT_TOP_N": "gpuplan.selection.select",
    "Explanation": "gpuplan.selection.select",
    "RoleSelector": "gpuplan.selection.select",
    "select_by_role_response": "gpuplan.selection.select",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME)
