"""--concurrency: every model's KV cache holds N sequences, from fit to the launch line.

A self-hoster serving 8 parallel chat users needs the KV cache sized for 8
sequences; a plan costed for one picks a model that then runs out of memory (or
queues). These hold the number through fit, selection, the services file,
placement, the engine flags and the CLI, and that the default stays one.
"""

from __future__ import annotations

import json
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gpuplan.apply.services import config_from_services
from gpuplan.cli.main import app
from gpuplan.hardware import Host, load_host
from gpuplan.memory.vram import estimate_variant, variant_vram
from gpuplan.models.registry import ModelEntry, Registry, load_registry
from gpuplan.placement.services import load_services
from gpuplan.planning import Plan, fit_rows, make_plan
from gpuplan.profiles import resolve_here
from gpuplan.selection.candidates import planning_context

SERVICES = """\
services:
  - name: chat
    model: qwen3-8b
    quantization: Q4_K_M
    role: llm
"""


@cache
def _registry() -> Registry:
    return load_registry(user=False)


def _entries() -> list[ModelEntry]:
    return list(_registry())


@cache
def _plan(spec: str, roles: tuple[str, ...], concurrency: int) -> Plan:
    host = load_host(spec)
    resolution, _ = resolve_here(host)
    return make_plan(host, resolution, _entries(), roles=roles, concurrency=concurrency)


def _per_gpu_mb(host: Host, model_id: str, quantization: str, gpus: int, concurrency: int) -> int:
    """The estimator's own figure for a pick, per GPU, at ``concurrency`` sequences."""
    entry = _registry().get(model_id)
    variant = next(v for v in entry.variants if v.quantization == quantization)
    tokens = planning_context(entry, 4096)
    sizes = sorted(host.device_totals_mb(), reverse=True)[:gpus]
    if tokens is None or variant.vram_estimate_mb is not None or entry.hf_config is None:
        return variant_vram(entry, variant, tokens, gpu_memory_mb=min(sizes)).vram_mb
    return estimate_variant(
        entry,
        variant,
        context=tokens,
        concurrency=concurrency,
        tensor_parallel=gpus,
        gpu_memory_mb=min(sizes),
    ).total_mb


def test_eight_chat_users_on_a_4090_get_a_model_whose_kv_for_eight_fits() -> None:
    host = load_host("RTX 4090")
    (budget,) = host.device_budgets_mb()
    one, eight = _plan("RTX 4090", ("chat",), 1), _plan("RTX 4090", ("chat",), 8)
    assert (one.concurrency, eight.concurrency) == (1, 8)
    assert {row.concurrency for row in eight.fitting} == {8}
    (alone,), (shared,) = one.selection.models, eight.selection.models
    # the model chosen for one user would need more than the GPU holds for eight...
    assert _per_gpu_mb(host, alone.model_id, alone.quantization, alone.gpus, 8) > budget
    # ...so eight users get another, whose KV cache for 8 × 4,096 tokens fits
    assert (shared.model_id, shared.quantization) != (alone.model_id, alone.quantization)
    assert _per_gpu_mb(host, shared.model_id, shared.quantization, shared.gpus, 8) <= budget
    assert shared.vram_estimate_mb == _per_gpu_mb(
        host, shared.model_id, shared.quantization, shared.gpus, 8
    )
    # and fewer variants fit at 8 than at 1
    assert {(r.model_id, r.quantization) for r in eight.fitting} < {
        (r.model_id, r.quantization) for r in one.fitting
    }


def test_the_launch_line_carries_the_concurrency() -> None:
    (config,) = _plan("RTX 4090", ("chat",), 8).launch
    assert config.engine == "llama.cpp"
    line = shlex.join(config.argv)
    # llama.cpp divides --ctx-size among its slots, so it is context x slots
    assert "--parallel 8" in line and "--ctx-size 32768" in line
    (single,) = _plan("RTX 4090", ("chat",), 1).launch
    assert "--parallel 1" in shlex.join(single.argv)


def test_the_default_is_one_sequence() -> None:
    host = load_host("RTX 4090")
    resolution, _ = resolve_here(host)
    default = make_plan(host, resolution, _entries(), roles=("chat",))
    assert default == _plan("RTX 4090", ("chat",), 1)
    assert default.concurrency == 1


