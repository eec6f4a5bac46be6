"""``nvidia-smi -q -x`` → ``Inventory``, including each MIG device's real memory.

The XML form is the most complete and the most stable across drivers (DTD v9
to v13; driver 418 has no DOCTYPE), and unlike ``-L`` it gives a MIG slice's
actual memory. Lookups are scoped by path, never by first match: MIG devices'
``<fb_memory_usage>`` blocks come *before* the GPU's own, so the first
``<total>`` in an A100 MIG dump is a 19968 MiB slice, not the 40960 MiB card.
GPUs are counted as ``<gpu>`` elements, because trimmed dumps keep an
``attached_gpus`` that no longer matches. The XML has no compute capability.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.model import GPU, MigDevice
from gpuplan.hardware.parse import Inventory, clean
from gpuplan.hardware.parse._nvidia import (
    excerpt,
    make_gpu,
    mib,
    mig_mode,
    no_devices,
    no_gpus_error,
    parse_int,
)

__all__ = ["parse"]

_ROOT_TAG = "nvidia_smi_log"


def parse(text: str) -> Inventory:
    """Read ``nvidia-smi -q -x``; the external DTD it names is never fetched."""
    if no_devices(text):
        return Inventory(gpus=(), warnings=("nvidia-smi found no NVIDIA GPU",))
    root = _root(text)
    elements = root.findall("gpu")
    attached = parse_int(root.findtext("attached_gpus"))
    driver_version = _text(root, "driver_version")
    cuda_version = _text(root, "cuda_version")
    if not elements:
        if attached == 0:
            return Inventory(
                gpus=(),
                driver_version=driver_version,
                cuda_version=cuda_version,
                warnings=("nvidia-smi found no NVIDIA GPU",),
            )
        raise no_gpus_error("nvidia-smi -q -x", text, "expected <gpu> elements in <nvidia_smi_log>")
    warnings: list[str] = []
    gpus = tuple(_gpu(element, position, warnings) for position, element in enumerate(elements))
    if attached is not None and attached != len(gpus):
        warnings.append(
            f"attached_gpus says {attached} but the output describes {len(gpus)} GPU(s); "
            "counting the GPUs described"
        )
    return Inventory(
        gpus=gpus,
        driver_version=driver_version,
        cuda_version=cuda_version,
        warnings=tuple(warnings),
    )


def _root(text: str) -> ET.Element:
    try:
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError, LookupError) as error:
        raise ToolOutputError(
            f"nvidia-smi -q -x output is not well-formed XML ({error}; it begins "
            f"{excerpt(text)!r})",
            hint="the output was cut short or is not from -q -x; run nvidia-smi -q -x again",
        ) from error
    if root.tag != _ROOT_TAG:
        raise ToolOutputError(
            f"XML root is <{root.tag}>, not <{_ROOT_TAG}>",
            hint="pass the output of nvidia-smi -q -x",
        )
    return root


def _text(element: ET.Element, path: str) -> str | None:
    """Trimmed text at ``path``; absent, empty or 'N/A' → None."""
    return clean(element.findtext(path))


def _gpu(element: ET.Element, position: int, warnings: list[str]) -> GPU:
    """One ``<gpu>``; its index is its position, the order nvidia-smi numbers GPUs in.

    ``<minor_number>`` is the /dev/nvidiaN number, which need not follow that
    order (and is N/A on Windows), so it is not used as the index.
    """
    name = _text(element, "product_name")
    if (_text(element, "gpu_virtualization_mode/virtualization_mode") or "").upper() == "VGPU":
        warnings.append(
            f"GPU {position} ({name}) is a vGPU: its memory is the vGPU profile's share"
        )
    return make_gpu(
        index=position,
        name=name,
        warnings=warnings,
        uuid=_text(element, "uuid"),
        vram_total_mb=mib(element.findtext("fb_memory_usage/total")),
        vram_free_mb=mib(element.findtext("fb_memory_usage/free")),
        vram_used_mb=mib(element.findtext("fb_memory_usage/used")),
        architecture=_text(element, "product_architecture"),
        mig_mode=mig_mode(element.findtext("mig_mode/current_mig")),
        mig_devices=tuple(
            _mig_device(mig, number)
            for number, mig in enumerate(element.findall("mig_devices/mig_device"))
        ),
        pci_bus_id=_text(element, "pci/pci_bus_id") or clean(element.get("id")),
    )


def _mig_device(element: ET.Element, position: int) -> MigDevice:
    """One ``<mig_device>`` with the memory of its own ``<fb_memory_usage>``."""
    index = parse_int(element.findtext("index"))
    return MigDevice(
        index=position if index is None else index,
        vram_total_mb=mib(element.findtext("fb_memory_usage/total")),
        vram_free_mb=mib(element.findtext("fb_memory_usage/free")),
        gpu_instance_id=parse_int(element.findtext("gpu_instance_id")),
        compute_instance_id=parse_int(element.findtext("compute_instance_id")),
    )
