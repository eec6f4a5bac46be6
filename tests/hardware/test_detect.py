"""Detection through the real subprocess path, with stand-in tools on PATH."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpuplan.hardware import Host, detect, nvml
from tests.conftest import HARDWARE_DATA
from tests.hardware.standins import env_with_path, make_tool, replay


def nvml_loadable() -> bool:
    try:
        nvml.query()
    except nvml.NvmlUnavailable:
        return False
    return True


needs_no_nvml = pytest.mark.skipif(nvml_loadable(), reason="this machine has a working NVML")


def run_detect(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gpuplan", "detect", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_no_nvml
def test_detect_json_reports_the_gpus_a_real_nvidia_smi_printed(tmp_path: Path) -> None:
    replay(tmp_path, "nvidia-smi", HARDWARE_DATA / "nvidia-smi-csv_rtx4090_1.txt")
    result = run_detect(env_with_path(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    host = json.loads(result.stdout)
    assert host["source"] == "nvidia-smi"
    assert [g["name"] for g in host["gpus"]] == ["NVIDIA GeForce RTX 4090"]
    assert host["gpus"][0]["vram_total_mb"] == 24564
    assert host["gpus"][0]["vram_free_mb"] == 24090
    assert host["gpus"][0]["vendor"] == "nvidia"
    assert host["headroom_mb_per_gpu"] == 2048
    assert host["total_usable_vram_mb"] == 24564 - 2048
    assert host["tried"][0].startswith("nvml:")


@needs_no_nvml
def test_detect_attaches_mig_instances_from_the_listing(tmp_path: Path) -> None:
    replay(
        tmp_path,
        "nvidia-smi",
        HARDWARE_DATA / "nvidia-smi-csv_h100-80gb-hbm3-mig_1.txt",
        listing=HARDWARE_DATA / "nvidia-smi-L_h100-80gb-hbm3-mig.txt",
    )
    result = run_detect(env_with_path(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    (gpu,) = json.loads(result.stdout)["gpus"]
    assert gpu["name"] == "NVIDIA H100 80GB HBM3"
    assert gpu["vram_total_mb"] == 81559
    assert gpu["compute_capability"] == "9.0"
    assert gpu["mig_mode"] is True
    assert len(gpu["mig_devices"]) == 4


def test_old_driver_without_compute_cap_is_queried_again_without_it(tmp_path: Path) -> None:
    recorded = HARDWARE_DATA / "nvidia-smi-csv_rtx4090_1.txt"
    make_tool(
        tmp_path,
        "nvidia-smi",
        'case "$*" in\n'
        "  *compute_cap*) echo 'Field \"compute_cap\" is not a valid field to query.'; exit 2;;\n"
        "  *-L*) exit 0;;\n"
        "esac\n"
        f"/bin/cat {recorded}",
    )
    host = _detect_with(tmp_path, "nvidia-smi")
    assert host.source == "nvidia-smi"
    assert host.gpus[0].vram_total_mb == 24564
    assert host.gpus[0].compute_capability is None
    assert any("compute_cap" in w for w in host.warnings)


def test_garbage_from_nvidia_smi_is_a_warning_and_the_next_source(tmp_path: Path) -> None:
    make_tool(tmp_path, "nvidia-smi", "echo 'Segmentation fault (core dumped) %%%'")
    host = _detect_with(tmp_path, "nvidia-smi")
    assert host.source == "cpu"
    assert host.gpus == ()
    assert any(w.startswith("nvidia-smi failed") for w in host.warnings)


def test_failing_nvidia_smi_is_a_warning(tmp_path: Path) -> None:
    make_tool(
        tmp_path,
        "nvidia-smi",
        "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'"
        "; exit 9",
    )
    host = _detect_with(tmp_path, "nvidia-smi")
    assert host.source == "cpu"
    assert any("could not communicate" in w for w in host.warnings)


def test_hanging_nvidia_smi_is_killed_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tool(tmp_path, "nvidia-smi", "/bin/sleep 60")
    monkeypatch.setenv(detect.TIMEOUT_ENV, "0.5")
    host = _detect_with(tmp_path, "nvidia-smi")
    assert host.source == "cpu"
    assert any("timed out after 0.5 s" in w for w in host.warnings)


def test_amd_smi_is_used_when_there_is_no_nvidia_tool(tmp_path: Path) -> None:
    replay(tmp_path, "amd-smi", HARDWARE_DATA / "amd-smi-static_strix-halo-8060s-rocm631.json")
    host = _detect_with(tmp_path, "nvidia-smi,amd-smi,rocm-smi")
    assert host.source == "amd-smi"
    assert host.gpus[0].vendor == "amd"
    assert host.tried[0] == "nvidia-smi: nvidia-smi not found on PATH"


def test_rocm_smi_is_the_last_gpu_source(tmp_path: Path) -> None:
    replay(tmp_path, "rocm-smi", HARDWARE_DATA / "rocm-smi_mi100-4x-rocm602.json")
    host = _detect_with(tmp_path, "nvidia-smi,amd-smi,rocm-smi")
    assert host.source == "rocm-smi"
    assert host.gpu_count == 4
    assert all(g.vram_total_mb == 32752 for g in host.gpus)


def test_no_tools_at_all_gives_a_cpu_host_with_what_was_tried(tmp_path: Path) -> None:
    host = _detect_with(tmp_path, "nvidia-smi,amd-smi,rocm-smi")
    assert host.source == "cpu"
    assert host.warnings == ()
    assert [t.split(":")[0] for t in host.tried] == ["nvidia-smi", "amd-smi", "rocm-smi"]
    assert host.system_ram_mb is not None and host.system_ram_mb > 0


def test_detection_is_cached_until_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(detect.SOURCES_ENV, "nvidia-smi")
    detect.clear_cache()
    first = detect.detect()
    replay(tmp_path, "nvidia-smi", HARDWARE_DATA / "nvidia-smi-csv_rtx4090_1.txt")
    assert detect.detect() is first
    assert detect.detect(refresh=True).gpu_count == 1
    detect.clear_cache()


@needs_no_nvml
def test_cli_on_a_machine_without_gpus_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_detect(env_with_path(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("No GPU found (tried nvml:")
    assert "nvidia-smi" in lines[0] and "rocm-smi" in lines[0]
    assert "CPU only" in lines[0]


def test_unknown_source_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(detect.SOURCES_ENV, "nvml,cuda")
    with pytest.raises(Exception, match="unknown source 'cuda'"):
        detect.selected_probes()


def _detect_with(bindir: Path, sources: str) -> Host:
    """Detect with PATH holding only the stand-ins, sources restricted."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(bindir))
        patch.setenv(detect.SOURCES_ENV, sources)
        return detect.run_probes(detect.selected_probes(), timeout_s=detect._timeout_from_env())


