"""The apply stage's data: what changes, the exact commands, and what happened."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.store.model import ServiceConfig

__all__ = ["ApplyResult", "ConfigDiff", "RuntimeName", "ServiceChange"]

RuntimeName = Literal["docker", "podman"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _where(service: ServiceConfig | None) -> str:
    if service is None or not service.enabled:
        return "not configured"
    if not service.gpu_indices:
        return "CPU"
    gpus = ", ".join(str(i) for i in service.gpu_indices)
    where = f"GPU {gpus}" if len(service.gpu_indices) == 1 else f"GPUs {gpus}"
    if service.mig_device is not None:
        where += f" (MIG {service.mig_device})"
    if service.budget_adjusted or service.vram_budget_override_mb is not None:
        where += f", budget {service.vram_budget_mb} MiB"
    return where


class ServiceChange(_Frozen):
    """One service whose container must be recreated, and from where to where."""

    service: str = Field(description="Compose service name.")
    before: ServiceConfig | None = Field(description="Its applied assignment; None = never.")
    after: ServiceConfig | None = Field(description="Its new assignment; None = removed.")

    def describe(self) -> str:
        return f"{self.service}: {_where(self.before)} → {_where(self.after)}"


class ConfigDiff(_Frozen):
    """The applied configuration against a new one, service by service."""

    changed: tuple[ServiceChange, ...] = Field(default=(), description="Must be recreated.")
    unchanged: tuple[str, ...] = Field(default=(), description="Keep running as they are.")

    @property
    def changed_services(self) -> tuple[str, ...]:
        return tuple(change.service for change in self.changed)


class ApplyResult(_Frozen):
    """What ``gpuplan apply --json`` prints and ``POST …/apply`` reports."""

    restarted: tuple[str, ...] = Field(description="Services recreated (or to be, dry run).")
    unchanged: tuple[str, ...] = Field(description="Services left running as they were.")
    warnings: tuple[str, ...] = Field(default=(), description="Non-blocking warnings.")
    history_id: int | None = Field(description="History entry of this apply; None = dry run.")
    changes: tuple[str, ...] = Field(default=(), description="One line per change.")
    commands: tuple[tuple[str, ...], ...] = Field(
        default=(), description="The exact argument lists run (or to run, dry run)."
    )
    runtime: str = Field(default="", description="The Compose command used.")
    override_file: str = Field(default="", description="The override file written.")
    dry_run: bool = Field(default=False, description="Nothing was touched.")
