"""gpuplan: which AI models can these GPUs serve, where does each go, how is each launched."""

from __future__ import annotations

from gpuplan.errors import GpuplanError
from gpuplan.hardware import GPU, Host, MigDevice, load_host

__all__ = ["GPU", "GpuplanError", "Host", "MigDevice", "__version__", "load_host"]

__version__ = "0.1.0"
