"""Role-based selection (seed 001's ``RoleSelector``): the best models for one task.

Algorithm, as seed 001 describes it: keep candidates that serve the role, keep
those within the profile's ``max_vram_mb``, sort by role priority, quantization
preference and VRAM with the profile's bias applied (``policy.rank_key``), and
return the top N. A model appears once, with its best-ranked variant: the
seed's response lists models, and three variants of one model would crowd out
the alternatives a user asked to compare.

Every verdict can be explained (``explain_selection``), with the four statuses
seed 001 tests: ``eligible``, ``rejected`` (with the reason), ``no_role_support``
and ``not_found``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.errors import ModelError, ModelNotFoundError
from gpuplan.memory.figure import VramSource
from gpuplan.models.registry import ROLES, Backend, Role, parse_role
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.policy import SelectionPolicy, quantization_rank, rank_key

__all__ = [
    "DEFAULT_TOP_N",
    "Explanation",
    "ExplanationStatus",
    "RoleModel",
    "RoleSelector",
    "SelectByRoleResponse",
    "VariantVerdict",
    "select_by_role_response",
]

DEFAULT_TOP_N = 3
"""Seed 001: ``top_n`` defaults to 3."""

ExplanationStatus = Literal["eligible", "rejected", "no_role_support", "not_found"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VariantVerdict(_Frozen):
    """One variant of the explained model: does it fit, and where does it rank."""

    quantization: str
    vram_estimate_mb: int = Field(description="VRAM the variant needs, MiB.")
    vram_source: VramSource
    fits: bool = Field(
        description="vram_estimate_mb <= the policy's max_vram_mb, and placeable on the GPUs."
    )
    preference: int | None = Field(
        description="0-based position in preferred_quantizations; None when unlisted."
    )


class Explanation(_Frozen):
    """Why a model is (or is not) selected for a role."""

    role: Role
    model_id: str
    status: ExplanationStatus
    reason: str = Field(description="One sentence a user can act on.")
    rank: int | None = Field(
        default=None, description="1-based rank among the models eligible for the role."
    )
    eligible_models: int = Field(default=0, description="How many models are eligible.")
    quantization: str | None = Field(default=None, description="The variant that would be used.")
    vram_estimate_mb: int | None = Field(default=None, description="Its VRAM, MiB.")
    role_priority: int | None = Field(default=None, description="The model's priority for role.")
    max_vram_mb: int = Field(description="The policy's budget, MiB.")
    variants: tuple[VariantVerdict, ...] = Field(default=())


class RoleModel(_Frozen):
    """One model in seed 001's ``select_by_role`` response."""

    id: str
    name: str
    backend: Backend
    quantization: str
    vram_estimate_mb: int = Field(description="MiB, summed over the GPUs it is split over.")
    role_priority: int = Field(description="The model's priority for the requested role.")
    vram_source: VramSource = Field(description="Where vram_estimate_mb comes from.")
    gpus: int = Field(default=1, description="GPUs it is split over (tensor parallel).")
    vram_per_gpu_mb: int = Field(default=0, description="MiB on each of those GPUs.")


class SelectByRoleResponse(_Frozen):
    """Seed 001's ``GET /v1/models/select_by_role`` document."""

    role: Role
    profile: str
    max_vram_mb: int = Field(description="MiB.")
    model_selection_bias: str
    top_n: int
    models: tuple[RoleModel, ...]


