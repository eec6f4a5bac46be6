"""What the server knows, loaded once at start-up and on demand afterwards.

Start-up never fails because of the machine: a detection or profile error is
kept and every route that needs the missing piece answers 503 with the reason
(seed 001: "Profile management not initialized").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException, Request

from gpuplan.errors import GpuplanError
from gpuplan.hardware import Host, load_host
from gpuplan.models.registry import load_registry
from gpuplan.planning import host_candidates, selection_policy
from gpuplan.profiles import Resolution, resolve_here
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.select import RoleSelector

if TYPE_CHECKING:
    import httpx

    from gpuplan.serving.scheduler import Scheduler

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class ServerSettings:
    """How the server was started: the same choices the CLI flags make."""

    hardware: str | None = None
    profile: str | None = None
    headroom_mb: int | None = None
    services: str | None = None
    """Services file (``--services`` / ``GPUPLAN_SERVICES``): the OpenAI-compatible proxy
    serves its entries; the GPU-config routes preview and PUT it."""
    compose_file: str | None = None
    """Base Compose file apply recreates through (``--compose-file``)."""
    runtime: str | None = None
    """'docker' or 'podman'; None = whichever is installed."""
    database_url: str | None = None
    """None = ``GPUPLAN_DATABASE_URL`` or the SQLite file in the user data dir."""
    bind_host: str = "127.0.0.1"
    """Where the server listens; beyond loopback, mutating routes need ``token``."""
    token: str | None = None
    """Bearer token for mutating routes; required whenever ``bind_host`` is not loopback."""
    queue_limit: int = 16
    """Requests that may wait for a model swap before the proxy answers 503."""
    serving_log_dir: str | None = None
    """Where backend logs go; None: $XDG_STATE_HOME/gpuplan/serving."""


@dataclass
class Serving:
    """The running proxy: its scheduler, its pooled backend client, its role ranking."""

    scheduler: Scheduler
    client: httpx.AsyncClient
    started_at: float
    ranked_models: Any = None


@dataclass
class ServerState:
    settings: ServerSettings
    host: Host | None = None
    resolution: Resolution | None = None
    candidates: tuple[Candidate, ...] | None = None
    startup_errors: dict[str, str] = field(default_factory=dict)
    serving: Serving | None = None

    async def start_serving(self) -> None:
        """Build and start the proxy's scheduler when a services file is configured.

        A bad services file is kept in ``startup_errors['serving']`` like any
        other start-up failure; the proxy routes then answer 503 with it.
        """
        import os
        import time

        from gpuplan.api.forward import new_backend_client
        from gpuplan.serving.build import build_scheduler
        from gpuplan.serving.services import SERVICES_ENV, load_serving_services

        path = self.settings.services or os.environ.get(SERVICES_ENV) or None
        if path is None or self.host is None or self.resolution is None:
            return
        host, resolution = self.host, self.resolution
        specs = self._step("serving", lambda: load_serving_services(path))
        if specs is None:
            return
        selector = None
        if self.candidates is not None:
            selector = RoleSelector(self.candidates, selection_policy(resolution, host))
        total = resolution.profile.max_vram_mb
        if host.gpus:
            total = selector.policy.max_vram_mb if selector else host.total_usable_vram_mb
        log_dir = Path(self.settings.serving_log_dir) if self.settings.serving_log_dir else None
        scheduler = build_scheduler(
            specs,
            profile=resolution.profile,
            host=host,
            total_mb=total,
            selector=selector,
            log_dir=log_dir,
            queue_limit=self.settings.queue_limit,
        )
        ranked = None
        if selector is not None:
            chosen = selector

            def ranked(role: str) -> list[str]:
                try:
                    return [c.model_id for c in chosen.ranked_models(role)]
                except GpuplanError:
                    return []

        self.serving = Serving(scheduler, new_backend_client(), time.time(), ranked)
        await scheduler.start()
        log.info("Serving %d services from %s", len(specs), path)

    async def stop_serving(self) -> None:
        """Stop every backend and close the backend client."""
        if self.serving is not None:
            await self.serving.scheduler.close()
            await self.serving.client.aclose()

    def start(self, *, refresh: bool = False) -> None:
        """(Re)load hardware, then the profile, then the models, each needing the last.

        A step that fails leaves its field None and its reason in
        ``startup_errors``, and the steps after it are skipped; routes that need
        a missing piece answer 503 with that reason.
        """
        self.resolution = self.candidates = None
        self.host = self._step(
            "hardware",
            lambda: load_host(
                self.settings.hardware, refresh=refresh, headroom_mb=self.settings.headroom_mb
            ),
        )
        host = self.host
        if host is None:
            return
        resolved = self._step("profile", lambda: resolve_here(host, self.settings.profile))
        if resolved is None:
            return
        self.resolution = resolved[0]
        for warning in self.resolution.warnings:
            log.warning(warning)
        self.candidates = self._step("models", lambda: host_candidates(host, load_registry()))
        if self.candidates is not None:
            log.info("Loaded %d model variants from the registry", len(self.candidates))

    def _step(self, name: str, load: Callable[[], T]) -> T | None:
        try:
            value = load()
        except GpuplanError as error:
            self.startup_errors[name] = str(error)
            log.error("%s could not be loaded: %s", name, error)
            return None
        self.startup_errors.pop(name, None)
        return value


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.gpuplan
    return state


def require_host(request: Request) -> Host:
    """The host, or 503 saying why it is not there."""
    state = get_state(request)
    if state.host is None:
        reason = state.startup_errors.get("hardware", "hardware detection has not run")
        raise HTTPException(status_code=503, detail=f"hardware not initialized: {reason}")
    return state.host


def require_resolution(request: Request) -> Resolution:
    """The active profile, or 503 (seed 001: profile management not initialized)."""
    state = get_state(request)
    require_host(request)
    if state.resolution is None:
        reason = state.startup_errors.get("profile", "profile resolution has not run")
        raise HTTPException(status_code=503, detail=f"profile management not initialized: {reason}")
    return state.resolution


def require_selector(request: Request) -> RoleSelector:
    """A role selector under the active profile, or 503 saying what is missing."""
    state = get_state(request)
    host = require_host(request)
    resolution = require_resolution(request)
    if state.candidates is None:
        reason = state.startup_errors.get("models", "the model registry has not been loaded")
        raise HTTPException(status_code=503, detail=f"model registry not initialized: {reason}")
    return RoleSelector(state.candidates, selection_policy(resolution, host))


async def require_serving(request: Request) -> Serving:
    """The running proxy, or 503 saying why there is none."""
    state = get_state(request)
    if state.serving is None:
        reason = state.startup_errors.get("serving") or state.startup_errors.get(
            "profile", state.startup_errors.get("hardware")
        )
        detail = (
            f"serving not initialized: {reason}"
            if reason
            else "serving not configured: start `gpuplan serve --services FILE` "
            "(or set GPUPLAN_SERVICES)"
        )
        raise HTTPException(status_code=503, detail=detail)
    return state.serving
