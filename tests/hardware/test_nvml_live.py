"""Live GPU usage for /api/system/gpus: NVML when it is there, nothing when it is not."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from gpuplan.hardware.nvml import live_usage


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


class LiveNVML:
    NVMLError = NVMLError

    def __init__(self, used_mib: list[int], util: list[int | None], *, fail_init: bool = False):
        self.used, self.util, self.fail_init = used_mib, util, fail_init
        self.shutdown = False

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise NVMLError_LibraryNotFound()

    def nvmlShutdown(self) -> None:
        self.shutdown = True

    def nvmlDeviceGetCount(self) -> int:
        return len(self.used)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=self.used[handle] * 1024 * 1024)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        if self.util[handle] is None:
            raise NVMLError("not supported")
        return SimpleNamespace(gpu=self.util[handle], memory=0)


def test_live_usage_reads_memory_and_utilisation() -> None:
    lib = LiveNVML([19304, 329], [87, None])
    assert live_usage(lib) == {0: (19304, 87), 1: (329, None)}
    assert lib.shutdown


@pytest.mark.parametrize("lib", [LiveNVML([], [], fail_init=True)])
def test_no_driver_means_no_live_data(lib: LiveNVML) -> None:
    assert live_usage(lib) == {}


def test_on_this_machine_it_never_raises() -> None:
    assert isinstance(live_usage(), dict)
