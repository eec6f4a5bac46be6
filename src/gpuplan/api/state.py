"""What the server knows, loaded once at start-up and on demand afterwards.

Start-up never fails because of the machine: a detection or profile error is
kept and every route that needs the missing piece answers 503 with the reason
(seed 001: "Profile management not initialized").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from gpuplan.errors import GpuplanError
from gpuplan.hardware import Host, load_host
from gpuplan.models.candidates import Candidate
from gpuplan.models.registry import load_registry
from gpuplan.models.select import RoleSelector
from gpuplan.planning import host_candidates, selection_policy
from gpuplan.profiles import Resolution, resolve_here

log = logging.getLogger(__name__)


@dataclass
class ServerSettings:
    """How the server was started: the same choices the CLI flags make."""

    hardware: str | None = None
    profile: str | None = None
    headroom_mb: int | None = None


@dataclass
class ServerState:
    settings: ServerSettings
    host: Host | None = None
    resolution: Resolution | None = None
    candidates: tuple[Candidate, ...] | None = None
    startup_errors: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        """Load hardware, then the profile; keep what fails for the 503 answers."""
        try:
            self.load_hardware()
            self.load_profile()
            self.load_models()
        except GpuplanError:
            pass  # recorded in startup_errors by the loader that failed

    def load_models(self) -> tuple[Candidate, ...]:
        """Registry variants costed for the host's largest GPU (seed 001 loads them once)."""
        if self.host is None:
            raise RuntimeError("load_hardware() must succeed before load_models()")
        try:
            self.candidates = host_candidates(self.host, load_registry())
            self.startup_errors.pop("models", None)
        except GpuplanError as error:
            self.candidates = None
            self.startup_errors["models"] = str(error)
            log.error("model registry could not be loaded: %s", error)
            raise
        log.info("Loaded %d model variants from the registry", len(self.candidates))
        return self.candidates

    def load_profile(self) -> Resolution:
        """Resolve the active profile for the loaded host (flag > env > config > auto)."""
        if self.host is None:
            raise RuntimeError("load_hardware() must succeed before load_profile()")
        try:
            self.resolution, _catalog = resolve_here(self.host, self.settings.profile)
            self.startup_errors.pop("profile", None)
        except GpuplanError as error:
            self.resolution = None
            self.startup_errors["profile"] = str(error)
            log.error("profile could not be resolved: %s", error)
            raise
        for warning in self.resolution.warnings:
            log.warning(warning)
        return self.resolution

    def load_hardware(self, *, refresh: bool = False) -> Host:
        try:
            self.host = load_host(
                self.settings.hardware, refresh=refresh, headroom_mb=self.settings.headroom_mb
            )
            self.startup_errors.pop("hardware", None)
        except GpuplanError as error:
            self.startup_errors["hardware"] = str(error)
            log.error("hardware could not be loaded: %s", error)
            raise
        return self.host


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