class RoleSelector:
    """Seed 001's role selector over flattened candidates, under one policy.

    Pure: it holds the candidates and the policy and reads nothing else, so the
    CLI, the HTTP route and tests build it the same way.
    """

    def __init__(self, candidates: Sequence[Candidate], policy: SelectionPolicy) -> None:
        self.candidates: tuple[Candidate, ...] = tuple(candidates)
        self.policy = policy
        self._model_ids = tuple(dict.fromkeys(c.model_id for c in self.candidates))

    def available_roles(self) -> tuple[Role, ...]:
        """Roles at least one candidate serves, in the canonical role order."""
        served = {role for c in self.candidates for role in c.role_priority}
        return tuple(role for role in ROLES if role in served)

    def model_ids(self) -> tuple[str, ...]:
        return self._model_ids

    def candidates_for(self, model_id: str) -> tuple[Candidate, ...]:
        """The variants of one model; ``ModelNotFoundError`` when there are none."""
        found = tuple(c for c in self.candidates if c.model_id == model_id)
        if not found:
            raise ModelNotFoundError(
                f"no model {model_id!r} among the candidates",
                hint="run `gpuplan fit` to list the registry's models",
            )
        return found

    def fits(self, candidate: Candidate) -> bool:
        """Within the budget and placeable on the host's GPUs (when they are known)."""
        return self.policy.admits(candidate)

    def ranked(self, role: Role | str) -> list[Candidate]:
        """Every eligible variant for ``role`` (serves it, fits the budget), best first."""
        checked = parse_role(role)
        eligible = [c for c in self.candidates if c.serves(checked) and self.fits(c)]
        return sorted(eligible, key=lambda c: rank_key(c, checked, self.policy))

    def ranked_models(self, role: Role | str) -> list[Candidate]:
        """The best eligible variant of each model for ``role``, best model first."""
        seen: set[str] = set()
        best: list[Candidate] = []
        for candidate in self.ranked(role):
            if candidate.model_id not in seen:
                seen.add(candidate.model_id)
                best.append(candidate)
        return best

    def select_for_role(self, role: Role | str, top_n: int = DEFAULT_TOP_N) -> list[Candidate]:
        """Seed 001: the best ``top_n`` models for ``role`` under the policy (maybe none)."""
        if top_n < 1:
            raise ModelError(f"top_n is {top_n}", hint="ask for at least 1 model")
        return self.ranked_models(role)[:top_n]

    def fitting_models(self) -> list[Candidate]:
        """Every variant within the budget, whatever its roles, in candidate order.

        Within one model, preferred quantizations come first, so the first
        variant listed for a model is the one a profile would load.
        """
        fitting = [c for c in self.candidates if self.fits(c)]
        order = {model_id: index for index, model_id in enumerate(self._model_ids)}
        return sorted(
            fitting,
            key=lambda c: (
                order[c.model_id],
                quantization_rank(c.quantization, self.policy.preferred_quantizations),
                c.vram_estimate_mb,
            ),
        )

    def explain_selection(self, role: Role | str, model_id: str) -> Explanation:
        """Why ``model_id`` is or is not a choice for ``role``, in seed 001's four statuses."""
        checked = parse_role(role)
        budget = self.policy.max_vram_mb
        variants = tuple(c for c in self.candidates if c.model_id == model_id)
        if not variants:
            return Explanation(
                role=checked,
                model_id=model_id,
                status="not_found",
                reason=f"no model {model_id!r} in the registry",
                max_vram_mb=budget,
            )
        verdicts = tuple(self._verdict(c) for c in variants)
        priority = variants[0].role_priority.get(checked)
        if priority is None:
            served = ", ".join(variants[0].role_priority) or "none"
            return Explanation(
                role=checked,
                model_id=model_id,
                status="no_role_support",
                reason=f"{model_id} has no role_priority for {checked!r} (it serves: {served})",
                max_vram_mb=budget,
                variants=verdicts,
            )
        models = self.ranked_models(checked)
        for rank, candidate in enumerate(models, start=1):
            if candidate.model_id == model_id:
                return Explanation(
                    role=checked,
                    model_id=model_id,
                    status="eligible",
                    reason=self._eligible_reason(candidate, checked, rank, models),
                    rank=rank,
                    eligible_models=len(models),
                    quantization=candidate.quantization,
                    vram_estimate_mb=candidate.vram_estimate_mb,
                    role_priority=priority,
                    max_vram_mb=budget,
                    variants=verdicts,
                )
        smallest = min(variants, key=lambda c: c.vram_estimate_mb)
        sizes = ", ".join(f"{c.quantization} {c.vram_estimate_mb} MiB" for c in variants)
        if smallest.vram_estimate_mb > budget:
            reason = (
                f"exceeds the VRAM budget: smallest variant {smallest.quantization} needs "
                f"{smallest.vram_estimate_mb} MiB > max_vram_mb {budget} MiB ({sizes})"
            )
        else:
            devices = self.policy.device_budgets_mb or ()
            per_gpu, gpus = smallest.demand
            reason = (
                f"does not fit on these GPUs: {smallest.quantization} needs {per_gpu} MiB on "
                f"each of {gpus} GPU(s); usable per GPU: "
                + (", ".join(f"{mib} MiB" for mib in devices) or "none")
            )
        return Explanation(
            role=checked,
            model_id=model_id,
            status="rejected",
            reason=reason,
            eligible_models=len(models),
            role_priority=priority,
            max_vram_mb=budget,
            variants=verdicts,
        )

    def _verdict(self, candidate: Candidate) -> VariantVerdict:
        preferred = self.policy.preferred_quantizations
        rank = quantization_rank(candidate.quantization, preferred)
        return VariantVerdict(
            quantization=candidate.quantization,
            vram_estimate_mb=candidate.vram_estimate_mb,
            vram_source=candidate.vram_source,
            fits=self.fits(candidate),
            preference=rank if rank < len(preferred) else None,
        )

    def _eligible_reason(
        self, candidate: Candidate, role: Role, rank: int, models: Sequence[Candidate]
    ) -> str:
        priority = candidate.role_priority[role]
        head = (
            f"fits: {candidate.quantization} needs {candidate.vram_estimate_mb} MiB <= "
            f"{self.policy.max_vram_mb} MiB; priority {priority} for {role!r}; "
            f"rank {rank} of {len(models)}"
        )
        if rank == 1:
            return head
        above = models[rank - 2]
        return f"{head}, below {above.key} ({self._why_ahead(above, candidate, role)})"

    def _why_ahead(self, ahead: Candidate, behind: Candidate, role: Role) -> str:
        """The first sort key on which ``ahead`` beats ``behind``, in words."""
        p_ahead, p_behind = ahead.role_priority[role], behind.role_priority[role]
        if p_ahead != p_behind:
            return f"priority {p_ahead} > {p_behind}"
        preferred = self.policy.preferred_quantizations
        q_ahead = quantization_rank(ahead.quantization, preferred)
        q_behind = quantization_rank(behind.quantization, preferred)
        bias = self.policy.model_selection_bias
        if bias == "quality" and ahead.quality != behind.quality:
            return "quality bias: more parameters x bits"
        if q_ahead != q_behind:
            return f"preferred quantization {ahead.quantization} before {behind.quantization}"
        if bias == "vram_efficient" and ahead.vram_estimate_mb != behind.vram_estimate_mb:
            return (
                f"vram_efficient bias: {ahead.vram_estimate_mb} MiB < {behind.vram_estimate_mb} MiB"
            )
        if ahead.quality != behind.quality:
            return "more parameters x bits"
        if ahead.vram_estimate_mb != behind.vram_estimate_mb:
            return f"{ahead.vram_estimate_mb} MiB < {behind.vram_estimate_mb} MiB"
        return "tie, ordered by id"


def select_by_role_response(
    selector: RoleSelector, role: Role | str, top_n: int = DEFAULT_TOP_N
) -> SelectByRoleResponse:
    """Seed 001's ``GET /v1/models/select_by_role`` body, so the route is one call."""
    checked = parse_role(role)
    chosen = selector.select_for_role(checked, top_n)
    policy = selector.policy
    return SelectByRoleResponse(
        role=checked,
        profile=policy.name,
        max_vram_mb=policy.max_vram_mb,
        model_selection_bias=policy.model_selection_bias,
        top_n=top_n,
        models=tuple(
            RoleModel(
                id=c.model_id,
                name=c.name,
                backend=c.backend,
                quantization=c.quantization,
                vram_estimate_mb=c.vram_estimate_mb,
                role_priority=c.role_priority[checked],
                vram_source=c.vram_source,
                gpus=c.gpus,
                vram_per_gpu_mb=c.demand.per_gpu_mb,
            )
            for c in chosen
        ),
    )
