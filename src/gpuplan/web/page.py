"""The GPU settings page's data: one frozen model the template reads and nothing else.

Routes gather the documents (the same dicts the JSON routes return) and hand
them to ``settings_page``; the template never calls into the core, so what the
page says is exactly what the API says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.profiles import Explanation
from gpuplan.selection import JointSelection
from gpuplan.web.views import STRATEGY_CHOICES, GpuCard, StrategyChoice, gpu_cards

__all__ = [
    "AssignmentRow",
    "GpuOption",
    "LaunchLine",
    "SettingsPage",
    "assignment_rows",
    "gpu_options",
    "settings_page",
]

DEFAULT_REFRESH_MS = 5000
"""How often the page re-reads ``/api/system/gpus`` for the used/total bars."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuOption(_Frozen):
    """One choice of the per-service GPU dropdown."""

    value: str = Field(description="'0', '1', … or 'cpu' for no GPU.")
    label: str = Field(description="'GPU 0 · RTX A5500 (24.0 GiB)'.")


class AssignmentRow(_Frozen):
    """One service in the assignment table."""

    service: str
    model: str = Field(description="Model label, or '—' when the service declares only VRAM.")
    vram_estimate_mb: int | None = Field(description="What the service needs, MiB.")
    gpu_value: str = Field(description="The selected GpuOption value.")
    budget_mb: int | None = Field(default=None, description="VRAM budget, MiB.")
    adjusted: bool = Field(default=False, description="Budget auto-adjusted to a smaller GPU.")

    @property
    def budget_gib(self) -> str:
        if self.budget_mb is None:
            return ""
        return f"{self.budget_mb / 1024:.1f}"


class LaunchLine(_Frozen):
    """One service's launch command, as the copy button copies it."""

    service: str
    engine: str
    engine_version: str = ""
    command: str = Field(description="The argv joined for a POSIX shell, env first.")


class SettingsPage(_Frozen):
    """Everything ``settings_gpu.html`` shows."""

    what_if: str | None = Field(default=None, description="Declared hardware being explored.")
    what_if_error: str | None = None
    cards: tuple[GpuCard, ...] = ()
    hardware_source: str = ""
    no_gpu_reason: str = ""
    live_url: str | None = Field(default=None, description="Where the bars refresh from.")
    refresh_ms: int = DEFAULT_REFRESH_MS
    strategies: tuple[StrategyChoice, ...] = STRATEGY_CHOICES
    strategy: str = "vram_based"
    controls_enabled: bool = Field(description="There is a GPU to assign services to.")
    editable: bool = Field(description="Save and Apply act (this machine, config loaded).")
    config_etag: str | None = None
    token_required: bool = Field(
        default=False, description="The server listens beyond loopback: writes need its token."
    )
    config_document: dict[str, Any] | None = Field(
        default=None, description="GET /api/system/gpu-config as served: what is saved."
    )
    rows: tuple[AssignmentRow, ...] = ()
    gpu_options: tuple[GpuOption, ...] = ()
    no_services_reason: str = ""
    warnings: tuple[str, ...] = ()
    status_text: str = "not applied yet"
    status_state: str = Field(default="idle", description="idle, done or failed: the dot's colour.")
    launches: tuple[LaunchLine, ...] = ()
    launch_notes: tuple[str, ...] = Field(default=(), description="Services without a line.")
    explanation: Explanation | None = None
    profile_error: str = ""
    selection: JointSelection | None = None


def gpu_options(cards: Sequence[GpuCard]) -> tuple[GpuOption, ...]:
    """The dropdown's choices: every GPU (a service not placed shows 'Not placed' too)."""
    return (
        *(
            GpuOption(
                value=str(card.index), label=f"GPU {card.index} · {card.name} ({card.total_text})"
            )
            for card in cards
        ),
        GpuOption(value="cpu", label="CPU (no GPU)"),
    )


def _gpu_value(item: Mapping[str, Any]) -> str:
    indices = item.get("gpu_indices")
    if indices:
        return str(indices[0])
    index = item.get("gpu_index")
    return "cpu" if index is None else str(index)


def _budget_mb(item: Mapping[str, Any]) -> int | None:
    for key in ("vram_budget_override_mb", "vram_budget_mb"):
        if item.get(key) is not None:
            return int(item[key])
    if item.get("vram_budget_override") is not None:  # seed 004's PUT shape: GB
        return round(float(item["vram_budget_override"]) * 1024)
    return None


def _model_label(service: Mapping[str, Any]) -> str:
    if service.get("model"):
        return str(service["model"])
    models: Sequence[Any] = service.get("models") or []
    if len(models) == 1:
        return str(models[0])
    if models:
        return f"Model Zoo ({len(models)} models)"
    return "—"


def assignment_rows(
    services: Sequence[Mapping[str, Any]], assignments: Sequence[Mapping[str, Any]]
) -> tuple[AssignmentRow, ...]:
    """One row per service, in the services file's order, showing its assignment.

    ``services`` are ``Service`` dumps (name, model(s), vram_mb); ``assignments``
    are items of the config document, in seed 004's shape (``gpu_index``,
    ``vram_budget_override`` GB) or the store's (``gpu_indices``, ``vram_budget_mb``).
    A service with no assignment yet is shown on CPU, unassigned.
    """
    by_name = {str(item.get("service")): item for item in assignments}
    rows = []
    for service in services:
        name = str(service["name"])
        item = by_name.get(name, {})
        rows.append(
            AssignmentRow(
                service=name,
                model=_model_label(service),
                vram_estimate_mb=service.get("vram_mb"),
                gpu_value=_gpu_value(item) if item else "cpu",
                budget_mb=_budget_mb(item) if item else None,
                adjusted=bool(item.get("budget_adjusted")),
            )
        )
    return tuple(rows)


def settings_page(
    *,
    gpus_document: Mapping[str, Any] | None,
    hardware_source: str,
    hardware_error: str | None = None,
    what_if: str | None = None,
    what_if_error: str | None = None,
    explanation: Explanation | None = None,
    profile_error: str | None = None,
    selection: JointSelection | None = None,
    **rest: Any,
) -> SettingsPage:
    """The page for one host's documents; ``rest`` carries the assignment parts."""
    cards = gpu_cards(gpus_document or {})
    if hardware_error:
        reason = f"Hardware could not be read: {hardware_error}."
    elif hardware_source == "cpu":
        reason = "Detection found no NVIDIA or AMD GPU on this machine."
    elif what_if:
        reason = f"The declared hardware {what_if!r} has no GPU."
    else:
        reason = f"The server plans for {hardware_source} hardware without a GPU."
    has_gpus = bool(cards)
    return SettingsPage(
        what_if=what_if,
        what_if_error=what_if_error,
        cards=cards,
        hardware_source=hardware_source,
        no_gpu_reason=reason,
        live_url=None if what_if else "/api/system/gpus",
        controls_enabled=has_gpus,
        editable=has_gpus and not what_if and bool(rest.get("rows")),
        gpu_options=gpu_options(cards),
        explanation=explanation,
        profile_error=profile_error or "",
        selection=selection,
        **rest,
    )
