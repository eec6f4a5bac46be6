"""The runtime helper runs alone: stdlib only, in a subprocess that can see nothing else."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gpuplan.launch.runtime as runtime

FAKE_NVML = """
GPUS = {gpus!r}
def nvmlInit():
    if GPUS is None:
        raise RuntimeError("NVML Shared Library Not Found")
def nvmlDeviceGetCount():
    return len(GPUS)
def nvmlDeviceGetHandleByIndex(index):
    return GPUS[index]
def nvmlDeviceGetUUID(handle):
    return handle.encode()
def nvmlDeviceGetHandleByUUID(uuid):
    if not any(uuid.startswith("MIG-") and uuid.endswith(g[-4:]) for g in GPUS):
        raise RuntimeError("Not Found")
    return uuid
"""

PROBE = """
import json, os, sys
import runtime
try:
    result = runtime.get_target_gpu()
except RuntimeError as error:
    result = str(error)
banned = [m for m in ("pydantic", "typer", "torch", "gpuplan") if m in sys.modules]
print(json.dumps({"result": result, "env": os.environ.get("CUDA_VISIBLE_DEVICES"),
                  "banned": banned}))
"""


def _run(tmp_path: Path, env: dict[str, str], gpus: list[str] | bool | None) -> dict[str, object]:
    import json

    shutil.copy(Path(runtime.__file__), tmp_path / "runtime.py")
    if gpus is not False:
        (tmp_path / "pynvml.py").write_text(FAKE_NVML.format(gpus=gpus))
    # -I: no PYTHONPATH, no user site; -S: no site-packages; the path holds only tmp_path
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + PROBE
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    out: dict[str, object] = json.loads(done.stdout)
    out["stderr"] = done.stderr
    return out


def test_imports_with_the_standard_library_only_and_trusts_a_valid_assignment(
    tmp_path: Path,
) -> None:
    out = _run(tmp_path, {"CUDA_VISIBLE_DEVICES": "GPU-bbbb"}, ["GPU-aaaa", "GPU-bbbb"])
    assert out["result"] == 0  # the one visible device is ordinal 0 in the process
    assert out["env"] == "GPU-bbbb"
    assert out["banned"] == []
    assert out["stderr"] == ""


def test_a_missing_assigned_gpu_warns_and_falls_back_before_cuda_starts(tmp_path: Path) -> None:
    out = _run(tmp_path, {"CUDA_VISIBLE_DEVICES": "GPU-gone"}, ["GPU-aaaa"])
    assert out["result"] == 0
    assert out["env"] == "GPU-aaaa"
    assert "Assigned GPU GPU-gone unavailable" in str(out["stderr"])
    assert "falling back" in str(out["stderr"])


def test_an_index_past_the_host_falls_back(tmp_path: Path) -> None:
    out = _run(tmp_path, {"CUDA_VISIBLE_DEVICES": "3"}, ["GPU-aaaa", "GPU-bbbb"])
    assert out["env"] == "GPU-aaaa"
    assert "Assigned GPU 3 unavailable" in str(out["stderr"])


def test_mig_uuid_is_checked_through_nvml(tmp_path: Path) -> None:
    out = _run(tmp_path, {"CUDA_VISIBLE_DEVICES": "MIG-1234-aaaa"}, ["GPU-aaaa"])
    assert out["env"] == "MIG-1234-aaaa"
    assert out["stderr"] == ""


def test_no_gpu_at_all_raises_the_seeds_error(tmp_path: Path) -> None:
    out = _run(tmp_path, {"CUDA_VISIBLE_DEVICES": "GPU-gone"}, [])
    assert out["result"] == "No GPU available"
    out = _run(tmp_path, {}, [])
    assert out["result"] == "No GPU available"


def test_without_nvml_an_assignment_is_trusted(tmp_path: Path) -> None:
    out = _run(tmp_path, {"HIP_VISIBLE_DEVICES": "1"}, None)  # NVML present, no driver
    assert out["result"] == 0
    out = _run(tmp_path, {"CUDA_VISIBLE_DEVICES": "GPU-x"}, False)  # no pynvml at all
    assert out["result"] == 0


def test_the_installed_module_imports_without_pydantic() -> None:
    code = (
        "import sys, gpuplan.launch.runtime as r; r.assigned_devices({}); "
        "print(sorted(m for m in ('pydantic', 'typer', 'yaml') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_in_process_api_reads_a_given_mapping() -> None:
    env = {"ROCR_VISIBLE_DEVICES": "GPU-5f3c"}
    assert runtime.assigned_devices(env) == ("ROCR_VISIBLE_DEVICES", "GPU-5f3c")
    assert runtime.assigned_devices({}) is None


@pytest.mark.parametrize("name", runtime.ASSIGNMENT_VARIABLES)
def test_every_variable_the_renderers_set_is_read(name: str) -> None:
    from gpuplan.launch import render
    from tests.launch.cases import requests_for

    used = set()
    for engine in ("vllm", "sglang", "llama.cpp", "ollama"):
        for case in ("one_gpu", "amd"):
            used |= set(render(requests_for(engine, case)[0]).env)
    assert name in used
