"""How one streamed completion is judged: a finished stream is served, even without text.

The real-server tests (test_local_e2e.py) cover the sockets; this pins the verdicts
on the stream's content, which a tiny random model makes unpredictable there.
"""

from __future__ import annotations

import asyncio

import httpx

from gpuplan.tuning.loadgen import _one_request
from gpuplan.tuning.metrics import RequestRecord


def _record(body: str) -> RequestRecord:
    async def go() -> RequestRecord:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, text=body))
        async with httpx.AsyncClient(transport=transport) as client:
            return await _one_request(client, "http://x/v1/completions", {}, 0.0, 8)

    return asyncio.run(go())


def test_a_choice_without_text_still_times_the_first_token() -> None:
    # llama-server withholds the text of an incomplete UTF-8 byte token; the token exists.
    record = _record('data: {"choices": [{"text": "", "finish_reason": "stop"}]}\n\ndata: [DONE]\n')
    assert record.ok and record.ttft_s is not None and record.error is None
    assert record.output_tokens == 0


def test_a_finished_stream_without_choices_is_served_without_a_first_token() -> None:
    record = _record('data: {"choices": []}\n\ndata: [DONE]\n')
    assert record.ok and record.ttft_s is None and record.error is None


def test_a_stream_cut_before_done_is_a_failure() -> None:
    record = _record('data: {"choices": [{"text": "hi"}]}\n')
    assert not record.ok
    assert record.error == "stream ended without [DONE]"


def test_text_chunks_give_a_first_token_time() -> None:
    record = _record(
        'data: {"choices": [{"text": "a"}]}\n\ndata: {"choices": [{"text": "b"}]}\n\ndata: [DONE]\n'
    )
    assert record.ok and record.ttft_s is not None and record.output_tokens == 2
