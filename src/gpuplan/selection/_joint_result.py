"""What a joint selection returns: the picks, the loads, and why the rest was left out.

Plain frozen data, shared by the search's driver (``joint``) and its explanation
(``_joint_explain``); ``joint`` is their public face.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.models.registry import Backend, Role
from gpuplan.selection.policy import Bias

__all__ = ["Dropped", "JointSelection", "LoadedModel", "PrimaryTrade", "RolePick", "UnservedRole"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RolePick(_Frozen):
    """The model chosen for one role."""

    role: Role
    model_id: str
    name: str
    backend: Backend
    quantization: str
    vram_estimate_mb: int = Field(description="VRAM of the chosen variant, MiB (all its GPUs).")
    gpus: int = Field(default=1, description="GPUs it is split over (tensor parallel).")
    vram_per_gpu_mb: int = Field(default=0, description="MiB on each of those GPUs.")
    role_priority: int
    rank: int = Field(description="1-based rank of this model in the role's own ranking.")
    shared_with: tuple[Role, ...] = Field(
        default=(), description="Other requested roles the same loaded model serves."
    )


class LoadedModel(_Frozen):
    """One model loaded for the set, with the roles it serves."""

    model_id: str
    quantization: str
    vram_estimate_mb: int = Field(description="MiB, counted once however many roles it serves.")
    gpus: int = Field(default=1, description="GPUs it is split over (tensor parallel).")
    vram_per_gpu_mb: int = Field(default=0, description="MiB on each of those GPUs.")
    roles: tuple[Role, ...]
    sidecar: bool = Field(
        default=False,
        description="A small encoder serving only supporting roles: it takes none of "
        "max_concurrent_models' slots.",
    )


class Dropped(_Frozen):
    """A model that ranks above the pick for a role on its own, and why the set left it out."""

    role: Role
    model_id: str
    quantization: str
    vram_estimate_mb: int = Field(description="MiB.")
    role_priority: int
    why: Literal["budget", "concurrency", "placement", "score", "primary", "serving"] = Field(
        description="budget: the set would not fit max_vram_mb; concurrency: too many models; "
        "placement: the set fits the budget but not on the GPUs; "
        "score: it fits, but the chosen set ranks higher overall; "
        "primary: it does not fit beside the primary role's model, and supporting roles "
        "never take memory from it; "
        "serving: a better model for the primary role itself, left out because beside it "
        "fewer of the requested roles could be served (see JointSelection.primary_trade)."
    )
    reason: str


class PrimaryTrade(_Frozen):
    """The primary role's best model, given up for one within a size class of it so that
    more of the requested roles are served."""

    role: Role = Field(description="The primary role.")
    model_id: str = Field(description="The primary's model in the set.")
    quantization: str
    role_priority: int
    instead_of: str = Field(description="Model id of the best-ranked model that fits alone.")
    instead_of_quantization: str
    instead_of_priority: int
    instead_of_vram_mb: int = Field(description="MiB of that model.")
    served: tuple[Role, ...] = Field(
        description="Requested roles served in the set that the better model would have "
        "left unserved."
    )
    step_points: int = Field(
        description="Most role-priority points the primary may give up for this "
        "(one size class; joint.PRIMARY_STEP)."
    )
    reason: str


class UnservedRole(_Frozen):
    """A requested role that no model in the set serves, and why."""

    role: Role
    reason: str


class JointSelection(_Frozen):
    """The chosen set for several roles, and the alternatives it dropped with reasons."""

    roles: tuple[Role, ...]
    profile: str
    max_vram_mb: int = Field(description="Budget the set had to fit, MiB.")
    max_concurrent_models: int
    model_selection_bias: Bias
    picks: tuple[RolePick, ...] = Field(description="One per served role, in the order asked.")
    models: tuple[LoadedModel, ...] = Field(description="Distinct models to load.")
    total_vram_mb: int = Field(description="Sum over distinct loaded models, MiB.")
    slots_used: int = Field(
        default=0, description="Models counted against max_concurrent_models (not sidecars)."
    )
    total_priority: int = Field(description="Sum of the picks' role priorities.")
    unserved: tuple[UnservedRole, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    optimal: bool = Field(
        default=True, description="False only when the node limit stopped the proof."
    )
    nodes: int = Field(default=0, description="Search nodes visited.")
    primary_role: Role | None = Field(
        default=None,
        description="The role the set is for (chat, reasoning, or the first asked): it gets "
        "its best model first; the other roles share what it leaves.",
    )
    primary_trade: PrimaryTrade | None = Field(
        default=None,
        description="Set when the primary role stepped down (at most one size class) so "
        "that more requested roles are served: what it gave up, and for which roles.",
    )

    def pick(self, role: Role) -> RolePick | None:
        for pick in self.picks:
            if pick.role == role:
                return pick
        return None

    def about(self, model_id: str) -> tuple[str, ...]:
        """What the set says about one model: the roles it serves, why it was left out
        of others (a larger supporting model, a better primary), or nothing."""
        lines = [
            f"{p.model_id} {p.quantization} serves {p.role} (priority {p.role_priority}, "
            f"rank {p.rank} for the role)"
            for p in self.picks
            if p.model_id == model_id
        ]
        trade = self.primary_trade
        if trade is not None and model_id in (trade.instead_of, trade.model_id):
            lines.append(trade.reason)
        lines += [f"{d.role}: {d.reason}" for d in self.dropped if d.model_id == model_id]
        return tuple(lines)
