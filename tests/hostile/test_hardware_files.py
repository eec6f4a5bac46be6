"""Hardware files with absurd values are refused with the field and the fix, in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuplan.errors import GpuplanError, HardwareSpecError
from gpuplan.hardware import load_host
from gpuplan.hardware.declared import host_from_document
from tests.hostile.conftest import Gpuplan

A100 = {"index": 0, "name": "NVIDIA A100-SXM4-80GB", "vram_total_mb": 81920}


def host_file(tmp_path: Path, gpus: list[dict[str, Any]], **extra: Any) -> Path:
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"source": "nvml", "gpus": gpus, **extra}))
    return path


BAD_GPUS: list[tuple[str, list[dict[str, Any]], str]] = [
    ("bool memory", [{**A100, "vram_total_mb": True}], "gpus[0].vram_total_mb must be a whole"),
    ("huge memory", [{**A100, "vram_total_mb": 10**18}], "gpus[0].vram_total_mb must be at most"),
    ("zero memory", [{**A100, "vram_total_mb": 0}], "gpus[0].vram_total_mb must be at least 1"),
    ("negative free", [{**A100, "vram_free_mb": -1}], "gpus[0].vram_free_mb must be at least 0"),
    ("negative used", [{**A100, "vram_used_mb": -5}], "gpus[0].vram_used_mb must be at least 0"),
    ("free above total", [{**A100, "vram_free_mb": 90000}], "vram_free_mb 90000 is more than"),
    ("empty name", [{**A100, "name": ""}], "gpus[0].name is empty"),
    ("blank name", [{**A100, "name": "   "}], "gpus[0].name is empty"),
    ("long name", [{**A100, "name": "A" * 100_000}], "gpus[0].name may have at most 200"),
    ("100 GPUs", [{**A100, "index": i} for i in range(100)], "gpus may hold at most 64"),
    ("duplicate index", [A100, A100], "two GPUs have index 0"),
    ("negative index", [{**A100, "index": -1}], "gpus[0].index must be at least 0"),
    ("banana", [{**A100, "compute_capability": "banana"}], "must be 'major.minor'"),
    (
        "MIG slice larger than its GPU",
        [{**A100, "mig_mode": True, "mig_devices": [{"index": 0, "vram_total_mb": 999_999}]}],
        "a MIG slice is part of its GPU",
    ),
]


@pytest.mark.parametrize(
    ("gpus", "words"), [(g, w) for _, g, w in BAD_GPUS], ids=[n for n, *_ in BAD_GPUS]
)
def test_absurd_gpu_values_are_refused(
    tmp_path: Path, gpuplan: Gpuplan, gpus: list[dict[str, Any]], words: str
) -> None:
    path = host_file(tmp_path, gpus)
    run = gpuplan("detect", "--hardware", str(path))
    assert run.exit_code == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: hardware file"), run.output
    assert words in lines[0]
    assert "Input should" not in lines[0] and "NoneType" not in lines[0]
    assert len(lines[0]) < 400


def test_negative_ram_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HardwareSpecError, match="system_ram_mb must be at least 0"):
        load_host(str(host_file(tmp_path, [A100], system_ram_mb=-1)))


def test_devices_are_not_hardware_files(gpuplan: Gpuplan) -> None:
    for device in ("/dev/null", "/dev/zero"):
        run = gpuplan("detect", "--hardware", device)
        assert run.exit_code == 1
        assert "not a regular file" in run.stderr and "does not exist" not in run.stderr


def test_a_sane_file_still_loads(tmp_path: Path) -> None:
    mig = {"index": 0, "vram_total_mb": 9728, "vram_free_mb": 9000, "gpu_instance_id": 1}
    gpus = [{**A100, "vram_free_mb": 80000, "mig_mode": True, "mig_devices": [mig]}]
    host = load_host(str(host_file(tmp_path, gpus)))
    assert host.gpus[0].mig_devices[0].vram_total_mb == 9728


# -- fuzz: any JSON-ish document gives a Host or the project's own error ---------------------------

_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=30), st.lists(st.integers(), max_size=3),
)  # fmt: skip
_GPU = st.fixed_dictionaries(
    {"index": st.integers(-2, 70), "name": st.text(max_size=30)},
    optional={
        key: _VALUES
        for key in ("vram_total_mb", "vram_free_mb", "vram_used_mb", "compute_capability",
                    "mig_mode", "uuid", "vendor")
    },
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"source": st.sampled_from(["nvml", "file", "bogus"]), "gpus": st.lists(_GPU, max_size=4)},
        optional={"system_ram_mb": _VALUES, "headroom_mb_per_gpu": _VALUES},
    )
)
def test_fuzz_hardware_documents(document: dict[str, Any]) -> None:
    try:
        host = host_from_document(document, origin="fuzz", headroom_mb=2048)
    except GpuplanError as error:
        assert "\n" not in str(error) and "Input should" not in str(error)
        return
    for gpu in host.gpus:
        if gpu.vram_total_mb is not None:
            assert 0 < gpu.vram_total_mb <= 1 << 23
            assert (gpu.vram_free_mb or 0) <= gpu.vram_total_mb
    assert host.total_usable_vram_mb >= 0
