"""Running Compose: which runtime is installed, and the exact commands apply runs.

Commands are argument lists, never shell strings. The runtime is ``docker
compose`` (Compose v2 plugin), ``podman-compose`` or ``podman compose``:
``--runtime`` picks the family, otherwise the first that answers wins. Every
subprocess goes through ``gpuplan.hardware.tools.run_tool`` (PATH lookup,
timeout, own process group) — the one place gpuplan starts programs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpuplan.apply.model import RuntimeName
from gpuplan.errors import ApplyError
from gpuplan.hardware.tools import ToolFailure, run_tool, which

__all__ = [
    "RECREATE_TIMEOUT_S",
    "ComposeRuntime",
    "container_states",
    "detect_runtime",
    "recreate",
    "recreate_argv",
]

RECREATE_TIMEOUT_S = 900.0
"""Recreating a container can pull an image; a quarter of an hour is generous."""

PROBE_TIMEOUT_S = 15.0

ComposeRuntime = tuple[str, ...]
"""The Compose command's prefix: ('docker', 'compose'), ('podman-compose',), …"""


def _answers(argv: list[str]) -> bool:
    try:
        run_tool(argv, timeout_s=PROBE_TIMEOUT_S)
    except ToolFailure:
        return False
    return True


def detect_runtime(preference: RuntimeName | None = None) -> ComposeRuntime:
    """The Compose command to use; ``ApplyError`` naming what to install when none is."""
    if (
        preference in (None, "docker")
        and which("docker")
        and _answers(["docker", "compose", "version"])
    ):
        return ("docker", "compose")
    if preference in (None, "podman"):
        if which("podman-compose"):
            return ("podman-compose",)
        if which("podman") and _answers(["podman", "compose", "version"]):
            return ("podman", "compose")
    wanted = {
        None: "docker compose, podman-compose or podman compose",
        "docker": "docker compose (the Compose v2 plugin)",
        "podman": "podman-compose or podman compose",
    }[preference]
    raise ApplyError(
        f"no container runtime found: {wanted} is not installed or does not answer",
        hint="install one, or pick another with --runtime docker|podman",
    )


def recreate_argv(
    runtime: ComposeRuntime, compose_file: Path, override_file: Path, service: str
) -> tuple[str, ...]:
    """Seed 004's command: ``-f BASE -f OVERRIDE up -d --force-recreate --no-deps SERVICE``."""
    return (
        *runtime,
        "-f",
        str(compose_file),
        "-f",
        str(override_file),
        "up",
        "-d",
        "--force-recreate",
        "--no-deps",
        service,
    )


def recreate(argv: tuple[str, ...]) -> None:
    """Run one recreate command; ``ToolFailure`` says which and why when it fails."""
    run_tool(list(argv), timeout_s=RECREATE_TIMEOUT_S)


def _service_of(row: dict[str, Any]) -> str | None:
    service = row.get("Service")
    if isinstance(service, str):
        return service
    labels = row.get("Labels")
    if isinstance(labels, dict):
        value = labels.get("com.docker.compose.service")
        return value if isinstance(value, str) else None
    if isinstance(labels, str):  # docker: "k=v,k=v"
        for pair in labels.split(","):
            key, _, value = pair.partition("=")
            if key == "com.docker.compose.service":
                return value
    return None


def parse_ps(text: str) -> dict[str, str]:
    """Service → health or state from ``ps --format json`` (docker: lines; podman: array)."""
    stripped = text.strip()
    rows: list[Any]
    if not stripped:
        return {}
    if stripped.startswith("["):
        rows = json.loads(stripped)
    else:
        rows = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    states: dict[str, str] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        service = _service_of(row)
        if service is None:
            continue
        health = row.get("Health")
        state = row.get("State")
        states[service] = str(health or state or row.get("Status") or "unknown")
    return states


def container_states(
    runtime: ComposeRuntime, compose_file: Path, override_file: Path
) -> dict[str, str] | str:
    """Each service's container health/state, or why it could not be asked."""
    argv = [*runtime, "-f", str(compose_file)]
    if override_file.exists():
        argv += ["-f", str(override_file)]
    argv += ["ps", "--format", "json"]
    try:
        return parse_ps(run_tool(argv, timeout_s=PROBE_TIMEOUT_S))
    except ToolFailure as failure:
        return str(failure)
    except (ValueError, TypeError) as error:
        return f"{' '.join(argv)}: unreadable output ({error})"
