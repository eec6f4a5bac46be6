"""What seed 004's ``/api/system/gpu-config`` routes answer, as response models.

The field names and nesting are seed 004's (``gpu_index``, ``vram_budget_override``
in GB) plus what history and rollback add; they are a contract, so these models
describe the JSON the routes already produced and change none of it. Times are
ISO 8601 strings as the store writes them, not re-parsed datetimes, so their
spelling (``+00:00``) stays what clients have seen.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.placement.model import GpuFill, Strategy
from gpuplan.store.model import GpuConfig, HistoryKind, Outcome, Progress

__all__ = [
    "ApplyStarted",
    "ConfigAssignment",
    "DetectAnswer",
    "DeviceRow",
    "GpuConfigAnswer",
    "HistoryAnswer",
    "HistoryAssignment",
    "HistoryDetail",
    "HistoryRow",
    "PreviewAnswer",
    "PreviewAssignment",
    "PreviewChange",
    "PreviewDiff",
    "SaveAnswer",
    "ScannedGpu",
    "ServiceStatus",
    "StatusAnswer",
]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigAssignment(_Answer):
    """One service in ``GET /api/system/gpu-config`` (seed 004's assignment, and more)."""

    service: str = Field(description="Compose service name.")
    gpu_index: int | None = Field(description="First GPU (seed 004); null = CPU or unassigned.")
    gpu_indices: list[int] = Field(description="Every GPU; several = tensor parallel.")
    vram_budget_override: float | None = Field(
        description="Budget the user set, GB (seed 004); null = none."
    )
    vram_budget_mb: int = Field(description="The service's whole budget, MiB.")
    budget_adjusted: bool = Field(description="Budget auto-adjusted down to fit a smaller GPU.")
    model: str | None = Field(description="Model id or label, when known.")
    reason: str = Field(description="Why the service is on these GPUs.")
    enabled: bool = Field(description="Seed 004's enabled flag.")


class GpuConfigAnswer(_Answer):
    """``GET /api/system/gpu-config``: the saved assignments and the strategies (seed 004)."""

    strategy: Strategy = Field(description="Seed 004 strategy of the saved configuration.")
    assignments: list[ConfigAssignment] = Field(description="One per service, in order.")
    available_strategies: list[Strategy] = Field(description="Every strategy a PUT accepts.")
    revision: int = Field(description="Saved revision (the ETag); 0 = nothing saved yet.")
    updated_at: str | None = Field(description="When it was last saved, ISO 8601.")
    updated_by: str = Field(description="Who saved it ('api:127.0.0.1', 'cli:alice@host').")


class SaveAnswer(_Answer):
    """``PUT /api/system/gpu-config``: seed 004's ``success`` and ``warnings``, and more."""

    success: bool = Field(description="Saved (always true: failures answer an error).")
    warnings: list[str] = Field(description="Non-blocking warnings (seed 004's texts).")
    revision: int = Field(description="The new revision (also the ETag).")
    history_id: int = Field(description="History entry recording this save.")


class ApplyStarted(_Answer):
    """``POST …/apply`` and ``…/rollback``: what is being recreated; poll ``status``."""

    success: bool = Field(description="The apply started (failures answer an error).")
    restarted: list[str] = Field(description="Services being recreated.")
    unchanged: list[str] = Field(description="Services left running as they were.")
    warnings: list[str] = Field(description="Non-blocking warnings.")
    history_id: int | None = Field(description="History entry of this apply.")
    changes: list[str] = Field(description="One line per change.")
    commands: list[list[str]] = Field(description="The exact argument lists being run.")
    runtime: str = Field(description="The Compose command used.")
    override_file: str = Field(description="The override file written.")
    dry_run: bool = Field(description="Nothing was touched (false here).")
    status: str = Field(description="Where to poll the progress: the status route's path.")


class HistoryAssignment(_Answer):
    """One service of a history row: where it was and its budget."""

    service: str = Field(description="Compose service name.")
    gpu_indices: list[int] = Field(description="GPU indices; empty = CPU.")
    vram_budget_mb: int = Field(description="The service's whole budget, MiB.")


class HistoryRow(_Answer):
    """One saved, applied or rolled-back configuration, without its files."""

    id: int = Field(description="History id (``GET …/history/{id}``, rollback's history_id).")
    kind: HistoryKind = Field(description="What made the entry.")
    outcome: Outcome = Field(description="What happened.")
    actor: str = Field(description="Who acted ('api:127.0.0.1', 'cli:alice@host').")
    created_at: str = Field(description="When it started, ISO 8601.")
    finished_at: str | None = Field(description="When it ended, ISO 8601; null = not yet.")
    revision: int = Field(description="Saved revision it holds.")
    strategy: str = Field(description="Seed 004 strategy of the configuration.")
    assignments: list[HistoryAssignment] = Field(description="One per service.")
    override_sha256: str | None = Field(description="SHA-256 of the override file written.")
    assignments_sha256: str | None = Field(description="SHA-256 of gpu-assignments.yml.")
    detail: str = Field(description="Why it failed or what was recovered; '' = nothing.")
    warnings: list[str] = Field(description="Non-blocking warnings.")
    progress: dict[str, Progress] = Field(description="Service → its recreate progress.")


class HistoryAnswer(_Answer):
    """``GET …/history``: the newest entries first."""

    history: list[HistoryRow] = Field(description="Newest first, at most ``limit``.")


class HistoryDetail(_Answer):
    """``GET …/history/{id}``: one entry with its rendered files and the state before it."""

    id: int = Field(description="History id.")
    kind: HistoryKind = Field(description="What made the entry.")
    outcome: Outcome = Field(description="What happened.")
    actor: str = Field(description="Who acted.")
    created_at: str = Field(description="When it started, ISO 8601.")
    finished_at: str | None = Field(description="When it ended, ISO 8601; null = not yet.")
    revision: int = Field(description="Saved revision it holds.")
    strategy: str = Field(description="Seed 004 strategy of the configuration.")
    config: GpuConfig = Field(description="The whole configuration.")
    override_text: str | None = Field(description="The Compose override file written.")
    override_sha256: str | None = Field(description="SHA-256 of override_text.")
    assignments_text: str | None = Field(description="The gpu-assignments.yml written.")
    assignments_sha256: str | None = Field(description="SHA-256 of assignments_text.")
    detail: str = Field(description="Why it failed or what was recovered; '' = nothing.")
    warnings: list[str] = Field(description="Non-blocking warnings.")
    previous_config: GpuConfig | None = Field(description="What an apply replaced.")
    previous_override_text: str | None = Field(description="The override file it replaced.")
    previous_revision: int | None = Field(description="Revision an apply replaced.")
    compose_file: str | None = Field(description="The Compose file applied to.")
    override_file: str | None = Field(description="Where the override file was written.")
    mirror_file: str | None = Field(description="Where gpu-assignments.yml was written.")
    runtime: str | None = Field(description="The Compose command used.")
    progress: dict[str, Progress] = Field(description="Service → its recreate progress.")


class ServiceStatus(_Answer):
    """One saved service in ``GET …/status``."""

    service: str = Field(description="Compose service name.")
    gpu_indices: list[int] = Field(description="Saved GPU indices; empty = CPU.")
    progress: Progress | None = Field(description="Its progress in the latest apply, if any.")
    container: str | None = Field(description="Container state the runtime reports, if known.")


class StatusAnswer(_Answer):
    """``GET …/status``: the latest apply's progress and container health (seed 004)."""

    state: str = Field(
        description="'applying', 'interrupted' (awaits recovery), 'never_applied', or the "
        "latest apply's outcome ('applied', 'failed', …)."
    )
    saved_revision: int = Field(description="Revision of the saved configuration.")
    applied_history_id: int | None = Field(description="History id of the last applied state.")
    in_sync: bool = Field(description="The applied configuration is the saved one.")
    pending_recovery: list[int] = Field(
        description="History ids of applies a dead process left unfinished."
    )
    last_apply: HistoryRow | None = Field(description="The latest apply or rollback.")
    services: list[ServiceStatus] = Field(description="One per saved service.")
    containers_error: str | None = Field(description="Why container states are unknown.")
    recovered_at_start: list[str] = Field(description="What start-up recovery did, one line each.")


class ScannedGpu(_Answer):
    """One GPU this scan found, in seed 004's ``/api/system/gpus`` item shape.

    Not ``SystemGpu``: that one may add ``utilization_percent``, which detect never sent.
    """

    index: int = Field(description="Host GPU index.")
    name: str = Field(description="Product name.")
    vram_total_mb: int | None = Field(description="Total memory, MiB; null when unknown.")
    vram_used_mb: int | None = Field(description="Memory in use, MiB; null when declared.")
    compute_capability: str | None = Field(description="CUDA compute capability, e.g. '8.6'.")


class DeviceRow(_Answer):
    """A row of seed 004's ``gpu_devices`` table, and whether the GPU is here now."""

    gpu_index: int = Field(description="Host GPU index.")
    name: str | None = Field(description="Product name.")
    vram_total_mb: int | None = Field(description="Total memory, MiB.")
    vram_available_mb: int | None = Field(description="Memory free when last seen, MiB.")
    compute_capability: str | None = Field(description="CUDA compute capability.")
    vendor: str | None = Field(description="GPU vendor.")
    last_seen_at: str | None = Field(description="When it was last detected, ISO 8601.")
    present: bool = Field(description="Detected by this scan (false = seen before only).")


class DetectAnswer(_Answer):
    """``POST …/detect``: the GPUs found now and every device the table knows."""

    gpus: list[ScannedGpu] = Field(description="GPUs detected by this scan.")
    devices: list[DeviceRow] = Field(description="Every row of gpu_devices.")


class PreviewAssignment(_Answer):
    """One service as the previewed strategy would place it."""

    service: str = Field(description="Compose service name.")
    gpu_index: int | None = Field(description="First GPU (seed 004); null = CPU.")
    gpu_indices: list[int] = Field(description="Every GPU; several = tensor parallel.")
    vram_budget_mb: int = Field(description="The service's whole budget, MiB.")
    vram_budget: str = Field(description="The same budget in GB as seed 004 writes it ('3.5').")
    budget_adjusted: bool = Field(description="Budget auto-adjusted down to fit a smaller GPU.")
    reason: str = Field(description="Why the strategy put it there.")


class PreviewChange(_Answer):
    """A service the preview would move."""

    service: str = Field(description="Compose service name.")
    description: str = Field(description="What changes, in words.")


class PreviewDiff(_Answer):
    """The preview against the saved configuration."""

    changed: list[PreviewChange] = Field(description="Services that would change.")
    unchanged: list[str] = Field(description="Services that would stay.")


class PreviewAnswer(_Answer):
    """``GET …/preview``: the auto-assignment for a strategy and its diff to the saved one."""

    strategy: Strategy = Field(description="The strategy previewed.")
    assignments: list[PreviewAssignment] = Field(description="One per service.")
    warnings: list[str] = Field(description="Non-blocking warnings (seed 004's texts).")
    gpus: list[GpuFill] = Field(description="Every GPU after placement.")
    diff: PreviewDiff = Field(description="What applying it would change.")
    current_revision: int = Field(description="Revision the diff is against.")
