"""A real OpenAI-compatible llama.cpp server on 127.0.0.1, for tests that need one.

``running_llama_server(model)`` starts llama.cpp's own ``llama-server`` (preferred:
~0.05 s start, has ``/health`` and ``/metrics``) or, failing that,
``python -m llama_cpp.server`` from llama-cpp-python, on a free loopback port; waits
until it answers; yields a ``LlamaServer``; and stops it (SIGTERM, then SIGKILL).
``scripts/ci/20-llama-cpp.sh`` installs both and exports ``GPUPLAN_LLAMA_SERVER``.

With neither installed the ``llama_backend`` fixture skips with the reason, unless
``GPUPLAN_REQUIRE_SERVICES=1`` (set by ``.ci/run``), where it fails: CI may not pass by
skipping. The pytest fixtures ``tiny_gguf`` (session-scoped model file),
``llama_backend`` and ``llama_server`` are registered for the whole suite by
``pytest_plugins`` in tests/conftest.py: a test just names them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
import pytest

from gpuplan.ports import free_port
from tests.support.tiny_gguf import write_tiny_llama

__all__ = [
    "LlamaBackend",
    "LlamaServer",
    "find_backend",
    "free_port",
    "llama_backend",
    "llama_server",
    "require_backend",
    "running_llama_server",
    "tiny_gguf",
]

# Read at import: the suite's autouse fixture scrubs GPUPLAN_* variables per test.
_REQUIRE_SERVICES = os.environ.get("GPUPLAN_REQUIRE_SERVICES") == "1"
_SERVER_ENV = os.environ.get("GPUPLAN_LLAMA_SERVER")

BackendKind = Literal["llama-server", "llama_cpp.server"]


@dataclass(frozen=True)
class LlamaBackend:
    """How to start a llama.cpp server here: its kind and the command prefix."""

    kind: BackendKind
    command: tuple[str, ...]


@dataclass(frozen=True)
class LlamaServer:
    """A running server: where it listens and what it serves."""

    backend: LlamaBackend
    host: str
    port: int
    model_path: Path
    model_alias: str
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    @property
    def base_url(self) -> str:
        """Root URL; the OpenAI API is under ``/v1``."""
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def find_backend(kind: BackendKind | None = None) -> LlamaBackend | None:
    """The installed server (``llama-server`` first), or None when neither is."""
    if kind in (None, "llama-server"):
        candidates = [_SERVER_ENV, shutil.which("llama-server")]
        venv_bin = Path(sys.executable).parent / "llama-server"
        candidates.append(str(venv_bin) if venv_bin.exists() else None)
        for candidate in candidates:
            if candidate and os.access(candidate, os.X_OK):
                return LlamaBackend("llama-server", (candidate,))
    if kind in (None, "llama_cpp.server") and _has_module("llama_cpp.server"):
        return LlamaBackend("llama_cpp.server", (sys.executable, "-m", "llama_cpp.server"))
    return None


def require_backend(kind: BackendKind | None = None) -> LlamaBackend:
    """The backend, or skip (fail under GPUPLAN_REQUIRE_SERVICES=1) saying what is missing."""
    backend = find_backend(kind)
    if backend is None:
        wanted = kind or "llama-server or llama-cpp-python[server]"
        reason = f"{wanted} is not installed: run `bash scripts/ci/20-llama-cpp.sh`"
        if _REQUIRE_SERVICES:
            pytest.fail(f"GPUPLAN_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return backend


def server_argv(
    backend: LlamaBackend,
    model_path: Path,
    *,
    host: str,
    port: int,
    alias: str,
    ctx_size: int,
    parallel: int,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """Each server's own flags (they differ: ``--ctx-size`` vs ``--n_ctx``)."""
    if backend.kind == "llama-server":
        return [
            *backend.command,
            "--model", str(model_path), "--alias", alias,
            "--host", host, "--port", str(port),
            "--ctx-size", str(ctx_size), "--parallel", str(parallel),
            "--threads", "1", "--no-webui",
            *extra_args,
        ]  # fmt: skip
    return [
        *backend.command,
        "--model", str(model_path), "--model_alias", alias,
        "--host", host, "--port", str(port),
        "--n_ctx", str(ctx_size), "--n_threads", "1",
        # Without this a new request interrupts the stream already running.
        "--interrupt_requests", "False",
        *extra_args,
    ]  # fmt: skip


def wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll ``/health`` (llama-server) or ``/v1/models`` until 200, the process dies, or time."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} before ready")
            for path in ("/health", "/v1/models"):
                try:
                    if client.get(base_url + path).status_code == 200:
                        return
                except httpx.TransportError:
                    break
            time.sleep(0.05)
    raise TimeoutError(f"server at {base_url} not ready after {timeout_s:.0f} s")


@contextmanager
def running_llama_server(
    model_path: Path,
    *,
    backend: LlamaBackend | None = None,
    alias: str = "tiny",
    ctx_size: int = 2048,
    parallel: int = 2,
    extra_args: Sequence[str] = (),
    startup_timeout_s: float = 60.0,
) -> Iterator[LlamaServer]:
    """Start a server with ``model_path`` on a free loopback port; stop it on exit."""
    backend = backend or require_backend()
    host, port = "127.0.0.1", free_port()
    argv = server_argv(
        backend,
        model_path,
        host=host,
        port=port,
        alias=alias,
        ctx_size=ctx_size,
        parallel=parallel,
        extra_args=extra_args,
    )
    log_path = model_path.with_name(f"llama-server-{port}.log")
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    server = LlamaServer(backend, host, port, model_path, alias, process, log_path)
    try:
        try:
            wait_ready(server.base_url, process, startup_timeout_s)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}; argv={argv}; log:\n{server.log()[-2000:]}") from exc
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace_s)


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny llama GGUF, written once per test session."""
    return write_tiny_llama(tmp_path_factory.mktemp("tiny-model") / "tiny-llama.gguf")


@pytest.fixture(scope="session")
def llama_backend() -> LlamaBackend:
    return require_backend()


@pytest.fixture()
def llama_server(tiny_gguf: Path, llama_backend: LlamaBackend) -> Iterator[LlamaServer]:
    """A running server with the tiny model, stopped after the test."""
    with running_llama_server(tiny_gguf, backend=llama_backend) as server:
        yield server
