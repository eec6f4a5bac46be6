"""The API on a real uvicorn on 127.0.0.1: concurrent use, browser attacks, the contract.

schemathesis runs against the live server here with every check (its default, what
``--checks all`` selects; passing that flag would override the two per-operation
exceptions in schemathesis.toml), so `.ci/run` (which runs scripts/check's pytest)
keeps the OpenAPI document and the answers in agreement.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gpuplan.ports import free_port
from tests.hostile.conftest import Gpuplan

SERVE = [sys.executable, "-c", "from gpuplan.cli.main import main; main()", "serve"]


class Live:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process
        self.url = f"http://127.0.0.1:{port}"


def start(*args: str, database: Path) -> Live:
    port = free_port()
    env = {**os.environ, "GPUPLAN_DATABASE_URL": f"sqlite:///{database}"}
    for name in ("GPUPLAN_SERVICES", "GPUPLAN_COMPOSE_FILE", "GPUPLAN_HARDWARE"):
        env.pop(name, None)
    process = subprocess.Popen(
        [*SERVE, *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stderr.read() if process.stderr else ''!r}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return Live(port, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not answer /health within 60 s")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    database = tmp_path_factory.mktemp("live") / "gpuplan.db"
    server = start("--hardware", "2x RTX 4090", database=database)
    yield server
    server.process.terminate()
    server.process.wait(timeout=20)


def test_redetection_under_1000_concurrent_reads_never_fails(live: Live) -> None:
    """Re-detection swaps a new snapshot in: no read ever sees a half-loaded server."""

    async def run() -> tuple[list[int], int]:
        # a fresh connection per request: no race between the pool reusing a connection
        # and uvicorn's keep-alive timeout closing it, so any error is the server's
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=live.url, timeout=60, limits=limits) as client:
            statuses: list[int] = []
            done = asyncio.Event()
            detections = 0

            async def redetect() -> None:
                nonlocal detections
                while not done.is_set() or detections < 5:
                    response = await client.post("/v1/hardware/detect")
                    statuses.append(response.status_code)
                    detections += 1

            paths = ["/v1/hardware", "/v1/config/profile", "/api/system/gpus", "/health",
                     "/v1/models/select_by_role?role=chat"]  # fmt: skip
            gate = asyncio.Semaphore(48)

            async def read(i: int) -> None:
                async with gate:
                    response = await client.get(paths[i % len(paths)])
                    statuses.append(response.status_code)

            writers = [asyncio.create_task(redetect()) for _ in range(4)]
            await asyncio.gather(*(read(i) for i in range(1000)))
            done.set()
            await asyncio.gather(*writers)
            return statuses, detections

    statuses, detections = asyncio.run(run())
    assert detections >= 5
    failures = [s for s in statuses if not 200 <= s < 300]
    assert len(statuses) == 1000 + detections
    assert failures == [], f"{len(failures)} non-2xx answers: {sorted(set(failures))}"


def test_host_header_and_cross_origin_writes(live: Live) -> None:
    rebinding = httpx.get(f"{live.url}/v1/hardware", headers={"Host": "evil.example"})
    assert rebinding.status_code == 421
    assert rebinding.json()["error"]["type"] == "RequestRefused"
    for origin in ("http://evil.example", "null"):
        csrf = httpx.post(f"{live.url}/v1/hardware/detect", headers={"Origin": origin})
        assert csrf.status_code == 403, origin
    marked = httpx.post(f"{live.url}/v1/hardware/detect", headers={"Sec-Fetch-Site": "cross-site"})
    assert marked.status_code == 403
    own = httpx.post(f"{live.url}/v1/hardware/detect", headers={"Origin": live.url})
    assert own.status_code == 200
    for host in (f"localhost:{live.port}", f"127.0.0.1:{live.port}"):
        assert httpx.get(f"{live.url}/health", headers={"Host": host}).status_code == 200
    # reading cross-origin is harmless (the browser withholds the answer): allowed
    read = httpx.get(f"{live.url}/health", headers={"Origin": "http://evil.example"})
    assert read.status_code == 200


def test_every_error_has_the_error_object(live: Live) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    for response in (
        httpx.get(f"{live.url}/no/such/route"),
        httpx.delete(f"{live.url}/health"),
        httpx.get(f"{live.url}/v1/models/select_by_role", params={"role": "chat", "top_n": 0}),
        httpx.get(f"{live.url}/v1/models/select_by_role"),
        httpx.get(f"{live.url}/v1/models/select_by_role", params={"role": "flying"}),
    ):
        body = response.json()
        assert response.status_code in (400, 404, 405, 422), response.status_code
        assert isinstance(body["detail"], str) and set(body["error"]) == {"type", "message", "hint"}
        assert "Input should" not in body["detail"] and "[key]" not in body["detail"]
    assert "ErrorBody" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    # every success names its model: tests/api/test_openapi_contract.py holds that
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            bad = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert bad == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_docs_are_served_from_the_package(live: Live) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{live.url}{page}").text
        assert "cdn.jsdelivr" not in html and "fonts.googleapis" not in html
        assets = [part.split('"')[0] for part in html.split('="/static/docs/')[1:]]
        assert assets, page
        for asset in assets:
            response = httpx.get(f"{live.url}/static/docs/{asset}")
            assert response.status_code == 200 and len(response.content) > 500, asset


def test_schemathesis_finds_nothing(live: Live, tmp_path: Path) -> None:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert binary, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run(
        [binary, "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run",
         f"{live.url}/openapi.json", "--max-examples", "40",
         "--seed", "20261201", "--workers", "2", "--request-timeout", "30", "--no-color"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "FAILURES" not in result.stdout and "ERRORS" not in result.stdout, result.stdout[-3000:]


def test_serve_refuses_a_taken_port_and_a_mistyped_gpu(gpuplan: Gpuplan, live: Live) -> None:
    taken = gpuplan("serve", "--hardware", "RTX 4090", "--port", str(live.port))
    assert taken.exit_code == 1
    assert taken.stderr.strip().splitlines() == [
        f"Error: port {live.port} on 127.0.0.1 is already in use (stop the program using it, "
        f"or pick another with --port {live.port + 1})"
    ]
    assert "gpuplan API on" not in taken.stdout
    typo = gpuplan("serve", "--hardware", "RTX 9999", "--port", str(free_port()))
    assert typo.exit_code == 1 and "unknown GPU 'RTX 9999'" in typo.stderr
    assert "gpuplan API on" not in typo.stdout
