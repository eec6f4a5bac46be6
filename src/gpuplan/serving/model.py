"""The serving stage's data: what a services-file entry says, and what is running.

A serving entry is a seed-004 placement service (``name``, ``model``/``models``/
``vram_mb``, ``role``, ``latency_sensitive``, ``gpu``, ``engine``,
``vram_budget_override_mb`` — the same field names as
``gpuplan.placement.model.Service``, so one services file feeds both) plus how to
run it when gpuplan does not render its launch config: llama-swap's ``cmd`` (an
argument list with a ``${PORT}`` macro) and ``health`` (its health path), and the
keep-alive knobs of Ollama (``grace_period_seconds`` per service, ``-1`` =
forever, ``0`` = unload after the request) and ``pinned``. Memory is MiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FOREVER", "BackendState", "ServiceSpec", "ServicesDocument", "StatusEntry"]

FOREVER = -1
"""``grace_period_seconds = -1``: keep the model loaded until it must make room."""

BackendState = Literal["loading", "ready", "stopping"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServiceSpec(_Frozen):
    """One service the proxy may start: a placement service plus how to run it."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
        description="Service name; requests name it as their `model`, and /v1/models lists it.",
    )
    model: str | None = Field(default=None, description="Registry id or discovered file id.")
    models: tuple[str, ...] = Field(
        default=(), description="A model zoo served by this one backend (seed 004)."
    )
    vram_mb: int | None = Field(default=None, ge=0, description="MiB it needs in all.")
    role: str | None = Field(default=None, description="Role it serves ('chat', 'caption', …).")
    latency_sensitive: bool = Field(default=False, description="On the critical request path.")
    gpu: int | None = Field(default=None, description="Pinned GPU index; None = any GPU.")
    gpus: int = Field(
        default=1, ge=1, description="GPUs it spans (tensor parallel); as placement's file."
    )
    quantization: str | None = Field(
        default=None, description="Variant of `model` to estimate (default: the profile's)."
    )
    engine: str | None = Field(default=None, description="Serving engine, when known.")
    vram_budget_override_mb: int | None = Field(
        default=None, ge=0, description="Budget the user set; it wins over vram_mb."
    )
    cmd: tuple[str, ...] = Field(
        default=(),
        description="Command and arguments, one token each; ${PORT} is the port to listen on. "
        "Empty: rendered from `engine` and `model` by gpuplan.launch.",
    )
    env: Mapping[str, str] = Field(
        default_factory=dict, description="Environment to add; ${PORT} is resolved here too."
    )
    health: str = Field(default="/health", description="Path that answers 200 once ready.")
    aliases: tuple[str, ...] = Field(default=(), description="Other names requests may use.")
    pinned: bool = Field(
        default=False, description="Loaded at start-up and never evicted (Ollama keep_alive -1+)."
    )
    grace_period_seconds: int | None = Field(
        default=None,
        ge=-1,
        description="Keep-alive after the last request; -1 forever, 0 unload at once; "
        "None: the profile's grace_period_seconds.",
    )
    autostart_timeout_seconds: int | None = Field(
        default=None, ge=1, description="Start-up bound; None: the profile's value."
    )
    priority: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Eviction priority (higher stays longer); None: the model's role_priority.",
    )

    @model_validator(mode="after")
    def _costed(self) -> ServiceSpec:
        # An entry the proxy cannot start (no cmd, no engine + model) is still a valid
        # placement service — the same file feeds placement and the GPU-config routes —
        # so it is not refused here; the proxy leaves it out (see ``runnable``).
        if self.vram_mb is None and self.model is None and self.vram_budget_override_mb is None:
            raise ValueError(
                f"service {self.name!r} says neither vram_mb nor model: add vram_mb "
                "(MiB it needs) or a registry model id to estimate it from"
            )
        if not self.health.startswith("/"):
            raise ValueError(f"service {self.name!r}: health must be a path such as '/health'")
        return self

    @property
    def runnable(self) -> bool:
        """Whether the proxy can start it: a ``cmd``, or an ``engine`` and a ``model``."""
        return bool(self.cmd) or (self.engine is not None and self.model is not None)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a request may use for this service: its name, then its aliases."""
        return (self.name, *self.aliases)

    @property
    def served_models(self) -> tuple[str, ...]:
        return ((self.model,) if self.model else ()) + self.models


class ServicesDocument(_Frozen):
    """A services file: ``services`` as a list of entries."""

    services: tuple[ServiceSpec, ...] = Field(default=(), description="The services.")


class StatusEntry(_Frozen):
    """One loaded service in ``GET /api/serving/status`` (and ``gpuplan ps``)."""

    name: str = Field(description="Service name.")
    model: str | None = Field(description="Model it serves, when known.")
    state: BackendState = Field(description="'loading', 'ready' or 'stopping'.")
    where: str = Field(description="'GPU 0', 'GPU 0,1' or 'CPU'.")
    gpus: tuple[int, ...] = Field(description="GPU indices; empty on CPU.")
    port: int = Field(description="Port the backend listens on (127.0.0.1).")
    pid: int | None = Field(description="Process id of the backend's process group leader.")
    vram_estimate_mb: int = Field(description="Memory the budget charges it, MiB.")
    vram_measured_mb: int | None = Field(
        description="Memory NVML reports for its processes, MiB; None without NVML."
    )
    rss_mb: int | None = Field(description="Resident host memory of its processes, MiB.")
    in_flight: int = Field(description="Requests it is answering now.")
    idle_seconds: float = Field(description="Seconds since its last request finished.")
    keep_alive_seconds: int = Field(description="Its keep-alive; -1 = forever.")
    keep_alive_left_seconds: float | None = Field(
        description="Seconds until it is unloaded if idle; None = never (pinned or forever)."
    )
    pinned: bool = Field(description="Never unloaded to make room (the service says pinned).")
    log_file: str = Field(description="Its stdout/stderr log.")
