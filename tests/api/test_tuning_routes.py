"""Seed 003's tuning routes, in process: profile shapes, from-context, start, progress."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.api.conftest import ClientFactory

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _tuning_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "tuning.sqlite3"
    monkeypatch.setenv("GPUPLAN_TUNING_DB", str(path))
    return path


async def test_list_profiles_has_seed_shape(client_for: ClientFactory) -> None:
    async with client_for(hardware="cpu") as client:
        response = await client.get("/api/profiles/")
    assert response.status_code == 200
    body = response.json()
    assert [p["name"] for p in body] == [
        "quick-test", "balanced", "low-latency", "high-throughput", "cost-optimization",
        "production",
    ]  # fmt: skip
    balanced = next(p for p in body if p["name"] == "balanced")
    assert set(balanced) == {
        "name", "description", "use_case", "tags", "recommended_for", "layers_count"
    }  # fmt: skip
    assert balanced["layers_count"] == 1


async def test_profile_details_and_404(client_for: ClientFactory) -> None:
    async with client_for(hardware="cpu") as client:
        ok = await client.get("/api/profiles/balanced")
        missing = await client.get("/api/profiles/nope")
    assert ok.json() == {
        "name": "balanced",
        "description": "Balanced configuration exploring common parameter ranges",
        "use_case": "General purpose testing, exploring parameter space",
        "tags": ["balanced", "general", "exploration"],
        "recommended_for": ["general", "exploration", "baseline"],
        "layers_count": 1,
        "layer_names": ["balanced-params"],
    }
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "TuningProfileNotFoundError"


async def test_from_context_returns_generated_config(client_for: ClientFactory) -> None:
    body = {
        "model_name": "llama-3-2-1b-instruct",
        "base_runtime": "sglang",
        "deployment_mode": "docker",
        "profiles": ["low-latency", "production"],
        "user_overrides": {"optimization": {"max_iterations": 5}},
        "total_gpus": 1,
    }
    async with client_for(hardware="cpu") as client:
        response = await client.post("/api/tasks/from-context", json=body)
        again = await client.post("/api/tasks/from-context", json=body)
        task = await client.get(f"/api/tasks/{response.json()['task_name']}")
    assert response.status_code == 201
    generated = response.json()["generated_config"]
    assert generated["optimization"]["objective"] == "minimize_latency"
    assert generated["optimization"]["max_iterations"] == 5
    assert generated["optimization"]["timeout_per_iteration"] == 900
    assert generated["parameters"] == {"tp-size": [1], "mem-fraction-static": [0.7, 0.8]}
    assert generated["benchmark"]["traffic_scenarios"] == ["D(100,100)"]
    assert generated["benchmark"]["num_concurrency"] == [1, 4, 8]
    p90 = generated["slo"]["latency"]["p90"]
    assert p90 == {"threshold": 5.0, "weight": 3.0, "hard_fail": True, "fail_ratio": 0.2}
    assert set(generated["slo"]["ttft"]) == {"threshold", "weight", "hard_fail", "fail_ratio"}
    assert again.json()["task_name"] != response.json()["task_name"]
    plan = task.json()["plan"]
    assert plan[0]["argv"][:3] == ["docker", "run", "--rm"]
    assert '"device=0"' in plan[0]["argv"]


async def test_bad_context_is_400_with_the_reason(client_for: ClientFactory) -> None:
    async with client_for(hardware="cpu") as client:
        response = await client.post(
            "/api/tasks/from-context",
            json={"model_name": "m", "base_runtime": "sglang", "profiles": ["high-throughput"],
                  "total_gpus": 2},
        )  # fmt: skip
        duplicate = {"model_name": "m", "base_runtime": "vllm", "task_name": "same"}
        first = await client.post("/api/tasks/from-context", json=duplicate)
        second = await client.post("/api/tasks/from-context", json=duplicate)
        unknown = await client.get("/api/tasks/nope/results")
    assert response.status_code == 400
    assert "none of [4, 8] fits total_gpus=2" in response.json()["detail"]
    assert first.status_code == 201 and second.status_code == 400
    assert unknown.status_code == 404


async def test_start_follow_and_read_results(client_for: ClientFactory, tmp_path: Path) -> None:
    missing_model = tmp_path / "absent.gguf"
    body = {
        "model_name": str(missing_model),
        "base_runtime": "llamacpp",
        "deployment_mode": "local",
        "task_name": "will-fail",
        "user_overrides": {
            "parameters": {"parallel": [1, 2]},
            "optimization": {"timeout_per_iteration": 20},
        },
    }
    async with client_for(hardware="cpu") as client:
        created = await client.post("/api/tasks/from-context", json=body)
        assert created.status_code == 201
        started = await client.post("/api/tasks/will-fail/start")
        assert started.status_code == 202
        for _ in range(400):
            progress = (await client.get("/api/tasks/will-fail/progress")).json()
            if progress["status"] in {"done", "failed"}:
                break
            await asyncio.sleep(0.05)
        results = (await client.get("/api/tasks/will-fail/results")).json()
    assert progress["status"] == "done"
    assert progress["completed"] == progress["total"] == 2
    assert [e["score"]["status"] for e in results["experiments"]] == ["failed", "failed"]
    assert results["best"] is None
    assert results["best_reason"].startswith("no configuration to deploy: 2 failed")