@pytest.mark.parametrize("raw", ["nan", "inf", "-1", "0", "abc", "99999"])
def test_absurd_timeouts_are_a_clear_error(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from gpuplan.errors import HardwareSpecError

    monkeypatch.setenv(detect.TIMEOUT_ENV, raw)
    with pytest.raises(HardwareSpecError, match="not a number of seconds"):
        detect._timeout_from_env()


def test_absurd_headroom_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpuplan.errors import HardwareSpecError
    from gpuplan.hardware import headroom_from_env

    monkeypatch.setenv("GPUPLAN_HEADROOM_MB", "99999999999999999999999")
    with pytest.raises(HardwareSpecError, match="out of range"):
        headroom_from_env()


@needs_no_nvml
def test_detect_reads_nvlink_groups_from_topo(tmp_path: Path) -> None:
    """Two RTX 4090s (the recorded query's line, twice) joined by an NVLink bridge (NV2)."""
    header, line = (HARDWARE_DATA / "nvidia-smi-csv_rtx4090_1.txt").read_text().splitlines()[:2]
    recorded = tmp_path / "two.csv"
    recorded.write_text(f"{header}\n{line}\n{line}\n")
    topo = tmp_path / "topo.txt"
    topo.write_text(
        "\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\n"
        "GPU0\t X \tNV2\t0-23\t0\n"
        "GPU1\tNV2\t X \t0-23\t0\n\nLegend:\n"
    )
    make_tool(
        tmp_path / "bin",
        "nvidia-smi",
        f'case "$*" in *topo*) /bin/cat {topo}; exit 0;; *-L*) exit 0;; esac\n/bin/cat {recorded}',
    )
    result = run_detect(env_with_path(tmp_path / "bin"), "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert len(body["gpus"]) == 2
    assert body["nvlink_groups"] == [[0, 1]]


@needs_no_nvml
def test_unreadable_topology_is_no_groups_and_no_warning(tmp_path: Path) -> None:
    header, line = (HARDWARE_DATA / "nvidia-smi-csv_rtx4090_1.txt").read_text().splitlines()[:2]
    recorded = tmp_path / "two.csv"
    recorded.write_text(f"{header}\n{line}\n{line}\n")
    # `topo -m` gets the query's CSV back: not a matrix
    make_tool(
        tmp_path / "bin", "nvidia-smi", f'case "$*" in *-L*) exit 0;; esac\n/bin/cat {recorded}'
    )
    result = run_detect(env_with_path(tmp_path / "bin"), "--json")
    body = json.loads(result.stdout)
    assert len(body["gpus"]) == 2 and body["nvlink_groups"] == []
    assert not any("topo" in warning for warning in body["warnings"])
