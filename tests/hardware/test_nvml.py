"""NVML through a fake pynvml, per driver situation (gpustat's habit).

The fake follows nvidia-ml-py's API names and return shapes; the figures are
those of the recorded H100 MIG machine (nvidia-smi-csv_h100-80gb-hbm3-mig_1.txt,
nvidia-smi-L_h100-80gb-hbm3-mig.txt) and an RTX 4090 (nvidia-smi-xml_rtx4090.xml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from gpuplan.hardware import nvml

MIB = 1024 * 1024


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_GpuIsLost(NVMLError):
    pass


class NVMLError_NotFound(NVMLError):
    pass


@dataclass
class FakeDevice:
    name: str
    total_mib: int
    used_mib: int
    cc: tuple[int, int] | None = None
    mig: list[FakeDevice] = field(default_factory=list)
    mig_capable: bool = True
    lost: bool = False
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"


class FakeNVML:
    NVMLError = NVMLError
    NVML_DEVICE_MIG_ENABLE = 1

    def __init__(self, devices: list[FakeDevice], *, init_error: type[Exception] | None = None):
        self.devices = devices
        self.init_error = init_error
        self.shutdown_called = False

    def nvmlInit(self) -> None:
        if self.init_error:
            raise self.init_error()

    def nvmlShutdown(self) -> None:
        self.shutdown_called = True

    def nvmlSystemGetDriverVersion(self) -> str:
        return "590.48.01"

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return 13010

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeDevice:
        device = self.devices[index]
        if device.lost:
            raise NVMLError_GpuIsLost()
        return device

    def nvmlDeviceGetName(self, d: FakeDevice) -> bytes:
        return d.name.encode()

    def nvmlDeviceGetUUID(self, d: FakeDevice) -> str:
        return d.uuid

    def nvmlDeviceGetMemoryInfo(self, d: FakeDevice) -> Any:
        return SimpleNamespace(
            total=d.total_mib * MIB, used=d.used_mib * MIB, free=(d.total_mib - d.used_mib) * MIB
        )

    def nvmlDeviceGetCudaComputeCapability(self, d: FakeDevice) -> tuple[int, int]:
        if d.cc is None:
            raise NVMLError_NotSupported()
        return d.cc

    def nvmlDeviceGetPciInfo(self, d: FakeDevice) -> Any:
        return SimpleNamespace(busId=b"00000000:01:00.0")

    def nvmlDeviceGetMigMode(self, d: FakeDevice) -> tuple[int, int]:
        if not d.mig_capable:
            raise NVMLError_NotSupported()
        return (1, 1) if d.mig else (0, 0)

    def nvmlDeviceGetMaxMigDeviceCount(self, d: FakeDevice) -> int:
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, d: FakeDevice, i: int) -> FakeDevice:
        if i >= len(d.mig):
            raise NVMLError_NotFound()
        return d.mig[i]

    def nvmlDeviceGetGpuInstanceId(self, d: FakeDevice) -> int:
        return 7 + len(d.name) % 3

    def nvmlDeviceGetComputeInstanceId(self, d: FakeDevice) -> int:
        return 0


H100 = "NVIDIA H100 80GB HBM3"


def h100_with_mig() -> FakeDevice:
    slices = [
        FakeDevice(f"{H100} MIG 3g.40gb", 40192, 0, uuid="MIG-a"),
        FakeDevice(f"{H100} MIG 2g.20gb", 20096, 0, uuid="MIG-b"),
        FakeDevice(f"{H100} MIG 1g.10gb", 9984, 0, uuid="MIG-c"),
        FakeDevice(f"{H100} MIG 1g.10gb", 9984, 0, uuid="MIG-d"),
    ]
    return FakeDevice(H100, 81559, 0, cc=(9, 0), mig=slices)


def test_nvml_reads_gpus_memory_cc_and_mig_instances() -> None:
    fake = FakeNVML([h100_with_mig(), FakeDevice("NVIDIA GeForce RTX 4090", 24564, 474, (8, 9))])
    inventory = nvml.query(fake)
    assert fake.shutdown_called
    assert inventory.driver_version == "590.48.01"
    assert inventory.cuda_version == "13.1"
    h100, rtx = inventory.gpus
    assert (h100.name, h100.vram_total_mb, h100.compute_capability) == (H100, 81559, "9.0")
    assert h100.mig_mode is True
    assert [m.profile for m in h100.mig_devices] == ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"]
    assert [m.vram_total_mb for m in h100.mig_devices] == [40192, 20096, 9984, 9984]
    assert rtx.vram_used_mb == 474 and rtx.vram_free_mb == 24564 - 474
    assert rtx.mig_mode is False and rtx.mig_devices == ()
    assert rtx.pci_bus_id == "00000000:01:00.0"


def test_a_lost_gpu_is_a_warning_not_a_failure() -> None:
    lost = FakeDevice("NVIDIA A100-SXM4-80GB", 81920, 0, (8, 0), lost=True)
    inventory = nvml.query(FakeNVML([FakeDevice("NVIDIA L4", 23034, 0, (8, 9)), lost]))
    assert [g.name for g in inventory.gpus] == ["NVIDIA L4"]
    assert inventory.warnings and "GPU 1" in inventory.warnings[0]


def test_old_driver_without_cc_or_mig_support() -> None:
    old = FakeDevice("Tesla P100-PCIE-16GB", 16280, 0, cc=None, mig_capable=False)
    (gpu,) = nvml.query(FakeNVML([old])).gpus
    assert gpu.compute_capability is None
    assert gpu.mig_mode is None


def test_missing_library_is_explained_in_words() -> None:
    with pytest.raises(nvml.NvmlUnavailable, match=r"libnvidia-ml\.so not found"):
        nvml.query(FakeNVML([], init_error=NVMLError_LibraryNotFound))


def test_this_machine_has_no_nvml_library_and_says_so() -> None:
    """The real nvidia-ml-py on a machine without a driver: the error is explained."""
    try:
        nvml.query()
    except nvml.NvmlUnavailable as exc:
        assert "NVIDIA" in str(exc) or "NVML" in str(exc)
    else:
        pytest.skip("this machine has a working NVML")


def test_process_memory_counts_only_the_given_pids_per_gpu() -> None:
    lib = FakeNVML(
        [FakeDevice("NVIDIA GeForce RTX 4090", 24564, 9000, uuid=f"GPU-{i}") for i in range(2)]
    )
    apps = {
        0: [SimpleNamespace(pid=10, usedGpuMemory=6000 * MIB),
            SimpleNamespace(pid=99, usedGpuMemory=3000 * MIB)],
        1: [SimpleNamespace(pid=11, usedGpuMemory=512 * MIB),
            SimpleNamespace(pid=12, usedGpuMemory=None)],
    }  # fmt: skip
    lib.nvmlDeviceGetComputeRunningProcesses = (  # type: ignore[attr-defined]
        lambda device: apps[lib.devices.index(device)]
    )
    assert nvml.process_memory_mb({10, 11, 12}, lib) == {0: 6000, 1: 512}
    assert nvml.process_memory_mb({42}, lib) == {}
    with pytest.raises(nvml.NvmlUnavailable, match=r"libnvidia-ml\.so not found"):
        nvml.process_memory_mb({1}, FakeNVML([], init_error=NVMLError_LibraryNotFound))


def test_impossible_figures_leave_the_gpu_out_with_a_warning() -> None:
    """More memory used than the GPU has (a driver bug): a warning, not a traceback."""
    broken = FakeDevice("NVIDIA L4", 23034, 40000, (8, 9))
    inventory = nvml.query(FakeNVML([FakeDevice("NVIDIA L4", 23034, 0, (8, 9)), broken]))
    assert [g.index for g in inventory.gpus] == [0]
    assert any("GPU 1: NVML gave impossible figures" in w for w in inventory.warnings)
