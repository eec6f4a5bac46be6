"""gpuplan: which AI models can these GPUs serve, where does each go, how is each launched.

The names below load on first use (PEP 562), so ``import gpuplan`` — which every
command does — costs nothing until a command needs the hardware model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpuplan._lazy import lazy_exports

if TYPE_CHECKING:
    from gpuplan.errors import GpuplanError
    from gpuplan.hardware import GPU, Host, MigDevice, load_host

__all__ = ["GPU", "GpuplanError", "Host", "MigDevice", "__version__", "load_host"]

__version__ = "0.1.0"

_HOME = {
    "GPU": "gpuplan.hardware",
    "GpuplanError": "gpuplan.errors",
    "Host": "gpuplan.hardware",
    "MigDevice": "gpuplan.hardware",
    "load_host": "gpuplan.hardware",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOME)
