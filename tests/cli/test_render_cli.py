"""`gpuplan render`: the plan's files written atomically into a folder, or printed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import kubernetes_validate
import yaml
from typer.testing import CliRunner

from gpuplan.cli.main import app


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["render", *args])
    return result.exit_code, result.output


def test_k8s_manifests_for_the_plans_own_selection(tmp_path: Path) -> None:
    code, out = _run("k8s", "--hardware", "2x RTX 4090", "-o", str(tmp_path))
    assert code == 0, out
    assert "Wrote 1 file(s)" in out
    docs = [d for d in yaml.safe_load_all((tmp_path / "gpuplan-k8s.yaml").read_text()) if d]
    assert any(d["kind"] == "Deployment" for d in docs)
    for doc in docs:
        kubernetes_validate.validate(doc, "1.37.0", strict=True)
    for doc in docs:
        if doc["kind"] == "Deployment":
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            limits = container.get("resources", {}).get("limits", {})
            assert set(limits) <= {"nvidia.com/gpu", "nvidia.com/gpu.shared"}
            assert all(1 <= count <= 2 for count in limits.values())  # a 2-GPU host


def test_engine_target_writes_argv_json_and_an_executable_script(tmp_path: Path) -> None:
    code, out = _run("llama.cpp", "--hardware", "RTX 4090", "--roles", "chat", "-o", str(tmp_path))
    assert code == 0, out
    (launch,) = tmp_path.glob("*.llama.cpp.json")
    data = json.loads(launch.read_text())
    assert data["argv"][0] == "llama-server"
    assert data["engine_version"] == "0c1e57098"
    assert data["env"]["CUDA_VISIBLE_DEVICES"] == "0"
    assert set(data) >= {"engine", "engine_version", "argv", "env", "image"}
    script = tmp_path / f"{data['service']}.sh"
    assert os.access(script, os.X_OK)
    assert "exec llama-server --hf-repo" in script.read_text()


def test_prints_without_a_folder() -> None:
    code, out = _run("k8s", "--hardware", "RTX 4090", "--roles", "chat")
    assert code == 0, out
    assert "kind: Deployment" in out


def test_unknown_target_and_absent_engine_are_one_line_errors() -> None:
    code, out = _run("helm", "--hardware", "RTX 4090")
    assert code == 1 and out.startswith("Error: unknown render target 'helm'")
    code, out = _run("tensorrt-llm", "--hardware", "RTX 4090", "--roles", "chat")
    assert code == 1 and "no service in this plan is served with tensorrt-llm" in out
    code, out = _run("k8s", "--hardware", "RTX 4090", "--on", "later")
    assert code == 1 and "--on 'later' is not total or free" in out


def test_explicit_set_flags_win_and_the_namespace_is_applied(tmp_path: Path) -> None:
    code, out = _run(
        "llama.cpp",
        "--hardware",
        "RTX 4090",
        "--roles",
        "chat",
        "--set",
        "ctx-size=2048",
        "--set",
        "LLAMA_ARG_THREADS=8",
        "-o",
        str(tmp_path),
    )
    assert code == 0, out
    (launch,) = tmp_path.glob("*.llama.cpp.json")
    data = json.loads(launch.read_text())
    assert data["argv"][data["argv"].index("--ctx-size") + 1] == "2048"
    assert data["env"]["LLAMA_ARG_THREADS"] == "8"
    assert any("explicit flag" in note for note in data["notes"])
    code, out = _run("k8s", "--hardware", "RTX 4090", "--roles", "chat", "--namespace", "ai")
    assert code == 0, out
    assert "namespace: ai" in out


SEED004 = Path(__file__).resolve().parents[2] / "examples" / "seed004-services.yml"


def test_compose_podman_and_assignments_for_seed_004(tmp_path: Path) -> None:
    base = ["--hardware", "RTX A5500, RTX A400", "--services", str(SEED004), "-o", str(tmp_path)]
    for target in ("compose", "podman"):
        code, out = _run(target, *base)
        assert code == 0, out
        override = yaml.safe_load((tmp_path / "docker-compose.gpu-override.yml").read_text())
        enrichment = override["services"]["ai-enrichment"]
        (device,) = enrichment["deploy"]["resources"]["reservations"]["devices"]
        assert device == {"driver": "nvidia", "device_ids": ["1"], "capabilities": ["gpu"]}
        assert enrichment["environment"] == ["VRAM_BUDGET_GB=3.5"]
    code, out = _run("assignments", *base)
    assert code == 0, out
    text = (tmp_path / "gpu-assignments.yml").read_text()
    assert "ai-enrichment: { gpu: 1, vram_budget: 3.5 }" in text


def test_two_engines_placed_on_one_gpu_start_and_fit_together() -> None:
    from gpuplan.cli.render_files import _placed
    from gpuplan.launch import render
    from tests.launch.memory_model import check_coresidents

    example = Path(__file__).resolve().parents[2] / "examples" / "shared-gpu-services.yml"
    placed = _placed("RTX 4090", None, "chat", 4096, None, None, "vram_based", example, "total")
    pairs = [(request, render(request)) for request in placed.requests]
    assert sorted(config.engine for _, config in pairs) == ["sglang", "vllm"]
    assert {request.gpus[0].index for request, _ in pairs} == {0}
    assert check_coresidents(pairs) >= 0
    embed = next(request for request, _ in pairs if request.engine == "sglang")
    assert embed.role == "embedding" and "--is-embedding" in render(embed).argv


def test_render_and_plan_launch_every_service_identically(tmp_path: Path) -> None:
    """`render ENGINE` and `plan --json` reach the launch lines by the same path: a
    co-resident memory fraction or TP size must never differ between the two."""
    for hardware in ("RTX 6000 Pro", "MI300X", "2x RTX 4090"):
        result = CliRunner().invoke(app, ["plan", "--hardware", hardware, "--json"])
        assert result.exit_code == 0, result.output
        planned = {c["service"]: c for c in json.loads(result.stdout)["launch"]}
        rendered: dict[str, dict[str, object]] = {}
        for engine in sorted({c["engine"] for c in planned.values()}):
            folder = tmp_path / hardware.replace(" ", "_") / engine
            code, out = _run(engine, "--hardware", hardware, "-o", str(folder))
            assert code == 0, out
            for path in folder.glob("*.json"):
                config = json.loads(path.read_text())
                rendered[config["service"]] = config
        assert set(rendered) == set(planned), hardware
        for service, config in rendered.items():
            assert config["argv"] == planned[service]["argv"], (hardware, service)
            assert config["env"] == planned[service]["env"], (hardware, service)