@pytest.mark.parametrize(
    ("engine", "flag"),
    [("vllm", "--max-num-seqs 8"), ("sglang", "--max-running-requests 8")],
)
def test_render_gives_each_engine_its_own_flag(tmp_path: Path, engine: str, flag: str) -> None:
    services = tmp_path / "services.yml"
    services.write_text(
        f"services:\n  - name: chat\n    model: llama-3.1-8b\n    role: llm\n    engine: {engine}\n"
    )
    result = CliRunner().invoke(
        app,
        ["render", engine, "--services", str(services), "--hardware", "RTX 4090",
         "--concurrency", "8", "-o", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    argv = json.loads((tmp_path / "out" / f"chat.{engine}.json").read_text())["argv"]
    assert flag in shlex.join(argv)


def test_a_services_file_is_costed_for_the_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "services.yml"
    path.write_text(SERVICES + "  - name: detector\n    vram_mb: 650\n")
    one = {s.name: s for s in load_services(path, entries=_entries())}
    eight = {s.name: s for s in load_services(path, entries=_entries(), concurrency=8)}
    assert eight["chat"].vram_mb > one["chat"].vram_mb
    assert eight["detector"].vram_mb == one["detector"].vram_mb == 650  # as the user wrote it
    body = _plan_json("--services", str(path), "--hardware", "RTX 4090", "-n", "8")
    assert body["concurrency"] == 8
    assert body["assignments"][0]["vram_budget_mb"] == eight["chat"].vram_mb
    assert "--parallel 8" in shlex.join(body["launch"][0]["argv"])


def test_apply_places_for_the_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "services.yml"
    path.write_text(SERVICES)
    host = load_host("RTX 3060 12GB")
    config, warnings = config_from_services(path, host, "vram_based")
    assert warnings == ()
    crowded, warned = config_from_services(path, host, "vram_based", concurrency=12)
    assert crowded.services[0].vram_budget_mb > config.services[0].vram_budget_mb
    assert any("requires" in warning for warning in warned)


def test_apply_cli_takes_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUPLAN_DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv("PATH", str(tmp_path))  # no Compose: a dry run says which it would use
    services = tmp_path / "services.yml"
    services.write_text(SERVICES)
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  chat:\n    image: example/chat\n")

    def dry(*extra: str) -> dict[str, Any]:
        result = CliRunner().invoke(
            app,
            ["apply", "--services", str(services), "--compose-file", str(compose),
             "--hardware", "RTX 3060 12GB", "--dry-run", "--json", *extra],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        body: dict[str, Any] = json.loads(result.stdout)
        return body

    assert not any("requires" in w for w in dry()["warnings"])
    assert any("requires" in w for w in dry("--concurrency", "12")["warnings"])
    assert not (tmp_path / "never.db").exists()


def _plan_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["plan", "--json", *args])
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def test_fit_and_select_speak_the_same_flag() -> None:
    runner = CliRunner()
    fit = runner.invoke(app, ["fit", "--hardware", "RTX 4090", "--role", "chat", "-n", "8"])
    assert fit.exit_code == 0, fit.output
    assert "× 8 sequences" in fit.output
    body = json.loads(
        runner.invoke(app, ["fit", "--hardware", "RTX 4090", "--concurrency", "8", "--json"]).stdout
    )
    assert body["concurrency"] == 8 and {m["concurrency"] for m in body["models"]} == {8}
    chosen = runner.invoke(
        app, ["select", "--roles", "chat", "--hardware", "RTX 4090", "--concurrency", "8",
              "--json"],
    )  # fmt: skip
    assert chosen.exit_code == 0, chosen.output
    picks = json.loads(chosen.stdout)["picks"]
    assert [p["model_id"] for p in picks] == [
        p.model_id for p in _plan("RTX 4090", ("chat",), 8).selection.picks
    ]
    for command in ("plan", "render", "apply", "fit", "select", "estimate"):
        assert "--concurrency" in runner.invoke(app, [command, "--help"]).output
    zero = runner.invoke(app, ["plan", "--hardware", "RTX 4090", "--concurrency", "0"])
    assert zero.exit_code == 2


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(
    spec=st.sampled_from(["RTX 4090", "RTX 3060 12GB", "2x RTX 4080"]),
    concurrency=st.integers(min_value=1, max_value=24),
)
def test_no_pick_exceeds_its_budget_at_its_concurrency(spec: str, concurrency: int) -> None:
    """Whatever the concurrency, every loaded model's estimate *at that concurrency*
    fits the GPUs it is placed on, and raising it never lets more variants fit."""
    host = load_host(spec)
    plan = _plan(spec, ("chat", "embedding"), concurrency)
    budgets = sorted(host.device_budgets_mb(), reverse=True)
    used: dict[int, int] = {}
    for assignment in plan.assignments:
        for index in assignment.gpu_indices:
            share = assignment.vram_budget_mb // len(assignment.gpu_indices)
            used[index] = used.get(index, 0) + share
    assert all(used[i] <= host.device_budgets_mb()[i] for i in used), plan.warnings
    for model in plan.selection.models:
        per_gpu = _per_gpu_mb(host, model.model_id, model.quantization, model.gpus, concurrency)
        assert per_gpu <= budgets[model.gpus - 1], (model.model_id, concurrency)
        assert (model.vram_per_gpu_mb or model.vram_estimate_mb) == per_gpu
    more = fit_rows(host, _entries(), context=4096, concurrency=concurrency + 4)
    fitting_more = {(r.model_id, r.quantization) for r in more if r.fits}
    assert fitting_more <= {(r.model_id, r.quantization) for r in plan.fitting}
