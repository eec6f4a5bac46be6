"""What the GPU settings page shows, built from the JSON the API serves.

The page is rendered on the server from the very documents its JSON routes
return (``/api/system/gpus``, ``/v1/config/profile``, …) and then kept live
by a little plain JS that fetches those same routes. Both sides must word and
round numbers alike, so the formatting rules live here and ``settings.js``
mirrors them (``gib`` ↔ ``fmtGiB``); a browser test holds them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "STRATEGY_CHOICES",
    "GpuCard",
    "StrategyChoice",
    "gib",
    "gpu_cards",
    "vram_estimate",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StrategyChoice(_Frozen):
    """One of seed 004's five assignment strategies, as the selector offers it."""

    value: str = Field(description="The strategy's API name ('vram_based').")
    label: str = Field(description="Short name shown in the selector.")
    description: str = Field(description="Seed 004's one-line description.")
    recommended: bool = Field(default=False, description="Seed 004 marks it (Recommended).")


STRATEGY_CHOICES: tuple[StrategyChoice, ...] = (
    StrategyChoice(value="manual", label="Manual", description="You control each assignment"),
    StrategyChoice(
        value="vram_based",
        label="VRAM-based",
        description="Largest models on largest GPU",
        recommended=True,
    ),
    StrategyChoice(
        value="latency_optimized",
        label="Latency-optimized",
        description="Critical path models on fastest GPU",
    ),
    StrategyChoice(
        value="isolation_first", label="Isolation-first", description="LLM gets dedicated GPU"
    ),
    StrategyChoice(value="balanced", label="Balanced", description="Distribute VRAM evenly"),
)
"""Seed 004's strategy table, in its order, with its words."""


def gib(mib: int | float | None) -> str:
    """MiB as GiB with one decimal ('24.0'), or '?' when unknown; the bar text uses it."""
    if mib is None:
        return "?"
    return f"{mib / 1024:.1f}"


def vram_estimate(mib: int | None) -> str:
    """Seed 004's 'VRAM Est.' column: '~21.7 GiB', or '~650 MiB' below one GiB."""
    if mib is None:
        return "unknown"
    if mib < 1024:
        return f"~{mib} MiB"
    return f"~{mib / 1024:.1f} GiB"


class GpuCard(_Frozen):
    """One detected GPU card: seed 004's 'GPU 0: RTX A5500  24 GB  ████░░ 19.3/24 GB used'."""

    index: int
    name: str
    total_mb: int | None
    used_mb: int | None
    compute_capability: str | None = None

    @property
    def percent_used(self) -> float:
        """Bar fill, 0–100; 0 when either figure is unknown."""
        if not self.total_mb or self.used_mb is None:
            return 0.0
        return round(min(100.0, max(0.0, 100.0 * self.used_mb / self.total_mb)), 1)

    @property
    def total_text(self) -> str:
        return f"{gib(self.total_mb)} GiB"

    @property
    def used_text(self) -> str:
        """'19.3/24.0 GiB used'; 'usage unknown' when the source reports no usage."""
        if self.used_mb is None:
            return f"usage unknown of {gib(self.total_mb)} GiB"
        return f"{gib(self.used_mb)}/{gib(self.total_mb)} GiB used"


def gpu_cards(document: Mapping[str, Any]) -> tuple[GpuCard, ...]:
    """Cards from a ``GET /api/system/gpus`` document (seed 004's shape)."""
    gpus: Sequence[Mapping[str, Any]] = document.get("gpus", ())
    return tuple(
        GpuCard(
            index=int(gpu["index"]),
            name=str(gpu["name"]),
            total_mb=gpu.get("vram_total_mb"),
            used_mb=gpu.get("vram_used_mb"),
            compute_capability=gpu.get("compute_capability"),
        )
        for gpu in gpus
    )
