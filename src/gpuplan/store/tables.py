"""The database tables: seed 004's three, plus the configuration's revision and history.

``gpu_configurations``, ``gpu_devices`` and ``system_settings`` are seed 004's
tables with its column names and types (UUID keys, ``TIMESTAMPTZ``, ``JSONB`` on
PostgreSQL, JSON text on SQLite). gpuplan adds the columns a plan needs beyond
the seed's one GPU per service (``gpu_indices`` for tensor parallel, the MIG
slice, the full budget in MiB, the reason) with defaults, so the seed's own rows
stay valid.

``gpu_config_state`` is one row holding the revision of the saved configuration:
every save is a compare-and-swap on it, which is the ETag of the HTTP API and
what keeps two concurrent writers from losing each other's update.

``gpu_config_history`` keeps every saved and applied configuration in full (who,
what, when, the assignment set, both rendered files with their SHA-256, the
outcome and per-service progress) so any earlier state can be restored; an apply
in progress is its own journal.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text, Uuid, false, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "GpuConfigHistory",
    "GpuConfigState",
    "GpuConfiguration",
    "GpuDevice",
    "SystemSetting",
]

JsonB = JSON().with_variant(JSONB(), "postgresql")
"""JSONB on PostgreSQL (seed 004), JSON text elsewhere."""


class Base(DeclarativeBase):
    pass


class GpuConfiguration(Base):
    """One service's saved GPU assignment (seed 004)."""

    __tablename__ = "gpu_configurations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    service_name: Mapped[str] = mapped_column(String(64), unique=True)
    gpu_index: Mapped[int | None] = mapped_column(Integer)
    strategy: Mapped[str | None] = mapped_column(String(32), default="manual")
    vram_budget_override: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool | None] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # gpuplan's additions
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    gpu_indices: Mapped[list[int]] = mapped_column(JsonB, default=list)
    mig_device: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(256))
    vram_budget_mb: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    budget_adjusted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")


class GpuDevice(Base):
    """One GPU as last detected (seed 004)."""

    __tablename__ = "gpu_devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    gpu_index: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str | None] = mapped_column(String(128))
    vram_total_mb: Mapped[int | None] = mapped_column(Integer)
    vram_available_mb: Mapped[int | None] = mapped_column(Integer)
    compute_capability: Mapped[str | None] = mapped_column(String(16))
    last_seen_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # gpuplan's addition: AMD GPUs need the ROCm mapping in the override
    vendor: Mapped[str | None] = mapped_column(String(16))


class SystemSetting(Base):
    """Key → JSON value (seed 004: ``gpu_assignment_strategy`` → ``{"default": …}``)."""

    __tablename__ = "system_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JsonB)
    updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class GpuConfigState(Base):
    """The saved configuration's revision (one row, id 1): the ETag and the CAS word."""

    __tablename__ = "gpu_config_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class GpuConfigHistory(Base):
    """One saved, applied or rolled-back configuration, complete enough to restore."""

    __tablename__ = "gpu_config_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    """'save', 'apply' or 'rollback'."""
    outcome: Mapped[str] = mapped_column(String(16))
    """'saved', 'in_progress', 'applied', 'failed', 'interrupted'."""
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(32))
    config: Mapped[Any] = mapped_column(JsonB)
    """The full assignment set (``GpuConfig`` as JSON)."""
    override_text: Mapped[str | None] = mapped_column(Text)
    override_sha256: Mapped[str | None] = mapped_column(String(64))
    assignments_text: Mapped[str | None] = mapped_column(Text)
    assignments_sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    warnings: Mapped[Any] = mapped_column(JsonB, default=list)
    # an apply's journal: what it replaced, where, and how far it got
    previous_config: Mapped[Any | None] = mapped_column(JsonB)
    previous_override_text: Mapped[str | None] = mapped_column(Text)
    previous_revision: Mapped[int | None] = mapped_column(Integer)
    compose_file: Mapped[str | None] = mapped_column(Text)
    override_file: Mapped[str | None] = mapped_column(Text)
    mirror_file: Mapped[str | None] = mapped_column(Text)
    runtime: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[Any] = mapped_column(JsonB, default=dict)
    """Service → 'pending' | 'recreating' | 'done' | 'failed' | 'reverted'."""
