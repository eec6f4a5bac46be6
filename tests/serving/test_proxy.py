"""The OpenAI-compatible proxy end to end: a real `gpuplan serve`, real backends, real sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.proxy_server import ProxyServer, proxy_server
from tests.serving.support import fake_cmd, recorded_pids, wait_gone


def entry(name: str, *extra: str, **fields: object) -> dict[str, object]:
    return {"name": name, "cmd": fake_cmd(name, *extra), "vram_mb": 1000, **fields}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyServer]:
    directory = tmp_path_factory.mktemp("proxy")
    services = [
        entry("chat", aliases=["assistant"], role="chat"),
        entry("embed", role="embedding"),
        entry("captioner", role="caption", grace_period_seconds=0),
        entry("slowstream", "--chunk-delay", "0.05", "--disconnect-log",
              str(directory / "disconnects.log")),
        entry("crashy"),
        entry("sick", "--never-healthy", autostart_timeout_seconds=1),
        entry("slowstart", "--startup-delay", "2"),
    ]  # fmt: skip
    with proxy_server(directory, services, extra_args=["--queue-limit", "2"]) as running:
        yield running


def chat(server: ProxyServer, model: str, content: str = "hi", **extra: object) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": content}], **extra},
        timeout=60,
    )


def test_models_list_names_every_service(server: ProxyServer) -> None:
    body = httpx.get(server.url + "/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]][:3] == ["chat", "embed", "captioner"]


def test_load_on_demand_by_name_alias_and_role(server: ProxyServer) -> None:
    response = chat(server, "chat")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("Hello from chat")
    assert response.headers["x-gpuplan-service"] == "chat"
    by_alias = chat(server, "assistant")
    assert by_alias.headers.get("x-gpuplan-service") == "chat", by_alias.text
    by_role = chat(server, "role:caption")
    assert by_role.headers.get("x-gpuplan-service") == "captioner", by_role.text
    status = server.status()
    assert "chat" in {s["name"] for s in status["services"]}, status


def test_unknown_model_is_a_404_naming_the_services(server: ProxyServer) -> None:
    response = chat(server, "nope")
    assert response.status_code == 404
    assert "no service, alias or model named 'nope'" in response.json()["error"]["message"]
    assert "chat" in response.json()["error"]["hint"]


def test_streaming_passes_through_unchanged(server: ProxyServer) -> None:
    assert chat(server, "chat").status_code == 200
    [backend] = [s for s in server.status()["services"] if s["name"] == "chat"]
    body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "SLOW 20"}]}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body) as proxied:
        assert proxied.headers["content-type"].startswith("text/event-stream")
        via_proxy = b"".join(proxied.iter_raw())
    direct_url = f"http://127.0.0.1:{backend['port']}/v1/chat/completions"
    with httpx.stream("POST", direct_url, json=body) as direct:
        straight = b"".join(direct.iter_raw())
    assert via_proxy == straight
    assert via_proxy.count(b"data: ") == 21 and via_proxy.endswith(b"data: [DONE]\n\n")


def test_client_disconnect_reaches_the_backend(server: ProxyServer) -> None:
    log = Path(server.log_dir).parent / "disconnects.log"
    body = {"model": "slowstream", "stream": True,
            "messages": [{"role": "user", "content": "SLOW 400"}]}  # fmt: skip
    with httpx.stream(
        "POST", server.url + "/v1/chat/completions", json=body, timeout=30
    ) as response:
        for count, _line in enumerate(response.iter_lines()):
            if count > 5:
                break  # leaving the block closes the connection mid-stream
    deadline = time.monotonic() + 10
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.exists(), "the backend never saw the client go"
    gone_after = int(log.read_text().split()[3])
    assert gone_after < 100  # stopped long before its 400 chunks (20 s of generation)


def test_backend_crash_mid_request_is_a_clear_error_and_the_next_request_restarts_it(
    server: ProxyServer,
) -> None:
    assert chat(server, "crashy").status_code == 200
    crashed = chat(server, "crashy", "CRASH now")
    assert crashed.status_code == 502
    error = crashed.json()["error"]
    assert error["type"] == "BackendFailedError"
    assert "backend 'crashy' exited with status 3 while answering" in error["message"]
    assert "the next request restarts it" in error["hint"]
    again = chat(server, "crashy")
    assert again.status_code == 200 and "Hello from crashy" in again.text


def test_backend_crash_mid_stream_ends_the_stream_with_an_error_event(
    server: ProxyServer,
) -> None:
    body = {"model": "crashy", "stream": True, "messages": [{"role": "user", "content": "CRASH"}]}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body) as response:
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(events) == 3  # two chunks, then the error
    error = json.loads(events[-1][len("data: ") :])["error"]
    assert "exited with status 3 while answering" in error["message"]
    assert chat(server, "crashy").status_code == 200


def test_a_backend_that_never_becomes_healthy_times_out_and_leaves_nothing(
    server: ProxyServer,
) -> None:
    response = chat(server, "sick")
    assert response.status_code == 504
    message = response.json()["error"]["message"]
    assert "backend 'sick' was not healthy" in message and "within 1 s" in message
    assert "sick" not in {s["name"] for s in server.status()["services"]}
    log = (server.log_dir / "sick.log").read_text()
    assert "gpuplan starts" in log


def test_queue_during_a_swap_then_503_with_retry_after(server: ProxyServer) -> None:
    results: list[httpx.Response] = []

    def call() -> None:
        results.append(chat(server, "slowstart"))

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    # Both wait in the queue (limit 2) while slowstart loads for 2 s: once the proxy says
    # so, not after a fixed sleep a loaded machine may need more than.
    deadline = time.monotonic() + 30
    while server.status()["queue_depth"] < 2:
        assert time.monotonic() < deadline, "the two requests never queued"
        time.sleep(0.02)
    refused = chat(server, "slowstart")
    for thread in threads:
        thread.join()
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert "queue limit 2" in refused.json()["error"]["message"]
    assert [r.status_code for r in results] == [200, 200]


def test_embeddings_status_metrics_and_ps(server: ProxyServer) -> None:
    response = httpx.post(
        server.url + "/v1/embeddings", json={"model": "role:embedding", "input": ["a", "b"]}
    )
    assert response.status_code == 200 and len(response.json()["data"]) == 2
    status = server.status()
    [embed] = [s for s in status["services"] if s["name"] == "embed"]
    assert embed["where"] == "CPU" and embed["vram_estimate_mb"] == 1000
    assert embed["keep_alive_seconds"] == 300 and 0 < embed["keep_alive_left_seconds"] <= 300
    assert status["strategy"] == "concurrent_limited" and status["queue_limit"] == 2
    metrics = httpx.get(server.url + "/metrics").text
    assert 'gpuplan_requests_total{endpoint="embeddings",service="embed",status="200"}' in metrics
    assert "gpuplan_loads_total" in metrics and "gpuplan_queue_depth" in metrics
    ps = subprocess.run(
        [sys.executable, "-m", "gpuplan", "ps", "--url", server.url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = ps.stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "MODEL", "STATE", "WHERE"]
    assert any(line.startswith("embed ") and "CPU" in line for line in lines)


def test_openai_client_talks_to_the_proxy_unchanged(server: ProxyServer) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    assert "chat" in [m.id for m in client.models.list()]
    reply = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "hello"}]
    )
    assert reply.choices[0].message.content.startswith("Hello from chat")
    stream = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "SLOW 5"}], stream=True
    )
    pieces = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]
    assert "".join(p for p in pieces if p) == "w0 w1 w2 w3 w4 "
    vectors = client.embeddings.create(model="embed", input="text")
    assert len(vectors.data[0].embedding) == 8
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_no_backend_outlives_gpuplan_serve(tmp_path: Path, how: str) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    services = [entry("a", "--spawn-child", "--pid-dir", str(pids))]
    with proxy_server(tmp_path / "server", services) as server:
        assert chat(server, "a").status_code == 200
        started = recorded_pids(pids)
        assert len(started) == 2  # the backend and the grandchild it spawned
        os.kill(server.process.pid, getattr(signal, how))
        server.process.wait(30)
        assert wait_gone(started, timeout=15) == []
