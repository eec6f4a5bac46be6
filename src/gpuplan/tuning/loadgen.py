"""Drive one concurrency level of streamed completions against an OpenAI-compatible server.

Each request is ``POST /v1/completions`` with ``stream: true`` and
``stream_options.include_usage`` and ``ignore_eos`` (so a reply really has the
scenario's output tokens), timed from send to the first chunk that carries a choice
(TTFT) and to the stream's end. Like vLLM's ``benchmark_serving``, that chunk counts
even when its text is empty: a server withholds the text of a token that is a control
token or an incomplete UTF-8 sequence, but the token was still produced.

Closed loop by default (``concurrency`` workers, a new request as soon as one
finishes); with ``request_rate`` requests arrive as a Poisson process, at most
``concurrency`` in flight. Bounded in count and time; only the given URL (a local
engine in ``local`` mode) is contacted.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Mapping
from typing import Any

from gpuplan.tuning.metrics import RequestRecord
from gpuplan.tuning.space import Traffic

__all__ = ["deterministic_prompt", "run_level", "run_level_sync"]


def deterministic_prompt(tokens: int) -> str:
    """About ``tokens`` tokens in most vocabularies (one per word); usage gives the truth."""
    return " ".join(["the"] * tokens)


async def _one_request(
    client: Any,
    url: str,
    body: dict[str, Any],
    origin: float,
    default_input_tokens: int,
) -> RequestRecord:
    start = time.perf_counter() - origin
    first: float | None = None
    chunks = 0
    usage: Mapping[str, Any] | None = None
    try:
        async with client.stream("POST", url, json=body) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")[:200]
                return RequestRecord(
                    start_s=start,
                    end_s=time.perf_counter() - origin,
                    input_tokens=default_input_tokens,
                    ok=False,
                    error=f"HTTP {response.status_code}: {text}",
                )
            done = False
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done = True
                    break
                event = json.loads(payload)
                if event.get("usage"):
                    usage = event["usage"]
                choices = event.get("choices") or []
                if choices and first is None:
                    first = time.perf_counter() - origin
                chunks += sum(1 for choice in choices if choice.get("text"))
        end = time.perf_counter() - origin
    except Exception as exc:  # any transport or decode error fails this request only
        return RequestRecord(
            start_s=start,
            end_s=time.perf_counter() - origin,
            input_tokens=default_input_tokens,
            ok=False,
            error=f"{type(exc).__name__}: {exc}"[:200],
        )
    output_tokens = int(usage.get("completion_tokens", chunks)) if usage else chunks
    input_tokens = int(usage.get("prompt_tokens", default_input_tokens)) if usage else 0
    # A stream the server finished is a served request even when it produced no text (the
    # model stopped at once, or only emitted tokens without text).
    ok = done
    return RequestRecord(
        start_s=start,
        first_token_s=first,
        end_s=end,
        input_tokens=input_tokens or default_input_tokens,
        output_tokens=output_tokens,
        ok=ok,
        error=None if ok else "stream ended without [DONE]",
    )


async def run_level(
    base_url: str,
    model: str,
    traffic: Traffic,
    concurrency: int,
    *,
    max_requests: int,
    max_time_s: float,
    request_rate: float | None = None,
    extra_body: Mapping[str, Any] | None = None,
    request_timeout_s: float = 120.0,
    seed: int = 0,
) -> list[RequestRecord]:
    """Send up to ``max_requests`` requests (stopping new ones after ``max_time_s``)."""
    import httpx

    body: dict[str, Any] = {
        "model": model,
        "prompt": deterministic_prompt(traffic.input_tokens),
        "max_tokens": traffic.output_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
        **(extra_body or {}),
    }
    url = base_url.rstrip("/") + "/v1/completions"
    origin = time.perf_counter()
    records: list[RequestRecord] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=request_timeout_s, limits=limits) as client:
        if request_rate is None:
            sent = 0

            async def worker() -> None:
                nonlocal sent
                while sent < max_requests and time.perf_counter() - origin < max_time_s:
                    sent += 1
                    records.append(
                        await _one_request(client, url, body, origin, traffic.input_tokens)
                    )

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            rng = random.Random(seed)
            gate = asyncio.Semaphore(concurrency)

            async def limited() -> None:
                async with gate:
                    records.append(
                        await _one_request(client, url, body, origin, traffic.input_tokens)
                    )

            tasks = []
            next_at = 0.0
            for _ in range(max_requests):
                next_at += rng.expovariate(request_rate)
                if next_at > max_time_s:
                    break
                delay = next_at - (time.perf_counter() - origin)
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(limited()))
            await asyncio.gather(*tasks)
    return sorted(records, key=lambda r: r.start_s)


def run_level_sync(*args: Any, **kwargs: Any) -> list[RequestRecord]:
    return asyncio.run(run_level(*args, **kwargs))
