"""How a service is started: its argument list and environment, macros resolved here only.

A services-file entry gives ``cmd`` (llama-swap style, ``${PORT}`` in it); an
entry with an ``engine`` and a ``model`` but no ``cmd`` is rendered by
``gpuplan.launch.render`` (the launch stage's ``LaunchConfig``: argv, env,
health path). Either way ``${PORT}`` becomes the port the proxy chose, in argv
and env alike, and an unknown macro is an error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gpuplan.errors import BackendStartError, GpuplanError
from gpuplan.serving.model import ServiceSpec

__all__ = ["Command", "backend_command", "resolve_macros"]

_MACRO = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    env: dict[str, str]
    health_path: str


def resolve_macros(text: str, values: Mapping[str, str], *, where: str) -> str:
    """``text`` with each ``${NAME}`` replaced from ``values``; unknown names are errors."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join("${" + key + "}" for key in values)
            raise BackendStartError(
                f"{where}: unknown macro ${{{name}}}", hint=f"macros gpuplan knows: {known}"
            )
        return values[name]

    return _MACRO.sub(replace, text)


def _resolve_all(
    argv: Sequence[str], env: Mapping[str, str], values: Mapping[str, str], name: str
) -> tuple[tuple[str, ...], dict[str, str]]:
    return (
        tuple(resolve_macros(token, values, where=f"service {name!r} cmd") for token in argv),
        {
            key: resolve_macros(value, values, where=f"service {name!r} env {key}")
            for key, value in env.items()
        },
    )


def backend_command(
    spec: ServiceSpec, port: int, *, gpus: Mapping[int, int] | None = None
) -> Command:
    """The command that starts ``spec`` listening on ``port`` on ``gpus`` (index → MiB)."""
    values = {"PORT": str(port), "MODEL_ID": spec.model or spec.name}
    if spec.cmd:
        argv, env = _resolve_all(spec.cmd, spec.env, values, spec.name)
        return Command(argv=argv, env=env, health_path=spec.health)
    return _rendered(spec, port, values, gpus or {})


def _rendered(
    spec: ServiceSpec, port: int, values: Mapping[str, str], gpus: Mapping[int, int]
) -> Command:
    from gpuplan.memory.engines import normalize_engine

    try:
        from gpuplan.launch import render  # type: ignore[attr-defined,unused-ignore]
        from gpuplan.launch.model import LaunchRequest
    except ImportError as error:
        raise BackendStartError(
            f"service {spec.name!r} has no cmd and this gpuplan cannot render launch configs",
            hint='give the service a cmd, e.g. ["llama-server", "--port", "${PORT}", ...]',
        ) from error
    try:
        engine = normalize_engine(spec.engine or "")
    except GpuplanError as error:
        raise BackendStartError(
            f"service {spec.name!r}: {error.message}", hint=error.hint
        ) from error
    request = LaunchRequest.model_validate(
        {
            "service": spec.name,
            "model_id": spec.model,
            "model_source": spec.model,
            "engine": engine,
            "quantization": spec.quantization or "auto",
            "vram_budget_mb": spec.vram_budget_override_mb or spec.vram_mb or 0,
            "port": port,
            "gpus": [{"index": index, "total_mb": mib} for index, mib in gpus.items()],
            # Behind the proxy a backend listens on loopback only, whatever a container wants.
            "overrides": (
                {"OLLAMA_HOST": f"127.0.0.1:{port}"}
                if engine == "ollama"
                else {"host": "127.0.0.1"}
            ),
        }
    )
    try:
        config = render(request)
    except GpuplanError as error:
        raise BackendStartError(
            f"service {spec.name!r}: no launch config: {error.message}", hint=error.hint
        ) from error
    argv, env = _resolve_all(config.argv, {**config.env, **spec.env}, values, spec.name)
    return Command(argv=argv, env=env, health_path=config.health_path)
