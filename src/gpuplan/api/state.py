"""What the server knows, loaded once at start-up and on demand afterwards.

Start-up never fails because of the machine: a detection or profile error is
kept and every route that needs the missing piece answers 503 with the reason
(seed 001: "Profile management not initialized").

Re-detection builds the new hardware, profile and models aside and only then
puts them in place as one ``Loaded`` snapshot (a single attribute store), without
ever clearing them first, so a request in flight reads the old answer or the new
one, never a mix of the two or a half-loaded server's 503; routes that need
several pieces take the snapshot once (``require_selector``). Two re-detections at
once are serialized by a lock so neither undoes the other.
"""

from __future__ import annotations

import logging
import threading
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
    """Where the server listens: its names are the Host headers accepted (security.py),
    and beyond loopback, mutating routes need ``token`` (auth.py)."""
    token: str | None = None
    """Bearer token for mutating routes; required whenever ``bind_host`` is not loopback."""
    allowed_hosts: tuple[str, ...] = ()
    """More Host names to accept (a reverse proxy's name), beyond the bound ones."""
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


@dataclass(frozen=True)
class Loaded:
    """Hardware, profile and models as one re-detection left them: swapped in whole."""

    host: Host | None = None
    resolution: Resolution | None = None
    candidates: tuple[Candidate, ...] | None = None


@dataclass
class ServerState:
    settings: ServerSettings
    loaded: Loaded = field(default_factory=Loaded)
    startup_errors: dict[str, str] = field(default_factory=dict)
    serving: Serving | None = None

    @property
    def host(self) -> Host | None:
        return self.loaded.host

    @property
    def resolution(self) -> Resolution | None:
        return self.loaded.resolution

    @property
    def candidates(self) -> tuple[Candidate, ...] | None:
        return self.loaded.candidates

    async def start_serving(self) -> None:
        """Build and start the proxy's scheduler when a services file is configured.

        A bad services file is kept in ``startup_errors['serving']`` like any
        other start-up failure; the proxy routes then answer 503 with it.
        """
        import os
        import time

        from gpuplan.api.forward import new_backend_client
        from gpuplan.serving.build import build_scheduler
        from gpuplan.serving.services import (
            SERVICES_ENV,
            load_serving_services,
            proxied_services,
            unproxied_warning,
        )

        path = self.settings.services or os.environ.get(SERVICES_ENV) or None
        loaded = self.loaded
        host, resolution = loaded.host, loaded.resolution
        if path is None or host is None or resolution is None:
            return
        errors: dict[str, str] = {}
        specs = _step(errors, "serving", lambda: load_serving_services(path))
        if specs is None:
            self.startup_errors.update(errors)
            return
        self.startup_errors.pop("serving", None)
        left_out = unproxied_warning(specs)  # `gpuplan serve` printed it; log it for the record
        if left_out:
            log.info("%s: %s", path, left_out)
        specs = proxied_services(specs)
        selector = None
        if loaded.candidates is not None:
            selector = RoleSelector(loaded.candidates, selection_policy(resolution, host))
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
        a missing piece answer 503 with that reason. Everything is loaded aside
        first and swapped in at the end (see the module docstring).
        """
        with _RELOAD:
            errors: dict[str, str] = {}
            loaded = Loaded(*self._load(errors, refresh=refresh))
            kept = {k: v for k, v in self.startup_errors.items() if k not in _STEPS}
            self.loaded = loaded
            self.startup_errors = {**kept, **errors}

    def _load(
        self, errors: dict[str, str], *, refresh: bool
    ) -> tuple[Host | None, Resolution | None, tuple[Candidate, ...] | None]:
        settings = self.settings
        host = _step(
            errors,
            "hardware",
            lambda: load_host(settings.hardware, refresh=refresh, headroom_mb=settings.headroom_mb),
        )
        if host is None:
            return None, None, None
        resolved = _step(errors, "profile", lambda: resolve_here(host, settings.profile))
        if resolved is None:
            return host, None, None
        resolution = resolved[0]
        for warning in resolution.warnings:
            log.warning(warning)
        candidates = _step(errors, "models", lambda: host_candidates(host, load_registry()))
        if candidates is not None:
            log.info("Loaded %d model variants from the registry", len(candidates))
        return host, resolution, candidates


_RELOAD = threading.Lock()
_STEPS = ("hardware", "profile", "models")


def _step(errors: dict[str, str], name: str, load: Callable[[], T]) -> T | None:
    try:
        return load()
    except GpuplanError as error:
        errors[name] = str(error)
        log.error("%s could not be loaded: %s", name, error)
        return None


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
    require_resolution(request)  # 503 with the reason when hardware or profile is missing
    loaded = state.loaded  # one snapshot: host, profile and models from one detection
    host, resolution, candidates = loaded.host, loaded.resolution, loaded.candidates
    if candidates is None or host is None or resolution is None:
        reason = state.startup_errors.get("models", "the model registry has not been loaded")
        raise HTTPException(status_code=503, detail=f"model registry not initialized: {reason}")
    return RoleSelector(candidates, selection_policy(resolution, host))


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
