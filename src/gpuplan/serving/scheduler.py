"""The scheduler: leases backends to requests, loading, evicting and expiring them.

It asks the pure policy (``policy.plan_load``) what to do and does it with the
process machinery (``process``). One swap at a time (a lock), as Ollama's
scheduler does; requests that need a model being loaded wait in a bounded
queue, and past the bound get ``QueueFullError`` (503 + Retry-After). A request
for a model that is ready never waits for a swap. Keep-alive expiry, crash
detection and memory refresh run in one background loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gpuplan.errors import (
    BackendFailedError,
    BackendStartError,
    CannotFitError,
    QueueFullError,
    UnknownServiceError,
)
from gpuplan.serving.command import backend_command
from gpuplan.serving.metrics import ServingMetrics
from gpuplan.serving.model import FOREVER, BackendState, ServiceSpec, StatusEntry
from gpuplan.serving.policy import (
    Budget,
    Requested,
    Resident,
    co_residence_limit,
    effective_gpu_capacity,
    evict_all_others,
    expired,
    plan_load,
)
from gpuplan.serving.process import BackendProcess, free_port, wait_healthy

__all__ = ["Backend", "Scheduler", "SchedulerConfig", "looks_like_oom"]

log = logging.getLogger(__name__)

_OOM = re.compile(
    r"out of memory|\bOOM\b|cudaMalloc failed|failed to allocate|CUBLAS_STATUS_ALLOC_FAILED|"
    r"not enough memory|insufficient memory",
    re.IGNORECASE,
)


def looks_like_oom(log_text: str) -> bool:
    """Does a failed start's log say it ran out of (GPU) memory?"""
    return bool(_OOM.search(log_text))


@dataclass(frozen=True)
class SchedulerConfig:
    """The active profile's serving policy, plus the proxy's own bounds."""

    strategy: str = "load_unload"
    max_concurrent_models: int = 1
    total_mb: int | None = None
    gpu_usable_mb: Mapping[int, int] = field(default_factory=dict)
    grace_period_seconds: int = 300
    autostart_timeout_seconds: int = 120
    queue_limit: int = 16
    queue_timeout_seconds: float = 600.0
    stop_grace_seconds: float = 10.0
    log_dir: Path = Path("gpuplan-logs")
    tick_seconds: float = 0.2


@dataclass
class Backend:
    """One service's running backend, as the scheduler tracks it."""

    spec: ServiceSpec
    process: BackendProcess
    port: int
    gpus: tuple[int, ...]
    vram_mb: int
    keep_alive_seconds: int
    priority: int
    state: BackendState = "loading"
    in_flight: int = 0
    last_used: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return self.spec.name

    def idle_seconds(self, now: float) -> float:
        return 0.0 if self.in_flight else max(0.0, now - self.last_used)


