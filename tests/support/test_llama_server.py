"""The shared llama.cpp test server really serves the tiny model over OpenAI's API."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import httpx

from tests.support.llama_server import LlamaBackend, LlamaServer, running_llama_server
from tests.support.tiny_gguf import TINY_VOCAB


def test_tiny_gguf_is_a_llama_model_with_llama_tensor_names(tiny_gguf: Path) -> None:
    reader = gguf.GGUFReader(tiny_gguf)
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "llama"
    names = {tensor.name for tensor in reader.tensors}
    assert "token_embd.weight" in names and "blk.1.ffn_up.weight" in names
    embd = next(t for t in reader.tensors if t.name == "token_embd.weight")
    assert embd.shape.tolist() == [64, TINY_VOCAB]
    assert tiny_gguf.stat().st_size < 2 * 1024 * 1024


def test_server_streams_completion_tokens(llama_server: LlamaServer) -> None:
    body = {
        "model": llama_server.model_alias,
        "messages": [{"role": "user", "content": "hello world"}],
        "max_tokens": 8,
        "stream": True,
        "temperature": 0.0,
    }
    chunks = []
    with (
        httpx.Client(base_url=llama_server.base_url, timeout=30.0) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[len("data: ") :]))
    texts = [c["choices"][0]["delta"].get("content") for c in chunks if c.get("choices")]
    assert sum(1 for t in texts if t) >= 1, chunks


def test_server_is_stopped_after_the_context(tiny_gguf: Path, llama_backend: LlamaBackend) -> None:
    with running_llama_server(tiny_gguf, backend=llama_backend) as server:
        assert httpx.get(server.base_url + "/v1/models", timeout=5.0).status_code == 200
    assert server.process.poll() is not None
