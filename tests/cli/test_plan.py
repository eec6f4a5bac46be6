"""`gpuplan plan`: the whole answer, on declared hardware and on this CPU-only machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


SEED004 = Path(__file__).resolve().parents[2] / "examples" / "seed004-services.yml"


def plan_body(*args: str) -> Any:
    return plan_json(*args)


def test_plan_places_seed_004s_services_with_its_warnings() -> None:
    body = plan_body("--services", str(SEED004), "--hardware", "RTX A5500, RTX A400")
    assert body["strategy"] == "vram_based"
    assignments = {a["service"]: a for a in body["assignments"]}
    assert set(assignments) == {"ai-llm", "ai-yolo26", "ai-florence", "ai-clip", "ai-enrichment"}
    assert assignments["ai-enrichment"]["gpu_indices"] == [1]
    assert assignments["ai-enrichment"]["vram_budget_mb"] == 3582
    for a in assignments.values():
        assert set(a) >= {"service", "model", "gpu_indices", "vram_budget_mb", "reason"}
    assert (
        "ai-enrichment VRAM budget (6.8 GB) exceeds GPU 1 (4 GB). Auto-adjusted to 3.5 GB."
        in body["warnings"]
    )
    gpus = body["gpus"]
    assert [set(g) >= {"index", "name", "used_mb", "usable_mb"} for g in gpus] == [True, True]


@pytest.mark.parametrize(
    "strategy", ["vram_based", "latency_optimized", "isolation_first", "balanced"]
)
def test_plan_strategy_without_a_services_file_places_the_selection(strategy: str) -> None:
    body = plan_body("--strategy", strategy, "--hardware", "2x RTX 4090")
    assert body["strategy"] == strategy
    models = {m["model_id"] for m in body["selection"]["models"]}
    assert {a["model"] for a in body["assignments"]} == models
    assert all(a["gpu_indices"] for a in body["assignments"])


def test_plan_text_shows_the_gpu_map_in_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpuplan.cli import _common

    monkeypatch.setattr(_common.console, "width", 80)
    result = CliRunner().invoke(
        app,
        ["plan", "--services", str(SEED004), "--hardware", "RTX A5500, RTX A400"],
        env={"COLUMNS": "80"},
        terminal_width=80,
    )
    assert result.exit_code == 0, result.output
    where = result.output[result.output.index("Where (vram_based)") :]
    assert "GPU 1 RTX A400" in where and "ai-enrichment" in where and "adjusted" in where
    assert "Auto-adjusted to 3.5 GB." in " ".join(where.split())
    body = where[: where.index("More:")]
    assert max(len(line) for line in body.splitlines()) <= 80


def test_plan_manual_without_pins_names_them_and_bad_files_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", "--strategy", "manual", "--hardware", "RTX 4090"])
    assert result.exit_code == 1 and "not pinned:" in result.output
    bad = tmp_path / "s.yml"
    bad.write_text("services:\n  - name: a\n    vram_mb: big\n")
    result = CliRunner().invoke(app, ["plan", "--services", str(bad), "--hardware", "RTX 4090"])
    assert result.exit_code == 1
    assert f"services file {bad}, line 3: field services[0].vram_mb" in result.output
    assert "Traceback" not in result.output


def test_plan_json_stays_clean_when_the_milp_runs() -> None:
    result = CliRunner().invoke(
        app, ["plan", "--json", "--strategy", "balanced", "--hardware", "4x RTX 4090"]
    )
    assert result.exit_code == 0
    assert "HiGHS" not in result.stdout
    json.loads(result.stdout)


def test_plan_json_says_how_each_service_starts() -> None:
    body = plan_body("--services", str(SEED004), "--hardware", "RTX A5500, RTX A400")
    launch = {entry["service"]: entry for entry in body["launch"]}
    llm = launch["ai-llm"]
    assert set(llm) >= {"engine", "engine_version", "argv", "env", "image"}
    assert llm["engine"] == "llama.cpp" and llm["argv"][0] == "llama-server"
    assert llm["env"]["CUDA_VISIBLE_DEVICES"] == "0"
    assert "ai-enrichment" not in launch  # a model zoo has no single engine line


def test_plan_on_free_memory_uses_what_is_free_now(tmp_path: Path) -> None:
    from gpuplan.hardware import load_host

    host = load_host("2x RTX 4090")
    busy = host.gpus[0].model_copy(update={"vram_free_mb": 3000, "vram_used_mb": 21564})
    saved = tmp_path / "host.json"
    saved.write_text(host.model_copy(update={"gpus": (busy, host.gpus[1])}).model_dump_json())
    total = plan_body("--hardware", str(saved))
    free = plan_body("--hardware", str(saved), "--on", "free")
    assert [g["usable_mb"] for g in total["gpus"]] == [22516, 22516]
    assert [g["usable_mb"] for g in free["gpus"]] == [3000, 22516]