class Scheduler:
    """Keeps the loaded backends within the profile's budget, on behalf of requests."""

    def __init__(
        self,
        services: Sequence[ServiceSpec],
        config: SchedulerConfig,
        *,
        estimates_mb: Mapping[str, int] | None = None,
        priorities: Mapping[str, int] | None = None,
        gpu_used_now: Callable[[], Mapping[int, int] | None] | None = None,
        measure_pids: Callable[[list[int]], Mapping[int, int] | None] | None = None,
        metrics: ServingMetrics | None = None,
    ) -> None:
        self.services = {spec.name: spec for spec in services}
        self.config = config
        self.estimates_mb = dict(estimates_mb or {})
        self.priorities = dict(priorities or {})
        self._gpu_used_now = gpu_used_now
        self._measure_pids = measure_pids
        self.metrics = metrics or ServingMetrics()
        self.running: dict[str, Backend] = {}
        self.last_errors: dict[str, str] = {}
        self._load_seconds: dict[str, float] = {}
        self._waiting = 0
        self._swap = asyncio.Lock()
        self._changed = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()

    # -- life cycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start the background loop and preload pinned services (failures are kept)."""
        self._ticker = asyncio.create_task(self._tick_forever())
        for spec in self.services.values():
            if spec.pinned:
                try:
                    backend = await self.acquire(spec.name)
                except (BackendStartError, CannotFitError) as error:
                    log.error("pinned service %s did not start: %s", spec.name, error)
                    self.last_errors[spec.name] = str(error)
                else:
                    self.release(backend)

    async def close(self) -> None:
        """Stop every backend (graceful, then forced) and the background loop."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await asyncio.gather(
            *(self._stop(b, "shutdown") for b in list(self.running.values())),
            return_exceptions=True,
        )
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    def kill_all_now(self) -> None:
        """Last resort at interpreter exit: SIGKILL every backend group."""
        for backend in self.running.values():
            backend.process.kill_now()

    # -- leases -----------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return self._waiting

    async def acquire(self, name: str) -> Backend:
        """A ready backend for service ``name``, loading it (and evicting) if needed."""
        spec = self.services.get(name)
        if spec is None:
            raise UnknownServiceError(f"no service named {name!r}")
        ready = self._ready(name)
        if ready is not None:
            ready.in_flight += 1
            return ready
        if self._waiting >= self.config.queue_limit:
            self.metrics.queue_rejected.inc()
            raise QueueFullError(
                f"{self._waiting} requests already wait for a model to load "
                f"(queue limit {self.config.queue_limit}); {name!r} is not ready",
                retry_after_seconds=self._retry_after(name),
                hint="retry after the Retry-After seconds, or raise --queue-limit",
            )
        self._waiting += 1
        self.metrics.queue_depth.set(self._waiting)
        try:
            return await self._acquire_waiting(spec)
        finally:
            self._waiting -= 1
            self.metrics.queue_depth.set(self._waiting)

    async def _acquire_waiting(self, spec: ServiceSpec) -> Backend:
        deadline = time.monotonic() + self.config.queue_timeout_seconds
        while True:
            changed = self._changed
            async with self._swap:
                backend = self._ready(spec.name)
                old = self.running.get(spec.name)
                if backend is None and (old is None or old.state != "stopping"):
                    decision = plan_load(self._requested(spec), self._residents(), self._budget())
                    if decision.action == "refuse":
                        raise CannotFitError(
                            decision.reason,
                            hint="raise max_vram_mb / max_concurrent_models, unpin a service, "
                            "or lower this service's vram_mb",
                        )
                    if decision.action == "load":
                        for victim in decision.evict:
                            await self._stop(self.running[victim], "evicted")
                        backend = await self._load(spec, decision.gpus)
                if backend is not None:
                    backend.in_flight += 1
                    return backend
            left = deadline - time.monotonic()
            if left <= 0:
                raise QueueFullError(
                    f"{spec.name!r} waited {self.config.queue_timeout_seconds:g} s for busy "
                    "models to finish",
                    retry_after_seconds=self._retry_after(spec.name),
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(left, 1.0))

    def release(self, backend: Backend) -> None:
        """The request is done with ``backend``; unload it now if its keep-alive is 0."""
        backend.in_flight = max(0, backend.in_flight - 1)
        backend.last_used = time.monotonic()
        if (
            backend.in_flight == 0
            and backend.keep_alive_seconds == 0
            and not backend.spec.pinned
            and self.running.get(backend.name) is backend
        ):
            self._stop_soon(backend, "keep_alive")
        self._notify()

    async def failure(self, backend: Backend, error: Exception) -> BackendFailedError:
        """The error for a request whose connection to ``backend`` broke."""
        code = await backend.process.wait_exit(1.0)
        if code is not None:
            self._forget(backend, f"exited with status {code}")
            return BackendFailedError(
                f"backend {backend.name!r} exited with status {code} while answering",
                hint=f"the next request restarts it; its log: {backend.process.log_path}",
            )
        return BackendFailedError(
            f"backend {backend.name!r} broke off the request: {type(error).__name__}: {error}",
            hint=f"see its log {backend.process.log_path}",
        )

    # -- status -----------------------------------------------------------------

    def status(self) -> list[StatusEntry]:
        """Each loaded service; call from the event loop (the table changes under it)."""
        now = time.monotonic()
        entries = []
        for backend in list(self.running.values()):  # routes run on the loop; be safe anyway
            keep = -1 if backend.spec.pinned else backend.keep_alive_seconds
            left = None
            if keep >= 0:
                left = max(0.0, keep - backend.idle_seconds(now))
            entries.append(
                StatusEntry(
                    name=backend.name,
                    model=backend.spec.model,
                    state=backend.state,
                    where="GPU " + ",".join(map(str, backend.gpus)) if backend.gpus else "CPU",
                    gpus=backend.gpus,
                    port=backend.port,
                    pid=backend.process.pid,
                    vram_estimate_mb=backend.vram_mb,
                    vram_measured_mb=self._measured(backend),
                    rss_mb=backend.process.rss_mb(),
                    in_flight=backend.in_flight,
                    idle_seconds=round(backend.idle_seconds(now), 3),
                    keep_alive_seconds=keep,
                    keep_alive_left_seconds=None if left is None else round(left, 3),
                    pinned=backend.spec.pinned,
                    log_file=str(backend.process.log_path),
                )
            )
        return entries

    # -- internals --------------------------------------------------------------

    def _measured(self, backend: Backend) -> int | None:
        """MiB NVML sees the backend's processes hold on its GPUs; None without NVML."""
        if self._measure_pids is None:
            return None
        held = self._measure_pids(backend.process.group_pids())
        return None if held is None else sum(held.values())

    def _ready(self, name: str) -> Backend | None:
        backend = self.running.get(name)
        if backend is None or backend.state != "ready":
            return None
        code = backend.process.returncode
        if code is not None:
            self._forget(backend, f"exited with status {code}")
            return None
        return backend

    def _forget(self, backend: Backend, why: str) -> None:
        if self.running.get(backend.name) is backend:
            del self.running[backend.name]
            self.last_errors[backend.name] = why
            self.metrics.evictions.labels(backend.name, "crashed").inc()
            self.metrics.loaded.set(len(self.running))
            log.warning("backend %s %s; the next request restarts it", backend.name, why)
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def vram_of(self, spec: ServiceSpec) -> int:
        for value in (spec.vram_budget_override_mb, spec.vram_mb):
            if value is not None:
                return value
        return self.estimates_mb.get(spec.name, 0)

    def _keep_alive(self, spec: ServiceSpec) -> int:
        if spec.pinned:
            return FOREVER
        if spec.grace_period_seconds is not None:
            return spec.grace_period_seconds
        return self.config.grace_period_seconds

    def _requested(self, spec: ServiceSpec) -> Requested:
        gpus = sorted(self.config.gpu_usable_mb)
        options: tuple[tuple[int, ...], ...]
        if not gpus:
            options = ((),)
        elif spec.gpu is not None:
            options = (tuple(range(spec.gpu, spec.gpu + spec.gpus)),)
        elif spec.gpus > 1:
            options = tuple(
                tuple(gpus[i : i + spec.gpus]) for i in range(len(gpus) - spec.gpus + 1)
            )
        else:
            options = tuple((index,) for index in gpus)
        return Requested(name=spec.name, vram_mb=self.vram_of(spec), options=options)

    def _residents(self) -> list[Resident]:
        now = time.monotonic()
        return [
            Resident(
                name=b.name,
                gpus=b.gpus,
                vram_mb=b.vram_mb,
                busy=b.in_flight > 0 or b.state != "ready",
                idle_seconds=b.idle_seconds(now),
                keep_alive_seconds=b.keep_alive_seconds,
                pinned=b.spec.pinned,
                priority=b.priority,
            )
            for b in self.running.values()
        ]

    def _budget(self) -> Budget:
        config = self.config
        used_now = self._gpu_used_now() if self._gpu_used_now else None
        ours: dict[int, int] = {}
        for backend in self.running.values():
            for index in backend.gpus:
                ours[index] = ours.get(index, 0) + math.ceil(backend.vram_mb / len(backend.gpus))
        return Budget(
            max_models=co_residence_limit(config.strategy, config.max_concurrent_models),
            total_mb=config.total_mb,
            gpu_capacity_mb=effective_gpu_capacity(config.gpu_usable_mb, used_now, ours),
        )

    def _retry_after(self, name: str) -> int:
        return max(1, math.ceil(self._load_seconds.get(name, 5.0)))

    async def _load(self, spec: ServiceSpec, gpus: tuple[int, ...]) -> Backend:
        try:
            return await self._start(spec, gpus)
        except BackendStartError as error:
            if error.timed_out or not looks_like_oom(str(error.hint or "") + str(error)):
                raise
            victims = evict_all_others(spec.name, self._residents())
            if not victims:
                raise
            log.warning("%s failed for memory; evicting %s and retrying once", spec.name, victims)
            for victim in victims:
                await self._stop(self.running[victim], "evicted")
            return await self._start(spec, gpus)

    async def _start(self, spec: ServiceSpec, gpus: tuple[int, ...]) -> Backend:
        port = free_port()
        capacity = self.config.gpu_usable_mb
        command = backend_command(spec, port, gpus={i: capacity.get(i, 0) for i in gpus})
        env = dict(command.env)
        if gpus:
            env.setdefault("CUDA_VISIBLE_DEVICES", ",".join(map(str, gpus)))
        log_path = self.config.log_dir / f"{spec.name.replace('/', '_')}.log"
        started = time.monotonic()
        process = BackendProcess.spawn(command.argv, env, log_path)
        backend = Backend(
            spec=spec,
            process=process,
            port=port,
            gpus=gpus,
            vram_mb=self.vram_of(spec),
            keep_alive_seconds=self._keep_alive(spec),
            priority=spec.priority
            if spec.priority is not None
            else self.priorities.get(spec.name, 0),
        )
        self.running[spec.name] = backend
        self.metrics.loaded.set(len(self.running))
        timeout = spec.autostart_timeout_seconds or self.config.autostart_timeout_seconds
        try:
            await wait_healthy(
                process,
                backend.url + command.health_path,
                timeout=timeout,
                name=spec.name,
                port=port,
            )
        except BaseException as error:
            await process.stop(0)
            if self.running.get(spec.name) is backend:
                del self.running[spec.name]
            self.metrics.loaded.set(len(self.running))
            self.metrics.loads.labels(spec.name, "failed").inc()
            if isinstance(error, BackendStartError):
                tail = process.log_tail(5)
                self.last_errors[spec.name] = str(error)
                if tail and looks_like_oom(tail):
                    error.hint = f"{error.hint}; log says: {tail.splitlines()[-1]}"
            self._notify()
            raise
        backend.state = "ready"
        backend.last_used = time.monotonic()
        elapsed = time.monotonic() - started
        self._load_seconds[spec.name] = elapsed
        self.metrics.loads.labels(spec.name, "ok").inc()
        self.metrics.load_seconds.labels(spec.name).observe(elapsed)
        self.last_errors.pop(spec.name, None)
        log.info("loaded %s on %s in %.2f s", spec.name, gpus or "CPU", elapsed)
        return backend

    async def _stop(self, backend: Backend, reason: str) -> None:
        if backend.state == "stopping":
            return
        backend.state = "stopping"
        await self._finish_stop(backend, reason)

    async def _finish_stop(self, backend: Backend, reason: str) -> None:
        try:
            await backend.process.stop(self.config.stop_grace_seconds)
        finally:
            if self.running.get(backend.name) is backend:
                del self.running[backend.name]
            self.metrics.evictions.labels(backend.name, reason).inc()
            self.metrics.loaded.set(len(self.running))
            log.info("stopped %s (%s)", backend.name, reason)
            self._notify()

    def _stop_soon(self, backend: Backend, reason: str) -> None:
        if backend.state == "stopping":
            return
        backend.state = "stopping"  # at once, so no request is leased it meanwhile
        task = asyncio.create_task(self._finish_stop(backend, reason))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_seconds)
            try:
                self._tick()
            except Exception:  # the loop must survive anything one tick meets
                log.exception("serving background loop")

    def _tick(self) -> None:
        for backend in list(self.running.values()):
            if backend.state == "ready" and backend.process.returncode is not None:
                self._forget(backend, f"exited with status {backend.process.returncode}")
        for name in expired(self._residents()):
            found = self.running.get(name)
            if found is not None and found.state == "ready":
                self._stop_soon(found, "keep_alive")
