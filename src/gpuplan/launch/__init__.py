"""Launch stage: how each placed service is started (engine argv/env, Compose, Kubernetes)."""

from gpuplan.launch.model import GpuSlot, LaunchConfig, LaunchRequest

__all__ = ["GpuSlot", "LaunchConfig", "LaunchRequest"]
