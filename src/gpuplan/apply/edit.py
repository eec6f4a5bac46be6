"""A saved configuration from seed 004's PUT body: assignments in, config + warnings out.

With a services file the request's GPUs and budgets become pins on those
services and the chosen strategy places the rest, so its warnings and budget
auto-adjustment are the placement stage's (seed 004's texts). Without one the
request is taken as it stands, checked against the host: a GPU that is not there
is a warning, and a budget above the GPU is auto-adjusted down with seed 004's
warning ("ai-enrichment VRAM budget (6.8 GB) exceeds GPU 1 (4 GB). Auto-adjusted
to 3.5 GB.").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.apply.services import config_from_placement
from gpuplan.errors import InvalidConfigError
from gpuplan.hardware import Host
from gpuplan.placement.model import SERVICE_NAME_MAX, SERVICE_NAME_PATTERN, Service, Strategy
from gpuplan.store.model import GpuConfig, ServiceConfig

__all__ = ["RequestedAssignment", "config_from_request", "gb"]


_MAX_INDEX = 1 << 20
"""No host numbers its GPUs past this; larger is a typo (and overflows the store)."""


class RequestedAssignment(BaseModel):
    """One item of seed 004's PUT ``assignments``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(
        min_length=1,
        max_length=SERVICE_NAME_MAX,
        pattern=SERVICE_NAME_PATTERN,
        description="Compose service name.",
    )
    gpu_index: int | None = Field(
        default=None, ge=0, le=_MAX_INDEX, description="GPU; null = auto-assign."
    )
    gpu_indices: tuple[Annotated[int, Field(ge=0, le=_MAX_INDEX)], ...] | None = Field(
        default=None, description="Several GPUs (tensor parallel); wins over gpu_index."
    )
    vram_budget_override: float | None = Field(
        default=None, ge=0, le=1 << 20, description="Budget the service may use, GB (seed 004)."
    )
    enabled: bool = Field(default=True, description="Seed 004's enabled flag.")

    @property
    def indices(self) -> tuple[int, ...]:
        if self.gpu_indices is not None:
            return self.gpu_indices
        return () if self.gpu_index is None else (self.gpu_index,)

    @property
    def override_mb(self) -> int | None:
        if self.vram_budget_override is None:
            return None
        return round(self.vram_budget_override * 1024)


def gb(mib: int) -> str:
    """MiB as seed 004 writes GB in warnings: one decimal, none when whole (4094 → '4')."""
    value = round(mib / 1024, 1)
    return f"{value:g}"


def _direct(
    strategy: Strategy, items: Sequence[RequestedAssignment], host: Host | None
) -> tuple[GpuConfig, list[str]]:
    present = {gpu.index: gpu for gpu in host.gpus} if host else {}
    warnings: list[str] = []
    services: list[ServiceConfig] = []
    for item in items:
        budget = item.override_mb
        adjusted = False
        for index in item.indices:
            gpu = present.get(index)
            if host is None:
                continue
            if gpu is None:
                warnings.append(
                    f"{item.service} is assigned GPU {index}, which is not present "
                    f"(this host has {len(present)} GPU{'s' if len(present) != 1 else ''})"
                )
                continue
            usable = host.usable_vram_mb(gpu) // max(1, len(item.indices))
            if budget is not None and budget > usable:
                warnings.append(
                    f"{item.service} VRAM budget ({gb(budget)} GB) exceeds GPU {index} "
                    f"({gb(gpu.vram_total_mb or 0)} GB). Auto-adjusted to {gb(usable)} GB."
                )
                budget, adjusted = usable, True
        services.append(
            ServiceConfig(
                service=item.service,
                gpu_indices=item.indices,
                vram_budget_mb=budget or 0,
                vram_budget_override_mb=None if adjusted else item.override_mb,
                budget_adjusted=adjusted,
                reason="set through the API",
                enabled=item.enabled,
            )
        )
    return GpuConfig(strategy=strategy, services=tuple(services)), warnings


def config_from_request(
    strategy: Strategy,
    items: Sequence[RequestedAssignment],
    *,
    host: Host | None,
    services: Sequence[Service] | None = None,
) -> tuple[GpuConfig, list[str]]:
    """The configuration a PUT saves, and seed 004's non-blocking warnings."""
    names = [item.service for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidConfigError(
            f"service {', '.join(duplicates)} is assigned more than once",
            hint="send one assignment per service",
        )
    if services is None or host is None:
        return _direct(strategy, items, host)
    known = {s.name: s for s in services}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidConfigError(
            f"service {', '.join(repr(n) for n in unknown)} is not in the services file",
            hint="its services are " + ", ".join(known),
        )
    wanted = {item.service: item for item in items}
    pinned: list[Service] = []
    for service in services:
        item = wanted.get(service.name)
        if item is None:
            pinned.append(service)
            continue
        update: dict[str, object] = {"gpu": item.indices[0] if item.indices else None}
        if item.override_mb is not None:
            update["vram_budget_override_mb"] = item.override_mb
        pinned.append(service.model_copy(update=update))
    from gpuplan.placement import place

    placement = place(pinned, host, strategy=strategy)
    config = config_from_placement(placement, pinned)
    disabled = {item.service for item in items if not item.enabled}
    if disabled:
        config = config.model_copy(
            update={
                "services": tuple(
                    s.model_copy(update={"enabled": s.service not in disabled})
                    for s in config.services
                )
            }
        )
    return config, list(placement.warnings)
