"""The ``GET /v1/config/profile`` document (seed 001), built from a resolution.

A pure function of (resolution, host) so that ``gpuplan profile show --json``
and the HTTP route print the same thing. Seed 001's keys come first and keep
their names (``active_profile``, ``detected_gpus``, ``total_usable_vram_mb``,
``available_profiles``, ``manual_override``); seed 000's response called the GPU
memory fields ``vram_total_mb``/``vram_free_mb`` and the profile ``profile``,
so those are present too. gpuplan adds how the profile was chosen and the
provenance of every value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.hardware.model import GPU, Host
from gpuplan.profiles.auto import AutoDecision
from gpuplan.profiles.catalog import Catalog
from gpuplan.profiles.layers import merged_profile
from gpuplan.profiles.provenance import FieldSource
from gpuplan.profiles.resolve import Resolution, Selection


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DetectedGPU(_Doc):
    index: int
    name: str
    total_vram_mb: int | None = Field(description="Total memory, MiB (seed 001's name).")
    free_vram_mb: int | None = Field(description="Free memory, MiB (seed 001's name).")
    vram_total_mb: int | None = Field(description="Same as total_vram_mb (seed 000's name).")
    vram_free_mb: int | None = Field(description="Same as free_vram_mb (seed 000's name).")
    compute_capability: list[int] | None = Field(description="[major, minor], NVIDIA only.")
    uuid: str | None


class ActiveProfile(_Doc):
    name: str
    description: str
    max_vram_mb: int | None
    max_concurrent_models: int
    preferred_quantizations: list[str]
    strategy: str
    model_selection_bias: str
    autostart_timeout_seconds: int
    grace_period_seconds: int
    gpu_count: int | None
    tensor_parallel_threshold_mb: int | None
    headroom_mb: int | None
    category: str | None
    engine: dict[str, Any] = Field(description="Engine settings that are set, unknown keys too.")


class ProfileDocument(_Doc):
    """Seed 001's /v1/config/profile response plus selection and provenance."""

    active_profile: ActiveProfile
    detected_gpus: list[DetectedGPU]
    total_usable_vram_mb: int = Field(description="Sum over GPUs of total − headroom, MiB.")
    available_profiles: list[str]
    manual_override: str | None = Field(description="Name a user forced; null when automatic.")
    profile: str = Field(description="Active profile name (seed 000's response key).")
    selection: Selection
    auto_selection: AutoDecision | None
    provenance: dict[str, FieldSource]
    warnings: list[str]


def detected_gpu(gpu: GPU) -> DetectedGPU:
    cc = gpu.compute_capability_tuple
    return DetectedGPU(
        index=gpu.index,
        name=gpu.name,
        total_vram_mb=gpu.vram_total_mb,
        free_vram_mb=gpu.vram_free_mb,
        vram_total_mb=gpu.vram_total_mb,
        vram_free_mb=gpu.vram_free_mb,
        compute_capability=list(cc) if cc is not None else None,
        uuid=gpu.uuid,
    )


def profile_document(resolution: Resolution, host: Host) -> ProfileDocument:
    profile = resolution.profile
    return ProfileDocument(
        active_profile=ActiveProfile(
            name=resolution.name,
            description=profile.description,
            max_vram_mb=profile.max_vram_mb,
            max_concurrent_models=profile.max_concurrent_models,
            preferred_quantizations=list(profile.preferred_quantizations),
            strategy=profile.strategy,
            model_selection_bias=profile.model_selection_bias,
            autostart_timeout_seconds=profile.autostart_timeout_seconds,
            grace_period_seconds=profile.grace_period_seconds,
            gpu_count=profile.gpu_count,
            tensor_parallel_threshold_mb=profile.tensor_parallel_threshold_mb,
            headroom_mb=profile.headroom_mb,
            category=profile.category,
            engine=profile.engine.model_dump(mode="json", exclude_none=True),
        ),
        detected_gpus=[detected_gpu(gpu) for gpu in host.gpus],
        total_usable_vram_mb=host.total_usable_vram_mb,
        available_profiles=list(resolution.available_profiles),
        manual_override=resolution.manual_override,
        profile=resolution.name,
        selection=resolution.selection,
        auto_selection=resolution.auto,
        provenance=resolution.provenance,
        warnings=list(resolution.warnings),
    )


class ProfileSource(_Doc):
    kind: str = Field(description="builtin, user, project, pyproject, path, or rule (derived).")
    file: str | None


class ProfileSummary(_Doc):
    """One line of ``gpuplan profile list``."""

    name: str
    active: bool
    sources: list[ProfileSource]
    description: str
    max_vram_mb: int | None
    max_concurrent_models: int | None
    strategy: str | None
    engine: dict[str, Any]
    broken: bool
    issues: list[str]


def profile_listing(resolution: Resolution, catalog: Catalog) -> list[ProfileSummary]:
    """Every catalog profile, plus the active one when it was derived (dynamic)."""
    rows = []
    for name in catalog.names():
        layers = catalog.layers(name)
        profile = merged_profile(name, catalog)
        issues = [str(i) for e in layers for i in e.issues if i.severity == "error"]
        rows.append(
            ProfileSummary(
                name=name,
                active=name == resolution.name,
                sources=[ProfileSource(kind=e.kind, file=e.file) for e in layers],
                description=profile.description if profile else "",
                max_vram_mb=profile.max_vram_mb if profile else None,
                max_concurrent_models=profile.max_concurrent_models if profile else None,
                strategy=profile.strategy if profile else None,
                engine=profile.engine.model_dump(mode="json", exclude_none=True) if profile else {},
                broken=bool(issues),
                issues=issues,
            )
        )
    if resolution.name not in catalog:
        active = resolution.profile
        rows.append(
            ProfileSummary(
                name=resolution.name,
                active=True,
                sources=[ProfileSource(kind="rule", file=None)],
                description=active.description,
                max_vram_mb=active.max_vram_mb,
                max_concurrent_models=active.max_concurrent_models,
                strategy=active.strategy,
                engine=active.engine.model_dump(mode="json", exclude_none=True),
                broken=False,
                issues=[],
            )
        )
    return rows
