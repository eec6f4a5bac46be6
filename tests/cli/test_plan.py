"""`gpuplan plan`: the whole answer, on declared hardware and on this CPU-only machine."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gpuplan.cli.main import app
from gpuplan.planning import CPU_BACKENDS


def plan_json(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["plan", "--json", *args])
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.stdout)
    return body


@pytest.mark.parametrize(
    ("spec", "profile"),
    [
        ("RTX 4090", "balanced_24gb"),
        ("2x RTX 4080", "multi_gpu_2x16gb"),
        ("RTX 4080", "constrained_16gb"),
    ],
)
def test_plan_on_declared_hardware_fits_the_profile(spec: str, profile: str) -> None:
    body = plan_json("--hardware", spec)
    active = body["profile"]["active_profile"]  # type: ignore[index]
    assert active["name"] == profile
    selection = body["selection"]
    assert isinstance(selection, dict)
    assert selection["total_vram_mb"] <= active["max_vram_mb"]
    slots = [m for m in selection["models"] if not m["sidecar"]]
    assert len(slots) == selection["slots_used"] <= active["max_concurrent_models"]
    served = {pick["role"] for pick in selection["picks"]} | {
        u["role"] for u in selection["unserved"]
    }
    assert served == {"chat", "embedding", "caption"}
    usable = body["hardware"]["total_usable_vram_mb"]  # type: ignore[index]
    fitting = body["fitting"]
    assert isinstance(fitting, list) and fitting
    for row in fitting:
        assert row["fits"] and row["vram_estimate_mb"] * row["gpus"] <= usable


def test_plan_roles_are_chosen_and_unknown_roles_are_a_clear_error() -> None:
    body = plan_json("--hardware", "H100-80GB", "--roles", "reasoning,object_detection")
    assert [p["role"] for p in body["selection"]["picks"]] == [  # type: ignore[index]
        "reasoning",
        "object_detection",
    ]
    result = CliRunner().invoke(app, ["plan", "--hardware", "H100-80GB", "--roles", "chta"])
    assert result.exit_code == 1
    assert "unknown role 'chta'" in result.output and "Traceback" not in result.output


def test_plan_on_a_cpu_host_keeps_cpu_engines() -> None:
    body = plan_json("--hardware", "cpu")
    assert body["hardware"]["gpus"] == []  # type: ignore[index]
    assert body["fitting"] == []
    picks = body["selection"]["picks"]  # type: ignore[index]
    assert picks and all(p["backend"] in CPU_BACKENDS for p in picks)
    assert any("No GPU" in note for note in body["notes"])  # type: ignore[attr-defined]


def test_plan_text_has_every_section() -> None:
    result = CliRunner().invoke(app, ["plan", "--hardware", "RTX A5500, RTX A400"])
    assert result.exit_code == 0, result.output
    for heading in ("Hardware", "Profile: balanced_24gb", "What fits", "What to serve"):
        assert heading in result.output
    assert "GPU 1 (NVIDIA RTX A400" in result.output
