"""What the server knows, loaded once at start-up and on demand afterwards.

Start-up never fails because of the machine: a detection or profile error is
kept and every route that needs the missing piece answers 503 with the reason
(seed 001: "Profile management not initialized").

Everything loaded lives in one frozen ``Snapshot``. Re-detection builds a new
snapshot aside and swaps it in with one assignment, so a request in flight
reads either the old answer or the new one, never a half-cleared state; two
re-detections at once are serialized by a lock so neither undoes the other.
A request reads ``state.current`` once and keeps that snapshot to the end.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import HTTPException, Request

from gpuplan.errors import GpuplanError
from gpuplan.hardware import Host, load_host
from gpuplan.models.registry import load_registry
from gpuplan.planning import host_candidates, selection_policy
from gpuplan.profiles import Resolution, resolve_here
from gpuplan.selection.candidates import Candidate
from gpuplan.selection.select import RoleSelector

__all__ = [
    "ServerSettings",
    "ServerState",
    "Snapshot",
    "get_state",
    "require_host",
    "require_resolution",
    "require_selector",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ServerSettings:
    """How the server was started: the same choices the CLI flags make."""

    hardware: str | None = None
    profile: str | None = None
    headroom_mb: int | None = None
    services: str | None = None
    """Services file for preview and PUT (``--services`` / ``GPUPLAN_SERVICES``)."""
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


@dataclass(frozen=True)
class Snapshot:
    """One consistent load: hardware, then the profile, then the models, each needing the last."""

    host: Host | None = None
    resolution: Resolution | None = None
    candidates: tuple[Candidate, ...] | None = None
    errors: Mapping[str, str] = field(default_factory=dict)


class ServerState:
    """The current snapshot and how to replace it."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.current = Snapshot(errors={"hardware": "hardware detection has not run"})
        self.service_errors: dict[str, str] = {}
        """Problems of services beside the snapshot (the store), kept across re-detection."""
        self._reload = threading.Lock()

    # the fields routes and /health read, from the current snapshot
    @property
    def host(self) -> Host | None:
        return self.current.host

    @property
    def resolution(self) -> Resolution | None:
        return self.current.resolution

    @property
    def candidates(self) -> tuple[Candidate, ...] | None:
        return self.current.candidates

    @property
    def startup_errors(self) -> dict[str, str]:
        """What failed to load: the snapshot's steps, then the services beside it."""
        return {**self.current.errors, **self.service_errors}

    def start(self, *, refresh: bool = False) -> Snapshot:
        """(Re)load everything into a new snapshot, then swap it in; returns it."""
        with self._reload:
            snapshot = self._load(refresh=refresh)
            self.current = snapshot  # one reference assignment: atomic for readers
            return snapshot

    def _load(self, *, refresh: bool) -> Snapshot:
        errors: dict[str, str] = {}
        settings = self.settings
        host = _step(
            errors,
            "hardware",
            lambda: load_host(settings.hardware, refresh=refresh, headroom_mb=settings.headroom_mb),
        )
        if host is None:
            return Snapshot(errors=errors)
        resolved = _step(errors, "profile", lambda: resolve_here(host, settings.profile))
        if resolved is None:
            return Snapshot(host=host, errors=errors)
        resolution = resolved[0]
        for warning in resolution.warnings:
            log.warning(warning)
        candidates = _step(errors, "models", lambda: host_candidates(host, load_registry()))
        if candidates is not None:
            log.info("Loaded %d model variants from the registry", len(candidates))
        return Snapshot(host, resolution, candidates, errors)


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


def _snapshot(request: Request) -> Snapshot:
    """The snapshot this request uses throughout (read once, cached on the request)."""
    cached = getattr(request.state, "gpuplan_snapshot", None)
    if isinstance(cached, Snapshot):
        return cached
    snapshot = get_state(request).current
    request.state.gpuplan_snapshot = snapshot
    return snapshot


def _host_of(snapshot: Snapshot) -> Host:
    if snapshot.host is None:
        reason = snapshot.errors.get("hardware", "hardware detection has not run")
        raise HTTPException(status_code=503, detail=f"hardware not initialized: {reason}")
    return snapshot.host


def _resolution_of(snapshot: Snapshot) -> Resolution:
    _host_of(snapshot)
    if snapshot.resolution is None:
        reason = snapshot.errors.get("profile", "profile resolution has not run")
        raise HTTPException(status_code=503, detail=f"profile management not initialized: {reason}")
    return snapshot.resolution


def require_host(request: Request) -> Host:
    """The host, or 503 saying why it is not there."""
    return _host_of(_snapshot(request))


def require_resolution(request: Request) -> Resolution:
    """The active profile, or 503 (seed 001: profile management not initialized)."""
    return _resolution_of(_snapshot(request))


def require_selector(request: Request) -> RoleSelector:
    """A role selector under the active profile, or 503 saying what is missing."""
    snapshot = _snapshot(request)
    host = _host_of(snapshot)
    resolution = _resolution_of(snapshot)
    if snapshot.candidates is None:
        reason = snapshot.errors.get("models", "the model registry has not been loaded")
        raise HTTPException(status_code=503, detail=f"model registry not initialized: {reason}")
    return RoleSelector(snapshot.candidates, selection_policy(resolution, host))
