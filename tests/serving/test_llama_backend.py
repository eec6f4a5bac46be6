"""The proxy in front of real llama.cpp servers (tiny GGUF written with gguf.GGUFWriter)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.proxy_server import ProxyServer, proxy_server
from tests.support.llama_server import LlamaBackend, require_backend, server_argv

_SENTINEL = 65432


def llama_entry(name: str, backend: LlamaBackend, model: Path) -> dict[str, object]:
    argv = server_argv(
        backend, model, host="127.0.0.1", port=_SENTINEL, alias=name, ctx_size=512, parallel=2
    )
    cmd = ["${PORT}" if token == str(_SENTINEL) else token for token in argv]
    health = "/health" if backend.kind == "llama-server" else "/v1/models"
    return {"name": name, "cmd": cmd, "health": health, "vram_mb": 100, "engine": "llamacpp"}


@pytest.fixture(scope="module")
def llama_proxy(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, llama_backend: LlamaBackend
) -> Iterator[ProxyServer]:
    services = [
        llama_entry("tiny-a", llama_backend, tiny_gguf),
        llama_entry("tiny-b", llama_backend, tiny_gguf),
    ]
    profile = {"strategy": "load_unload", "max_concurrent_models": 1}
    with proxy_server(tmp_path_factory.mktemp("llama-proxy"), services, profile=profile) as server:
        yield server


def stream_text(url: str, body: dict[str, object]) -> str:
    pieces = []
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                event = json.loads(line[len("data: ") :])
                for choice in event.get("choices", []):
                    pieces.append(choice.get("delta", {}).get("content") or "")
    return "".join(pieces)


def test_llama_server_through_the_proxy_streams_what_it_streams_directly(
    llama_proxy: ProxyServer,
) -> None:
    body: dict[str, object] = {
        "model": "tiny-a", "stream": True, "max_tokens": 8, "temperature": 0.0, "seed": 1,
        "messages": [{"role": "user", "content": "hello world"}],
    }  # fmt: skip
    proxied = stream_text(llama_proxy.url, body)
    [entry] = llama_proxy.status()["services"]
    direct = stream_text(f"http://127.0.0.1:{entry['port']}", body)
    assert proxied == direct and proxied


def test_load_unload_swaps_real_llama_servers(llama_proxy: ProxyServer) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=llama_proxy.url + "/v1", api_key="x", max_retries=0)
    for name in ("tiny-a", "tiny-b"):
        reply = client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        assert reply.choices
        loaded = [s["name"] for s in llama_proxy.status()["services"]]
        assert loaded == [name]


def test_a_service_with_engine_and_model_runs_from_its_rendered_launch_config(
    tmp_path: Path, tiny_gguf: Path
) -> None:
    backend = require_backend("llama-server")
    services = [{"name": "rendered", "engine": "llamacpp", "model": str(tiny_gguf),
                 "vram_mb": 100}]  # fmt: skip
    path = os.pathsep.join([str(Path(backend.command[0]).parent), os.environ.get("PATH", "")])
    with proxy_server(tmp_path, services, env={"PATH": path}) as server:
        reply = httpx.post(
            server.url + "/v1/chat/completions",
            json={"model": "rendered", "max_tokens": 4,
                  "messages": [{"role": "user", "content": "hi"}]},
            timeout=60,
        )  # fmt: skip
        assert reply.status_code == 200, reply.text
        [entry] = server.status()["services"]
        log = Path(entry["log_file"]).read_text()
        assert "--host 127.0.0.1" in log and f"--model {tiny_gguf}" in log
