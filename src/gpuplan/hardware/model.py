"""The hardware stage's data: a frozen snapshot of one machine's GPUs.

Every later stage (profiles, selection, placement) plans on a ``Host`` and never
asks the machine again, so a declared host ("2x RTX 4090", a saved inventory) and
a detected one are interchangeable. Memory is in MiB, nvidia-smi's unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from gpuplan.records import Record, described

Vendor = Literal["nvidia", "amd", "apple", "intel", "unknown"]
"""Who made the GPU; decides which engines and quantizations apply."""

Source = Literal[
    "nvml", "nvidia-smi", "amd-smi", "rocm-smi", "cpu", "declared", "file", "kubernetes"
]
"""Where a host's inventory came from."""

DEFAULT_HEADROOM_MB = 2048
"""Seed 000: keep 2 GB per GPU for the driver, display and fragmentation."""

SMALL_DEVICE_KEEP_DIVISOR = 8
"""The headroom rule's small-device cap: a small device keeps back at most an eighth."""


def device_headroom_mb(total_mb: int, headroom_mb: int) -> int:
    """MiB kept back on a device of ``total_mb`` MiB: the one headroom rule.

    ``min(H, max(ceil(total / 8), total − 2H))`` with H the configured headroom.
    Every device of 3H or more (6 GiB at the default 2048) keeps exactly H, so
    seed 000's figures (total − 2 GB per GPU) stand for every card it names;
    a smaller device is not halved by a fixed H but keeps at least the smaller
    of 2H and seven eighths of its memory usable, so seed 004's 4 GB RTX A400
    (4094 MiB) plans on 3582 MiB, its "3.5 GB" budget. Usable memory stays
    monotonic in the device's size.
    """
    eighth = -(-total_mb // SMALL_DEVICE_KEEP_DIVISOR)
    return max(0, min(headroom_mb, max(eighth, total_mb - 2 * headroom_mb)))


MAX_HEADROOM_MB = 1 << 20
"""A headroom above 1 TiB per GPU is a typo, not a plan."""


MAX_GPU_MEMORY_MB = 1 << 23
"""8 TiB: no GPU (or unified-memory APU) has more than a few TiB; more is a typo or bytes."""

MAX_GPUS_PER_HOST = 64
"""More GPUs than any single host has (the spec language caps a count at 64 too)."""

MAX_NAME_LENGTH = 200
"""Product names are a few dozen characters; a longer one is not a GPU name."""

MAX_RAM_MB = 1 << 30
"""1 PiB of host RAM: beyond any machine."""

_COMPUTE_SHARE = re.compile(r"(?P<c>[0-9]{1,2})c\.(?P<gi>(?P<g>[0-9]{1,2})g\.\S+)")
"""A compute-instance profile such as '1c.3g.47gb': c compute slices of a g-slice GPU instance."""

_MIB = {"strict": True, "ge": 0, "le": MAX_GPU_MEMORY_MB}
"""A GPU memory figure: a whole number of MiB (``true`` or ``2.5`` are not), within reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MigDevice(Record):
    """One MIG instance: a slice of a GPU that engines see as a GPU of its own."""

    index: int = described("MIG device index within its parent GPU.", strict=True, ge=0, le=1023)
    profile: str | None = described("MIG profile such as '1g.10gb' or '1c.3g.71gb'.", None)
    uuid: str | None = described("MIG-… UUID, usable in CUDA_VISIBLE_DEVICES.", None)
    vram_total_mb: int | None = described("Memory of this slice, MiB.", None, **_MIB)
    vram_free_mb: int | None = described("Free memory of this slice, MiB.", None, **_MIB)
    gpu_instance_id: int | None = described("GPU instance id (GI).", None, strict=True)
    compute_instance_id: int | None = described("Compute instance id (CI).", None, strict=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class GPU(Record):
    """One physical GPU as the vendor tool reports it."""

    index: int = described(
        "Device index as the vendor tool numbers it.", strict=True, ge=0, le=4095
    )
    name: str = described(
        "Product name as reported, e.g. 'NVIDIA GeForce RTX 4090'; '' when the tool gave none.",
        max_length=MAX_NAME_LENGTH,
    )
    vendor: Vendor = described("GPU vendor.", "unknown")
    uuid: str | None = described("Stable device id (GPU-… on NVIDIA).", None)
    vram_total_mb: int | None = described(
        "Total memory, MiB; None when the tool does not say.", None, **_MIB
    )
    vram_free_mb: int | None = described("Free memory now, MiB.", None, **_MIB)
    vram_used_mb: int | None = described("Used memory now, MiB.", None, **_MIB)
    compute_capability: str | None = described(
        "CUDA compute capability as 'major.minor', e.g. '8.9'.", None
    )
    architecture: str | None = described(
        "Architecture name or AMD gfx target, e.g. 'Ada', 'gfx942'.", None
    )
    mig_mode: bool | None = described("MIG enabled; None if unsupported.", None)
    mig_devices: tuple[MigDevice, ...] = described("MIG instances carved from this GPU.", ())
    pci_bus_id: str | None = described("PCI bus id, e.g. '00000000:01:00.0'.", None)
    unified_memory: bool = described(
        "Memory is shared with the CPU (APU, GB10): VRAM is host RAM.", False
    )

    def __post_init__(self) -> None:
        Record.__post_init__(self)
        capability = self.compute_capability
        if capability is not None and not re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,2}", capability):
            raise ValueError(
                f"compute_capability {capability[:20]!r} must be 'major.minor', like '8.9'"
            )
        self._memory_adds_up()

    def _memory_adds_up(self) -> None:
        """Free and used within total, MIG slices within the GPU: else the plan is fiction."""
        total = self.vram_total_mb
        if total is not None:
            for name in ("vram_free_mb", "vram_used_mb"):
                value = getattr(self, name)
                if value is not None and value > total:
                    raise ValueError(
                        f"{name} {value} is more than vram_total_mb {total}; "
                        "free and used memory are parts of the total"
                    )
            for mig in self.mig_devices:
                if mig.vram_total_mb is not None and mig.vram_total_mb > total:
                    raise ValueError(
                        f"MIG slice {mig.index} has vram_total_mb {mig.vram_total_mb}, more "
                        f"than its GPU's {total}; a MIG slice is part of its GPU"
                    )
        for mig in self.mig_devices:
            if (
                mig.vram_free_mb is not None
                and mig.vram_total_mb is not None
                and mig.vram_free_mb > mig.vram_total_mb
            ):
                raise ValueError(
                    f"MIG slice {mig.index} has vram_free_mb {mig.vram_free_mb}, more than "
                    f"its vram_total_mb {mig.vram_total_mb}"
                )

    def mig_pools(self) -> tuple[tuple[object, MigDevice], ...]:
        """Each MIG device with the key of the memory pool it draws from, in order.

        Compute instances of one GPU instance share its memory, so they share a key:
        the GPU instance id when the tool gave one. ``nvidia-smi -L`` on current
        drivers gives none, and lists each compute instance ('1c.3g.47gb') as a
        device of its own; counting each as a slice of its GPU instance's memory
        would plan up to three times the memory there is. Such devices are grouped
        by GPU-instance profile, filling one pool with compute slices up to what one
        GPU instance has (three '1c.3g' devices, or a '2c.3g' and a '1c.3g'), which
        never counts more pools than there are GPU instances.
        """
        keyed: list[tuple[object, MigDevice]] = []
        used: dict[str, int] = {}
        for mig in self.mig_devices:
            share = _COMPUTE_SHARE.match(mig.profile or "")
            if mig.gpu_instance_id is not None:
                key: object = mig.gpu_instance_id
            elif share and 0 < int(share["c"]) < int(share["g"]):
                before = used.get(share["gi"], 0)
                used[share["gi"]] = before + int(share["c"])
                key = ("gi", share["gi"], before // int(share["g"]))
            else:
                key = ("slot", mig.index)
            keyed.append((key, mig))
        return tuple(keyed)

    @property
    def compute_capability_tuple(self) -> tuple[int, int] | None:
        """Compute capability as (major, minor) for comparisons such as 'Ampere or newer'."""
        if not self.compute_capability:
            return None
        major, _, minor = self.compute_capability.partition(".")
        try:
            return int(major), int(minor or 0)
        except ValueError:
            return None


def _always_present(schema: dict[str, Any]) -> None:
    """Derived, so never read from input yet in every answer: as the pydantic model said."""
    schema.pop("default", None)
    schema["readOnly"] = True


def _total_required(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "total_usable_vram_mb" not in required:
        required.append("total_usable_vram_mb")


@dataclass(frozen=True, slots=True, kw_only=True)
class Host(Record):
    """A machine's GPU inventory at one moment, with where it came from."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {
        "extra": "forbid",
        "json_schema_extra": _total_required,
    }

    source: Source = described("Where the inventory came from.")
    gpus: tuple[GPU, ...] = described("GPUs, ordered by index.", (), max_length=MAX_GPUS_PER_HOST)
    headroom_mb_per_gpu: int = described(
        "MiB kept free on each GPU for driver, display and fragmentation.",
        DEFAULT_HEADROOM_MB,
        strict=True,
        ge=0,
        le=MAX_HEADROOM_MB,
    )
    driver_version: str | None = described("GPU driver version.", None)
    cuda_version: str | None = described("Highest CUDA the driver supports.", None)
    system_ram_mb: int | None = described("Host RAM, MiB.", None, strict=True, ge=0, le=MAX_RAM_MB)
    warnings: tuple[str, ...] = described("What went wrong while detecting.", ())
    tried: tuple[str, ...] = described(
        "Detection sources tried, in order, with what each found.", ()
    )
    nvlink_groups: tuple[tuple[int, ...], ...] = described(
        "GPU indices joined by NVLink, one tuple per group (from `nvidia-smi topo -m`); "
        "empty when unknown. Tensor-parallel sets prefer one group.",
        (),
    )
    total_usable_vram_mb: int = field(
        init=False,
        default=0,
        metadata={
            "description": "Sum over GPUs of total − headroom, MiB.",
            "json_schema_extra": _always_present,
        },
    )

    def __post_init__(self) -> None:
        Record.__post_init__(self)
        seen: set[int] = set()
        for gpu in self.gpus:
            if gpu.index in seen:
                raise ValueError(f"two GPUs have index {gpu.index}; each GPU needs its own index")
            seen.add(gpu.index)
        usable = sum(self.usable_vram_mb(gpu) for gpu in self.gpus)
        object.__setattr__(self, "total_usable_vram_mb", usable)

    def device_usable_mb(self, gpu: GPU) -> tuple[int, ...]:
        """Usable MiB of each device ``gpu`` offers an engine: the GPU, or its MIG slices.

        With MIG on, an engine sees a slice, never the whole card, so a plan
        must fit each slice (total − headroom). The headroom is the configured
        one, capped on devices smaller than three times it (``device_headroom_mb``),
        so a 4 GB card keeps 3.5 GB usable (seed 004) instead of 2. Compute instances of one GPU
        instance ('1c.3g.71gb' twice) share its memory and count once. MIG on
        with no instances offers nothing.
        """
        if gpu.mig_mode and not gpu.mig_devices:
            return ()  # MIG on without instances: CUDA exposes no device here
        if gpu.mig_mode:
            pools: dict[object, int] = {}
            for key, mig in gpu.mig_pools():
                pools[key] = max(pools.get(key, 0), mig.vram_total_mb or 0)
            return tuple(max(0, mib - self.headroom_for(mib)) for mib in pools.values())
        total = gpu.vram_total_mb or 0
        return (max(0, total - self.headroom_for(total)),)

    def headroom_for(self, total_mb: int) -> int:
        """MiB kept back on a device of ``total_mb``: see ``device_headroom_mb``."""
        return device_headroom_mb(total_mb, self.headroom_mb_per_gpu)

    def device_totals_mb(self) -> tuple[int, ...]:
        """Memory of every device (GPU or MIG slice), aligned with ``device_budgets_mb``."""
        totals: list[int] = []
        for gpu in self.gpus:
            if gpu.mig_mode:
                pools: dict[object, int] = {}
                for key, mig in gpu.mig_pools():
                    pools[key] = max(pools.get(key, 0), mig.vram_total_mb or 0)
                totals.extend(pools.values())
            else:
                totals.append(gpu.vram_total_mb or 0)
        return tuple(totals)

    def device_budgets_mb(self) -> tuple[int, ...]:
        """Usable MiB of every device on the host, GPUs and MIG slices, in GPU order."""
        return tuple(mib for gpu in self.gpus for mib in self.device_usable_mb(gpu))

    def usable_vram_mb(self, gpu: GPU) -> int:
        """Memory a plan may use on ``gpu``: total − headroom (per MIG slice when MIG is on)."""
        return sum(self.device_usable_mb(gpu))

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    def summary(self) -> str:
        """One line such as '2x NVIDIA GeForce RTX 4090 (24564 MiB)' or 'CPU only'."""
        if not self.gpus:
            return "CPU only"
        groups: dict[tuple[str, int | None], int] = {}
        for gpu in self.gpus:
            key = (gpu.name, gpu.vram_total_mb)
            groups[key] = groups.get(key, 0) + 1
        parts = []
        for (name, mib), count in groups.items():
            memory = f"{mib} MiB" if mib is not None else "memory unknown"
            parts.append(f"{count}x {name} ({memory})")
        return " + ".join(parts)
