"""One renderer per serving engine, all with the same signature: LaunchRequest → LaunchConfig.

Each module names the engine release whose flags it emits (``ENGINE_VERSION``);
``tests/launch/data/flags/`` holds each release's flag set, extracted from the
engine's own argument parser by ``scripts/extract_engine_flags.py``, and the tests
check every rendered flag against it.
"""

from __future__ import annotations

from collections.abc import Callable

from gpuplan.errors import LaunchError
from gpuplan.launch.engines import llama_cpp, ollama, sglang, tensorrt_llm, vllm
from gpuplan.launch.model import LaunchConfig, LaunchRequest

__all__ = ["ENGINE_VERSIONS", "RENDERERS", "default_image", "render"]

Renderer = Callable[[LaunchRequest], LaunchConfig]

_MODULES = {
    "vllm": vllm,
    "sglang": sglang,
    "llama.cpp": llama_cpp,
    "ollama": ollama,
    "tensorrt-llm": tensorrt_llm,
}

RENDERERS: dict[str, Renderer] = {engine: module.render for engine, module in _MODULES.items()}
"""Engine id → renderer."""

ENGINE_VERSIONS: dict[str, str] = {
    engine: module.ENGINE_VERSION for engine, module in _MODULES.items()
}
"""Engine id → the release whose flags its renderer emits."""


def default_image(engine: str, *, amd: bool, gpus: bool = True) -> str | None:
    """The container image gpuplan runs ``engine`` in (launch files and tuning alike)."""
    module = _MODULES.get(engine)
    return None if module is None else module.default_image(amd=amd, gpus=gpus)


def render(request: LaunchRequest) -> LaunchConfig:
    """How ``request``'s service is started: argv, env, image, health path and notes."""
    renderer = RENDERERS.get(request.engine)
    if renderer is None:
        raise LaunchError(
            f"service {request.service!r}: gpuplan cannot launch engine {request.engine!r}",
            hint="serve it with one of " + ", ".join(sorted(RENDERERS)) + " (set `engine`)",
        )
    return renderer(request)
