"""The proxy's added latency on a warm model: TTFT and total, direct vs through `gpuplan serve`.

    .venv/bin/python bench/bench_proxy.py [--streams 64] [--rounds 5] [--chunks 32]
        [--chunk-delay 0.005] [--llama MODEL.gguf]

Starts a real `gpuplan serve --services FILE` on 127.0.0.1 whose one service is
the stdlib OpenAI-compatible backend of the tests (tests/serving/fake_backend.py,
streaming ``--chunks`` SSE chunks ``--chunk-delay`` apart) — or, with
``--llama``, llama.cpp's server on that GGUF. One warm-up request loads it; then
``--rounds`` times, ``--streams`` concurrent streaming chat requests go straight
to the backend's port, then the same number through the proxy. Prints p50 and
p99 of time to first token (first SSE data chunk) and of total time, for both,
and the proxy's added latency (proxied − direct) at each percentile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from gpuplan.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
FAKE = ROOT / "tests" / "serving" / "fake_backend.py"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def one_stream(
    client: httpx.AsyncClient, url: str, body: dict[str, object]
) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            if first is None and b"data: " in chunk:
                first = time.perf_counter()
    end = time.perf_counter()
    return (first or end) - started, end - started


async def run_round(url: str, streams: int, body: dict[str, object]) -> list[tuple[float, float]]:
    limits = httpx.Limits(max_connections=streams * 2, max_keepalive_connections=streams * 2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(one_stream(client, url, body) for _ in range(streams))))


def services_yaml(args: argparse.Namespace) -> str:
    if args.llama:
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            args.llama,
            "--port",
            "${PORT}",
            "--n_ctx",
            "512",
            "--interrupt_requests",
            "False",
        ]
        health = "/v1/models"
    else:
        cmd = [
            sys.executable,
            str(FAKE),
            "--port",
            "${PORT}",
            "--name",
            "bench",
            "--chunk-delay",
            str(args.chunk_delay),
        ]
        health = "/health"
    entry = {
        "name": "bench",
        "cmd": cmd,
        "health": health,
        "vram_mb": 100,
        "grace_period_seconds": -1,
    }
    return json.dumps({"services": [entry]})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=32)
    parser.add_argument("--chunk-delay", type=float, default=0.005)
    parser.add_argument("--llama", default=None, help="a GGUF file: bench llama.cpp's server")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    services = work / "services.json"
    services.write_text(services_yaml(args))
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "gpuplan", "serve", "--hardware", "cpu", "--services",
         str(services), "--port", str(port), "--log-dir", str(work / "logs"),
         "--queue-limit", str(args.streams * 2)],
        stdout=subprocess.DEVNULL, stderr=(work / "serve.log").open("wb"),
        env={**os.environ},
    )  # fmt: skip
    proxy = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(proxy + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or serve.poll() is not None:
                print((work / "serve.log").read_text(), file=sys.stderr)
                return 1
            time.sleep(0.1)
        content = f"SLOW {args.chunks}" if not args.llama else "Count to ten."
        body: dict[str, object] = {
            "model": "bench", "stream": True, "max_tokens": args.chunks,
            "messages": [{"role": "user", "content": content}],
        }  # fmt: skip
        warm = httpx.post(proxy + "/v1/chat/completions", json={**body, "stream": False},
                          timeout=120)  # fmt: skip
        warm.raise_for_status()
        status = httpx.get(proxy + "/api/serving/status").json()
        backend = f"http://127.0.0.1:{status['services'][0]['port']}"
        results: dict[str, list[tuple[float, float]]] = {"direct": [], "proxy": []}
        for _ in range(args.rounds):
            results["direct"] += asyncio.run(
                run_round(backend + "/v1/chat/completions", args.streams, body)
            )
            results["proxy"] += asyncio.run(
                run_round(proxy + "/v1/chat/completions", args.streams, body)
            )
        print(
            f"{args.streams} concurrent streams x {args.rounds} rounds, "
            f"{'llama.cpp ' + args.llama if args.llama else f'{args.chunks} chunks'}"
        )
        print(f"{'':8} {'TTFT p50':>10} {'TTFT p99':>10} {'total p50':>10} {'total p99':>10}  (ms)")
        figures = {}
        for name, samples in results.items():
            ttft = [s[0] * 1000 for s in samples]
            total = [s[1] * 1000 for s in samples]
            row = [percentile(ttft, 50), percentile(ttft, 99),
                   percentile(total, 50), percentile(total, 99)]  # fmt: skip
            figures[name] = row
            print(f"{name:8} " + " ".join(f"{v:10.1f}" for v in row))
        added = [p - d for p, d in zip(figures["proxy"], figures["direct"], strict=True)]
        print(f"{'added':8} " + " ".join(f"{v:10.1f}" for v in added))
        print(
            f"mean total: direct {statistics.mean(s[1] for s in results['direct']) * 1000:.1f} ms, "
            f"proxy {statistics.mean(s[1] for s in results['proxy']) * 1000:.1f} ms"
        )
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
