"""The pages in process: what the server renders before any script runs."""

from __future__ import annotations

import pathlib
import re
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpuplan.web import render, settings_page
from gpuplan.web.gather import shell_lines
from gpuplan.web.views import gib, gpu_cards, vram_estimate
from tests.api.conftest import ClientFactory
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_figures_are_worded_as_seed_004_draws_them() -> None:
    assert gib(24564) == "24.0"
    assert gib(None) == "?"
    assert vram_estimate(650) == "~650 MiB"
    assert vram_estimate(22221) == "~21.7 GiB"
    cards = gpu_cards(
        {"gpus": [{"index": 0, "name": "RTX A5500", "vram_total_mb": 24564, "vram_used_mb": 19304}]}
    )
    assert cards[0].used_text == "18.9/24.0 GiB used"
    assert cards[0].percent_used == 78.6
    unknown = gpu_cards({"gpus": [{"index": 0, "name": "X", "vram_total_mb": 1024}]})[0]
    assert unknown.used_text == "usage unknown of 1.0 GiB"
    assert unknown.percent_used == 0.0


def test_names_from_tools_are_escaped() -> None:
    page = settings_page(
        gpus_document={
            "gpus": [{"index": 0, "name": "<img src=x onerror=alert(1)>", "vram_total_mb": 1024}]
        },
        hardware_source="file",
    )
    html = render("settings_gpu.html", version="0", page=page)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


async def test_index_links_to_the_settings_page(client_for: ClientFactory) -> None:
    async with client_for(hardware="2x RTX 4090") as client:
        response = await client.get("/")
        assert response.status_code == 200
        assert 'href="/settings/gpu"' in response.text
        assert "2x NVIDIA GeForce RTX 4090" in response.text


async def test_settings_page_is_complete_without_javascript(client_for: ClientFactory) -> None:
    async with client_for(hardware="RTX A5500, RTX A400") as client:
        response = await client.get("/settings/gpu")
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        html = response.text
        assert "GPU 0: NVIDIA RTX A5500" in html and "GPU 1: NVIDIA RTX A400" in html
        for label, description in [
            ("Manual", "You control each assignment"),
            ("VRAM-based", "Largest models on largest GPU"),
            ("Latency-optimized", "Critical path models on fastest GPU"),
            ("Isolation-first", "LLM gets dedicated GPU"),
            ("Balanced", "Distribute VRAM evenly"),
        ]:
            assert f'<span class="strategy-label">{label}' in html
            assert description in html
        assert "balanced_24gb" in html
        assert "<script>" not in html and not re.search(r"\son[a-z]+=", html)
        static = await client.get("/static/settings.js")
        assert static.status_code == 200 and "gpuplanSettings" in static.text


async def test_the_picks_say_the_trade_the_chat_model_made(client_for: ClientFactory) -> None:
    async with client_for(hardware="2x RTX 4090") as client:
        html = (await client.get("/settings/gpu")).text
        assert re.search(r'<p class="small trade">Chose \S+ over llama-3.3-70b so that', html)


async def test_cpu_host_says_no_gpus_detected(client_for: ClientFactory) -> None:
    async with client_for(hardware="cpu") as client:
        html = (await client.get("/settings/gpu")).text
        assert "No GPUs detected" in html
        assert '<fieldset id="strategy" disabled>' in html
        assert re.search(r'id="btn-apply"[^>]*disabled', html)


@pytest.mark.parametrize(
    "spec",
    ["/etc/passwd", "x" * 5000, "../../etc/hosts.json", "   "],
)
async def test_what_if_takes_words_only(client_for: ClientFactory, spec: str) -> None:
    async with client_for(hardware="cpu") as client:
        response = await client.get("/settings/gpu", params={"hardware": spec})
        assert response.status_code == 200
        if spec.strip():
            assert 'id="whatif-error"' in response.text
        assert "What-if plan" not in response.text
        assert len(response.text) < 200_000


async def test_a_server_beyond_loopback_asks_for_its_token(
    client_for: ClientFactory, tmp_path: pathlib.Path
) -> None:
    services = tmp_path / "services.yml"
    services.write_text(
        (REPO_ROOT / "examples" / "seed004-services.yml").read_text(encoding="utf-8")
    )
    settings = {
        "hardware": "RTX A5500, RTX A400",
        "services": str(services),
        "database_url": f"sqlite:///{tmp_path / 'db.sqlite'}",
    }
    async with client_for(**settings) as client:
        assert 'id="api-token"' not in (await client.get("/settings/gpu")).text
    async with client_for(**settings, bind_host="0.0.0.0", token="s3cret") as client:
        html = (await client.get("/settings/gpu")).text
        assert 'id="api-token"' in html and "s3cret" not in html
        body = {"strategy": "vram_based", "assignments": [{"service": "ai-llm", "gpu_index": 0}]}
        refused = await client.put("/api/system/gpu-config", json=body)
        assert refused.status_code == 401
        checked = await client.post("/settings/gpu/check", json=body)
        assert checked.status_code == 200  # the check saves nothing


@given(
    env=st.dictionaries(st.from_regex(r"[A-Z_]{1,12}", fullmatch=True), st.text(max_size=20)),
    argv=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=12),
)
def test_launch_lines_run_as_the_argv_they_show(env: dict[str, str], argv: list[str]) -> None:
    """The copied command is the engine's argument list, quoted for a shell, nothing more."""
    text = shell_lines(env, argv)
    words = shlex.split(text.replace(" \\\n  ", " "))
    assert words == [f"{k}={v}" for k, v in env.items()] + argv
