"""Launch stage: how each placed service is started (engine argv/env, Compose, Kubernetes)."""

from gpuplan.launch.engines import ENGINE_VERSIONS, render
from gpuplan.launch.model import GpuSlot, LaunchConfig, LaunchRequest

__all__ = ["ENGINE_VERSIONS", "GpuSlot", "LaunchConfig", "LaunchRequest", "render"]
