"""From a services file to a configuration: the seam to the placement stage.

``config_from_services`` is the one place apply calls placement (the services
loader and a strategy); ``config_from_placement`` is the pure conversion that
keeps each service's user-set budget (seed 004's ``vram_budget_override``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gpuplan.hardware import Host
from gpuplan.placement.model import Placement, Service, Strategy
from gpuplan.store.model import GpuConfig, ServiceConfig

__all__ = ["config_from_placement", "config_from_services"]


def config_from_placement(placement: Placement, services: Sequence[Service]) -> GpuConfig:
    overrides = {s.name: s.vram_budget_override_mb for s in services}
    return GpuConfig(
        strategy=placement.strategy,
        services=tuple(
            ServiceConfig.from_assignment(a, override_mb=overrides.get(a.service))
            for a in placement.assignments
        ),
    )


def config_from_services(
    path: Path, host: Host, strategy: Strategy, *, concurrency: int = 1
) -> tuple[GpuConfig, tuple[str, ...]]:
    """Place the services of ``path`` on ``host``, each model costed for ``concurrency``
    sequences at once; the configuration and its warnings."""
    from gpuplan.placement import place
    from gpuplan.placement.services import load_services

    services = load_services(path, concurrency=concurrency)
    placement = place(services, host, strategy=strategy)
    return config_from_placement(placement, services), placement.warnings
