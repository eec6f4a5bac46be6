"""The scheduler with real backend processes (tests/serving/fake_backend.py) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from gpuplan.errors import BackendStartError, CannotFitError, QueueFullError
from gpuplan.serving.model import ServiceSpec
from gpuplan.serving.scheduler import Scheduler, SchedulerConfig, looks_like_oom
from tests.serving.support import alive, fake_service, recorded_pids, wait_gone

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def scheduler_for(tmp_path: Path):
    @asynccontextmanager
    async def factory(services: list[ServiceSpec], **config: object) -> AsyncIterator[Scheduler]:
        settings: dict[str, object] = {
            "log_dir": tmp_path / "logs",
            "tick_seconds": 0.05,
            "stop_grace_seconds": 2.0,
            "autostart_timeout_seconds": 20,
        }
        settings.update(config)
        scheduler = Scheduler(services, SchedulerConfig(**settings))  # type: ignore[arg-type]
        await scheduler.start()
        try:
            yield scheduler
        finally:
            pids = [b.process.pid for b in scheduler.running.values()]
            await scheduler.close()
            assert wait_gone(pids) == []

    return factory


async def ask(scheduler: Scheduler, name: str, content: str = "hi") -> str:
    backend = await scheduler.acquire(name)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                backend.url + "/v1/chat/completions",
                json={"model": name, "messages": [{"role": "user", "content": content}]},
            )
        return str(response.json()["choices"][0]["message"]["content"])
    finally:
        scheduler.release(backend)


async def test_load_on_demand_then_reuse(scheduler_for) -> None:
    async with scheduler_for([fake_service("a")]) as scheduler:
        assert scheduler.running == {}
        assert (await ask(scheduler, "a")).startswith("Hello from a")
        pid = scheduler.running["a"].process.pid
        await ask(scheduler, "a")
        assert scheduler.running["a"].process.pid == pid  # warm: not restarted
        [entry] = scheduler.status()
        assert (entry.name, entry.state, entry.where, entry.in_flight) == ("a", "ready", "CPU", 0)
        assert Path(entry.log_file).read_text().count("listening on") == 1


async def test_keep_alive_expiry_unloads_and_stops_the_process(scheduler_for) -> None:
    services = [
        fake_service("a", grace_period_seconds=2),
        fake_service("z", grace_period_seconds=0),
    ]
    async with scheduler_for(services, max_concurrent_models=2, strategy="concurrent_limited") as s:
        # z first: a's 2 s keep-alive must not be spent on starting z (slow on a loaded box).
        await ask(s, "z")
        await ask(s, "a")
        pid_a = s.running["a"].process.pid
        await asyncio.sleep(0.5)
        assert "z" not in s.running  # keep-alive 0: unloaded after its request
        assert "a" in s.running
        left = s.status()[0].keep_alive_left_seconds
        assert left is not None and 0 < left < 2
        deadline = time.monotonic() + 20
        while s.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert s.running == {}
        assert wait_gone([pid_a]) == []


async def test_eviction_order_under_a_budget(scheduler_for) -> None:
    services = [
        fake_service("low", priority=10, grace_period_seconds=-1),
        fake_service("high", priority=90, grace_period_seconds=-1),
        fake_service("old", priority=95, grace_period_seconds=30),
        fake_service("big", vram_mb=2000),
    ]
    async with scheduler_for(
        services, strategy="concurrent_full", max_concurrent_models=5, total_mb=3500
    ) as s:
        for name in ("old", "low", "high"):
            await ask(s, name)
        # 3000 + 1500 > 3500: "old" has the least keep-alive left (30 s vs 300 s): it goes first,
        # then among equal keep-alive the lowest priority, "low".
        await ask(s, "big")
        assert sorted(s.running) == ["big", "high"]
        evicted = {
            labels["service"]
            for metric in s.metrics.evictions.collect()
            for sample in metric.samples
            if sample.name.endswith("_total") and sample.value
            for labels in [sample.labels]
        }
        assert evicted == {"old", "low"}


async def test_max_concurrent_models_limit(scheduler_for) -> None:
    services = [fake_service(name) for name in "abc"]
    async with scheduler_for(services, strategy="concurrent_limited", max_concurrent_models=2) as s:
        await ask(s, "a")
        await ask(s, "b")
        await ask(s, "c")  # a was idle longest: same keep-alive, so least left
        assert sorted(s.running) == ["b", "c"]


async def test_load_unload_swaps(scheduler_for) -> None:
    async with scheduler_for([fake_service("a"), fake_service("b")]) as s:
        await ask(s, "a")
        pid = s.running["a"].process.pid
        await ask(s, "b")
        assert list(s.running) == ["b"]
        assert wait_gone([pid]) == []


async def test_a_busy_model_is_not_stopped_under_its_request(scheduler_for) -> None:
    async with scheduler_for([fake_service("a"), fake_service("b")]) as s:
        held = await s.acquire("a")
        waiting = asyncio.create_task(s.acquire("b"))
        await asyncio.sleep(0.5)
        assert not waiting.done() and held.process.returncode is None
        s.release(held)
        b = await asyncio.wait_for(waiting, 15)
        assert b.name == "b" and "a" not in s.running
        s.release(b)


async def test_queue_during_a_swap_is_bounded(scheduler_for) -> None:
    services = [fake_service("slow", "--startup-delay", "1.5")]
    async with scheduler_for(services, queue_limit=2) as s:
        first = asyncio.create_task(s.acquire("slow"))
        second = asyncio.create_task(s.acquire("slow"))
        await asyncio.sleep(0.2)
        assert s.queue_depth == 2
        with pytest.raises(QueueFullError) as refused:
            await s.acquire("slow")
        assert refused.value.retry_after_seconds >= 1
        for backend in await asyncio.gather(first, second):
            s.release(backend)
        assert s.queue_depth == 0
        warm = await s.acquire("slow")  # a ready model never queues
        s.release(warm)


async def test_never_healthy_times_out_and_leaves_nothing(scheduler_for, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    service = fake_service(
        "sick",
        "--never-healthy",
        "--spawn-child",
        "--pid-dir",
        str(pids),
        autostart_timeout_seconds=3,  # the stand-in and its child start in ~0.2 s idle
    )
    async with scheduler_for([service]) as s:
        with pytest.raises(BackendStartError, match=r"not healthy .* within 3 s") as error:
            await s.acquire("sick")
        assert error.value.timed_out
        assert s.running == {}
        assert wait_gone(recorded_pids(pids)) == []
        assert len(recorded_pids(pids)) == 2


async def test_exit_at_start_is_a_clear_error(scheduler_for) -> None:
    service = fake_service("bad", "--exit-at-start", "7", "--message", "model file missing")
    async with scheduler_for([service]) as s:
        with pytest.raises(BackendStartError, match="exited with status 7") as error:
            await s.acquire("bad")
        assert "model file missing" in str(error.value.hint)


async def test_out_of_memory_start_evicts_all_others_and_retries_once(
    scheduler_for, tmp_path: Path
) -> None:
    hold = tmp_path / "gpu-held"
    services = [
        fake_service("holder", "--hold", str(hold)),
        fake_service("other"),
        fake_service("greedy", "--oom-if-exists", str(hold)),
    ]
    async with scheduler_for(services, strategy="concurrent_full", max_concurrent_models=5) as s:
        await ask(s, "holder")
        await ask(s, "other")
        assert hold.exists()
        assert (await ask(s, "greedy")).startswith("Hello from greedy")
        assert list(s.running) == ["greedy"]


def test_oom_detection_reads_engine_messages() -> None:
    assert looks_like_oom("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate")
    assert looks_like_oom("ggml_backend_cuda_buffer_type_alloc_buffer: cudaMalloc failed")
    assert not looks_like_oom("error: model file not found")


async def test_pinned_is_preloaded_and_never_evicted(scheduler_for) -> None:
    services = [fake_service("pin", pinned=True), fake_service("other")]
    async with scheduler_for(services) as s:
        assert list(s.running) == ["pin"]  # preloaded at start-up
        with pytest.raises(CannotFitError, match="pinned pin"):
            await s.acquire("other")
        assert s.status()[0].keep_alive_left_seconds is None


async def test_crashed_backend_is_restarted_by_the_next_request(scheduler_for) -> None:
    async with scheduler_for([fake_service("a")]) as s:
        await ask(s, "a")
        first = s.running["a"].process.pid
        backend = await s.acquire("a")
        with pytest.raises(httpx.TransportError):
            async with httpx.AsyncClient() as client:
                await client.post(
                    backend.url + "/v1/chat/completions",
                    json={"messages": [{"role": "user", "content": "CRASH"}]},
                )
        failure = await s.failure(backend, RuntimeError("connection lost"))
        s.release(backend)
        assert "exited with status 3 while answering" in str(failure)
        assert "the next request restarts it" in str(failure)
        assert (await ask(s, "a")).startswith("Hello from a")
        assert s.running["a"].process.pid != first


async def test_stop_is_graceful_then_forced_and_takes_the_group(
    scheduler_for, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    service = fake_service("stubborn", "--ignore-sigterm", "--spawn-child", "--pid-dir", str(pids))
    async with scheduler_for([service], stop_grace_seconds=0.5) as s:
        await ask(s, "stubborn")
        assert all(alive(pid) for pid in recorded_pids(pids))
    assert wait_gone(recorded_pids(pids)) == []


async def test_status_reports_measured_memory_of_the_backend_group(tmp_path: Path) -> None:
    seen: list[list[int]] = []

    def measure(pids: list[int]) -> dict[int, int]:
        seen.append(pids)
        return {0: 700, 1: 20}

    config = SchedulerConfig(log_dir=tmp_path, tick_seconds=0.05)
    scheduler = Scheduler([fake_service("a")], config, measure_pids=measure)
    await scheduler.start()
    try:
        await ask(scheduler, "a")
        [entry] = scheduler.status()
        assert entry.vram_measured_mb == 720
        assert entry.pid in seen[-1] and len(seen[-1]) >= 2  # watchdog and backend
        assert entry.rss_mb is not None and entry.rss_mb > 0
    finally:
        await scheduler.close()


async def test_each_gpu_capacity_with_real_backends(scheduler_for) -> None:
    services = [fake_service(name, vram_mb=800) for name in ("a", "b", "c")]
    async with scheduler_for(
        services, strategy="concurrent_full", max_concurrent_models=5,
        gpu_usable_mb={0: 1000, 1: 1000}, total_mb=4000,
    ) as s:  # fmt: skip
        await ask(s, "a")
        await ask(s, "b")
        where = {e.name: e.gpus for e in s.status()}
        assert sorted(where.values()) == [(0,), (1,)]  # the sum would allow both on one
        await ask(s, "c")  # no GPU has 800 MiB left: a (idle longest) makes room
        assert sorted(s.running) == ["b", "c"]
        c = s.running["c"]
        assert c.gpus == where["a"]
        assert f"GPUs={c.gpus[0]}" in c.process.log_tail()
