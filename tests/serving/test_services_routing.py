"""Services files, request routing and the profile → scheduler wiring (pure, no processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuplan.errors import BackendStartError, ServicesFileError, UnknownServiceError
from gpuplan.hardware import load_host
from gpuplan.models.registry import load_registry
from gpuplan.planning import host_candidates, selection_policy
from gpuplan.profiles import resolve_here
from gpuplan.selection.select import RoleSelector
from gpuplan.serving import ServiceSpec, load_serving_services, parse_serving_services
from gpuplan.serving.build import build_scheduler
from gpuplan.serving.command import backend_command
from gpuplan.serving.routing import resolve_service
from gpuplan.serving.services import proxied_services, unproxied_warning


def spec(name: str, **fields: object) -> ServiceSpec:
    return ServiceSpec.model_validate(
        {"name": name, "cmd": ["srv", "${PORT}"], "vram_mb": 1, **fields}
    )


def test_services_file_as_list_or_mapping(tmp_path: Path) -> None:
    listed = tmp_path / "s.yaml"
    listed.write_text(
        "services:\n  - name: chat\n    cmd: [llama-server, --port, '${PORT}']\n    vram_mb: 6000\n"
    )
    [chat] = load_serving_services(listed)
    assert (chat.name, chat.health, chat.vram_mb) == ("chat", "/health", 6000)
    mapped = tmp_path / "s.toml"
    mapped.write_text('[services.embed]\ncmd = ["srv", "${PORT}"]\nmodel = "bge-m3"\n')
    [embed] = load_serving_services(mapped)
    assert (embed.name, embed.model) == ("embed", "bge-m3")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"services": [{"name": "x", "cmd": ["a"]}]},
            "services[0] (x): Value error, service 'x' says neither vram_mb nor model",
        ),
        ({"services": [{"name": "x", "cmd": ["a"], "vram_mb": 1, "gpu_index": 0}]}, "gpu_index"),
        (
            {
                "services": [
                    {"name": "x", "cmd": ["a"], "vram_mb": 1},
                    {"name": "y", "cmd": ["a"], "vram_mb": 1, "aliases": ["x"]},
                ]
            },
            "name 'x' is used by both 'x' and 'y'",
        ),
        ({"models": []}, "no 'services' list"),
    ],
)
def test_services_file_errors_name_the_entry_and_field(document: object, message: str) -> None:
    with pytest.raises(ServicesFileError, match=r"s\.yaml") as error:
        parse_serving_services(document, origin="s.yaml")
    assert message in str(error.value)


def test_services_the_proxy_cannot_start_are_kept_for_placement_but_not_proxied() -> None:
    specs = parse_serving_services(
        {
            "services": [
                {"name": "compose-only", "vram_mb": 650},
                {"name": "zoo", "models": ["a", "b"], "vram_mb": 6963},
                {"name": "rendered", "model": "qwen3-8b", "engine": "llama.cpp"},
                {"name": "own", "cmd": ["srv", "${PORT}"], "vram_mb": 1},
            ]
        },
        origin="s.yaml",
    )
    assert [s.name for s in specs] == ["compose-only", "zoo", "rendered", "own"]
    assert [s.name for s in proxied_services(specs)] == ["rendered", "own"]
    warning = unproxied_warning(specs)
    assert warning is not None and "compose-only, zoo" in warning and "rendered" not in warning
    assert unproxied_warning(proxied_services(specs)) is None


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServicesFileError, match="does not exist"):
        load_serving_services(tmp_path / "nope.yaml")


def test_port_macro_is_resolved_in_argv_and_env_and_unknown_macros_fail() -> None:
    command = backend_command(spec("a", env={"URL": "http://127.0.0.1:${PORT}"}), 4321)
    assert command.argv == ("srv", "4321")
    assert command.env == {"URL": "http://127.0.0.1:4321"}
    with pytest.raises(BackendStartError, match=r"unknown macro \$\{PROT\}"):
        backend_command(spec("b", cmd=["srv", "${PROT}"]), 1)


def test_routing_by_name_alias_model_and_role() -> None:
    services = [
        spec("chat", aliases=["assistant"], model="qwen2.5-7b-instruct", role="chat"),
        spec("cap-small", role="caption", priority=10),
        spec("cap-big", role="caption", priority=90),
        spec("vision", model="qwen2.5-vl-7b-instruct"),
    ]
    assert resolve_service("chat", services).name == "chat"
    assert resolve_service("assistant", services).name == "chat"
    assert resolve_service("qwen2.5-7b-instruct", services).name == "chat"
    assert resolve_service("role:caption", services).name == "cap-big"
    assert resolve_service("role:caption", services, loaded={"cap-small"}).name == "cap-small"
    ranked = {"caption": ["not-served", "qwen2.5-vl-7b-instruct"]}
    assert (
        resolve_service("role:caption", services, ranked_models=ranked.__getitem__).name == "vision"
    )
    with pytest.raises(UnknownServiceError, match="no service serves role 'reasoning'"):
        resolve_service("role:reasoning", services)
    with pytest.raises(UnknownServiceError) as error:
        resolve_service("gpt-4", services)
    assert "chat, cap-small, cap-big, vision" in str(error.value.hint)


def test_scheduler_takes_the_profile_budget_and_registry_estimates() -> None:
    host = load_host("2x RTX 4090")
    resolution, *_ = resolve_here(host, None)
    selector = RoleSelector(
        host_candidates(host, load_registry(user=False)), selection_policy(resolution, host)
    )
    services = [
        ServiceSpec(name="embed", cmd=("srv",), model="bge-m3", role="embedding"),
        ServiceSpec(name="fixed", cmd=("srv",), vram_mb=5000, model="bge-m3"),
    ]
    scheduler = build_scheduler(
        services, profile=resolution.profile, host=host, total_mb=selector.policy.max_vram_mb,
        selector=selector,
    )  # fmt: skip
    config = scheduler.config
    assert config.strategy == resolution.profile.strategy
    assert config.max_concurrent_models == resolution.profile.max_concurrent_models
    assert config.grace_period_seconds == resolution.profile.grace_period_seconds
    assert sorted(config.gpu_usable_mb) == [0, 1]
    assert all(v == host.usable_vram_mb(host.gpus[0]) for v in config.gpu_usable_mb.values())
    bge = next(c for c in selector.fitting_models() if c.model_id == "bge-m3")
    assert scheduler.vram_of(services[0]) == bge.vram_estimate_mb > 0
    assert scheduler.vram_of(services[1]) == 5000  # vram_mb wins over the estimate
    assert scheduler.priorities["embed"] == bge.role_priority["embedding"]


def test_a_service_without_cmd_is_rendered_by_the_launch_stage(tmp_path: Path) -> None:
    import gpuplan.launch

    model = tmp_path / "tiny.gguf"
    service = ServiceSpec(name="tiny", engine="llamacpp", model=str(model), vram_mb=100)
    if not hasattr(gpuplan.launch, "render"):
        with pytest.raises(BackendStartError, match="cannot render launch configs"):
            backend_command(service, 4567)
        return
    command = backend_command(service, 4567, gpus={0: 22000})
    assert "4567" in command.argv and str(model) in command.argv
    assert command.health_path.startswith("/")


def test_one_services_file_feeds_placement_and_serving(tmp_path: Path) -> None:
    from gpuplan.placement.services import load_services

    path = tmp_path / "services.yaml"
    path.write_text(
        "services:\n"
        "  - name: chat\n    model: qwen3-8b\n    role: chat\n    gpu: 0\n"
        "    cmd: [llama-server, --port, '${PORT}']\n    health: /health\n"
        "    aliases: [assistant]\n    pinned: true\n    grace_period_seconds: -1\n"
        "  - name: embed\n    vram_mb: 900\n    cmd: [srv, '${PORT}']\n"
    )
    placed = load_services(path)
    served = load_serving_services(path)
    assert [s.name for s in placed] == [s.name for s in served] == ["chat", "embed"]
    assert placed[0].gpu == served[0].gpu == 0 and served[0].pinned
