"""Launch stage: how each placed service is started (engine argv/env, Compose, Kubernetes).

``render(request)`` turns one placed service into its launch line; ``kubernetes``
writes manifests; ``runtime`` is the stdlib-only helper a service imports. One
public face, loaded lazily (PEP 562), so ``import gpuplan.launch.runtime`` inside a
service image pulls in neither pydantic nor the rest of gpuplan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpuplan._lazy import lazy_exports

if TYPE_CHECKING:
    from gpuplan.launch.engines import ENGINE_VERSIONS, render
    from gpuplan.launch.kubernetes import manifests, manifests_yaml
    from gpuplan.launch.model import GpuSlot, LaunchConfig, LaunchRequest
    from gpuplan.launch.runtime import get_target_gpu

__all__ = [
    "ENGINE_VERSIONS",
    "GpuSlot",
    "LaunchConfig",
    "LaunchRequest",
    "get_target_gpu",
    "manifests",
    "manifests_yaml",
    "render",
]

_HOME: dict[str, str] = {
    "ENGINE_VERSIONS": "gpuplan.launch.engines",
    "render": "gpuplan.launch.engines",
    "manifests": "gpuplan.launch.kubernetes",
    "manifests_yaml": "gpuplan.launch.kubernetes",
    "GpuSlot": "gpuplan.launch.model",
    "LaunchConfig": "gpuplan.launch.model",
    "LaunchRequest": "gpuplan.launch.model",
    "get_target_gpu": "gpuplan.launch.runtime",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME)
