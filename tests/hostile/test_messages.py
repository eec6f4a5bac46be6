"""Confusing messages and exit codes: each says what is wrong and how to fix it, once."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from tests.hostile.conftest import Gpuplan


def one_error_line(run_stderr: str) -> str:
    lines = run_stderr.strip().splitlines()
    assert len(lines) == 1, run_stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("1000000x RTX 4090", "GPU count 1000000 in '1000000x RTX 4090' is out of range"),
        ("2x", "'2x' has a count but no GPU name"),
        ("", "the hardware spec is empty"),
        ("   ", "the hardware spec is empty"),
    ],
)
def test_hardware_spec_messages(gpuplan: Gpuplan, spec: str, words: str) -> None:
    run = gpuplan("detect", "--hardware", spec)
    assert run.exit_code == 1
    assert words in one_error_line(run.stderr)


def test_random_bytes_are_not_echoed_whole(gpuplan: Gpuplan) -> None:
    blob = os.urandom(300).replace(b"\0", b"").decode("latin-1")
    for spec in (blob, blob.replace("/", ""), "RTX " + "9" * 300):
        run = gpuplan("detect", env={"GPUPLAN_HARDWARE": spec})
        assert run.exit_code == 1
        assert len(one_error_line(run.stderr)) < 400


def test_a_zero_detection_timeout_is_described_truthfully(gpuplan: Gpuplan) -> None:
    run = gpuplan("detect", env={"GPUPLAN_DETECT_TIMEOUT_S": "0"})
    assert run.exit_code == 1
    assert "above 0 and at most 3600" in one_error_line(run.stderr)


def test_a_headroom_larger_than_the_gpu_is_refused(gpuplan: Gpuplan) -> None:
    run = gpuplan("plan", "-H", "RTX 4090", env={"GPUPLAN_HEADROOM_MB": "30000"})
    assert run.exit_code == 1
    line = one_error_line(run.stderr)
    assert "30000 MiB per GPU leaves nothing usable" in line and "-5436" not in run.output
    flag = gpuplan("plan", "-H", "RTX 4090", "--headroom-mb", "24564")
    assert flag.exit_code == 1


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_devices_are_not_profiles(gpuplan: Gpuplan, device: str) -> None:
    run = gpuplan("plan", "-H", "RTX 4090", "--profile", device)
    assert run.exit_code != 0
    line = one_error_line(run.stderr)
    assert "not a regular file" in line and "no profile file" not in line


def test_select_flag_mistakes(gpuplan: Gpuplan) -> None:
    bias = gpuplan("select", "-H", "RTX 4090", "--role", "chat", "--bias", "random")
    assert bias.exit_code != 0
    line = one_error_line(bias.stderr)
    assert "--bias" in line and "--model-selection-bias" not in line
    prefer = gpuplan("select", "-H", "RTX 4090", "--role", "chat", "--prefer", "zzz,yyy")
    assert prefer.exit_code == 1
    assert "unknown quantization 'zzz'" in one_error_line(prefer.stderr)
    explain = gpuplan("select", "-H", "RTX 4090", "--role", "chat", "--explain", "nonexistent")
    assert explain.exit_code == 1
    assert "no model 'nonexistent'" in one_error_line(explain.stderr)
    good = gpuplan("select", "-H", "RTX 4090", "--role", "chat", "--prefer", "fp8,q4_k_m")
    assert good.exit_code == 0


def test_registry_given_as_a_device_or_missing(gpuplan: Gpuplan, tmp_path: Path) -> None:
    missing = gpuplan("plan", "-H", "RTX 4090", "--registry", str(tmp_path / "none.toml"))
    assert missing.exit_code == 1 and "does not exist" in one_error_line(missing.stderr)
    device = gpuplan("fit", "-H", "RTX 4090", "--registry", "/dev/null")
    assert device.exit_code == 1
    assert "not TOML, YAML or JSON" not in device.stderr


def test_the_readme_error_example_is_what_gpuplan_says(gpuplan: Gpuplan) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Hostile input", 1)[1]
    command = re.search(r"`gpuplan ([^`]+)`\s+exits 1 with:", section)
    assert command is not None
    expected = section.split("```text\n", 1)[1].split("```", 1)[0].strip()
    args = shlex.split(command[1])
    run = gpuplan(*args)
    assert run.exit_code == 1 and run.stderr.strip() == expected
