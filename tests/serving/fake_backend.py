"""A small real OpenAI-compatible backend for the proxy's process tests (stdlib only).

Run as ``python fake_backend.py --port N [options]``: a real process on a real
socket that answers ``/health``, ``/v1/models``, ``/v1/chat/completions``
(streaming and not), ``/v1/completions`` and ``/v1/embeddings``, and misbehaves
on request so the proxy's failure paths can be proven:

* a message containing ``CRASH`` makes it exit mid-answer (after two chunks when
  streaming);
* ``SLOW n`` streams n chunks ``--chunk-delay`` apart;
* ``--never-healthy``, ``--exit-at-start``, ``--oom-if-exists`` fail start-up;
* ``--spawn-child`` leaves a grandchild in its process group, ``--ignore-sigterm``
  makes a graceful stop impossible, ``--pid-dir`` records every pid it starts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ARGS: argparse.Namespace


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="fake")
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--never-healthy", action="store_true")
    parser.add_argument("--exit-at-start", type=int, default=None)
    parser.add_argument("--message", default="")
    parser.add_argument("--oom-if-exists", default=None)
    parser.add_argument("--hold", default=None, help="file that exists while this runs")
    parser.add_argument("--pid-dir", default=None)
    parser.add_argument("--spawn-child", action="store_true")
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--disconnect-log", default=None)
    return parser.parse_args(argv)


def words(name: str, prompt: str) -> list[str]:
    if prompt.startswith("SLOW "):
        return [f"w{i} " for i in range(int(prompt.split()[1]))]
    return ["Hello", " from", f" {name}", ": ", prompt[:40]]


def last_prompt(body: dict[str, Any]) -> str:
    if "messages" in body:
        content = body["messages"][-1].get("content", "")
        return content if isinstance(content, str) else json.dumps(content)
    prompt = body.get("prompt", "")
    return prompt if isinstance(prompt, str) else " ".join(prompt)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()  # small SSE writes must not wait for Nagle + delayed ACK (40 ms)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("fake_backend: " + (format % args) + "\n")

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            if ARGS.never_healthy:
                self._json(503, {"status": "loading"})
            else:
                self._json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": ARGS.name, "object": "model"}]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        prompt = last_prompt(body)
        if self.path == "/v1/embeddings":
            inputs = body.get("input", "")
            items = [inputs] if isinstance(inputs, str) else inputs
            data = []
            for index, text in enumerate(items):
                digest = hashlib.sha256(str(text).encode()).digest()
                data.append(
                    {
                        "object": "embedding",
                        "index": index,
                        "embedding": [b / 255.0 for b in digest[:8]],
                    }
                )
            self._json(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body.get("model"),
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                },
            )
            return
        chat = self.path == "/v1/chat/completions"
        if self.path not in ("/v1/chat/completions", "/v1/completions"):
            self._json(404, {"error": "not found"})
            return
        if "CRASH" in prompt and not body.get("stream"):
            os._exit(3)
        tokens = words(ARGS.name, prompt)
        model = body.get("model", ARGS.name)
        if body.get("stream"):
            self._stream(tokens, model, chat, crash="CRASH" in prompt)
            return
        text = "".join(tokens)
        choice = (
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            if chat
            else {"index": 0, "text": text, "finish_reason": "stop"}
        )
        self._json(
            200,
            {
                "id": "cmpl-1",
                "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
                "usage": {"prompt_tokens": 1, "completion_tokens": len(tokens), "total_tokens": 2},
            },
        )

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, tokens: list[str], model: str, chat: bool, *, crash: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for index, token in enumerate(tokens):
                if crash and index == 2:
                    os._exit(3)
                delta = {"index": 0, "delta": {"content": token}, "finish_reason": None}
                if not chat:
                    delta = {"index": 0, "text": token, "finish_reason": None}
                event = {
                    "id": "cmpl-1",
                    "object": "chat.completion.chunk" if chat else "text_completion",
                    "created": 0,
                    "model": model,
                    "choices": [delta],
                }
                self._chunk(f"data: {json.dumps(event)}\n\n".encode())
                if ARGS.chunk_delay:
                    time.sleep(ARGS.chunk_delay)
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            if ARGS.disconnect_log:
                with open(ARGS.disconnect_log, "a") as log:
                    log.write(f"client gone after {index} chunks\n")
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 resets connections under 64 concurrent streams


def main(argv: list[str]) -> int:
    global ARGS
    ARGS = parse_args(argv)
    if ARGS.pid_dir:
        Path(ARGS.pid_dir, str(os.getpid())).write_text("backend")
    if ARGS.spawn_child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        if ARGS.pid_dir:
            Path(ARGS.pid_dir, str(child.pid)).write_text("grandchild")
    if ARGS.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if ARGS.oom_if_exists and Path(ARGS.oom_if_exists).exists():
        print("CUDA error: out of memory (another model holds the GPU)", flush=True)
        return 1
    if ARGS.exit_at_start is not None:
        print(ARGS.message or "fake_backend: failing on purpose", flush=True)
        return int(ARGS.exit_at_start)
    if ARGS.startup_delay:
        time.sleep(ARGS.startup_delay)
    hold = Path(ARGS.hold) if ARGS.hold else None
    if hold:
        hold.write_text(str(os.getpid()))
    server = Server(("127.0.0.1", ARGS.port), Handler)
    devices = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    print(f"fake_backend {ARGS.name} listening on {ARGS.port} GPUs={devices}", flush=True)
    try:
        server.serve_forever()
    finally:
        if hold:
            hold.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
