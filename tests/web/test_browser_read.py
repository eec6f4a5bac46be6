"""The settings page in chromium, read-only parts: GPU cards, live bars, profile, no-GPU state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.web.harness import Server, serve, shoot

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

SEED_HARDWARE = "RTX A5500, RTX A400"


@pytest.fixture(scope="module")
def seed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve-seed")
    with serve(["--hardware", SEED_HARDWARE], workdir=workdir) as server:
        yield server


@pytest.fixture(scope="module")
def cpu_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("serve-cpu")
    with serve(["--hardware", "cpu"], workdir=workdir) as server:
        yield server


def _boxes(page: Page, selector: str) -> list[dict[str, float]]:
    boxes: list[dict[str, float]] = page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height}; })",
    )
    return boxes


def _wait_text(page: Page, selector: str, text: str, *, timeout_ms: float = 15_000) -> None:
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_have_text(text, timeout=timeout_ms)


def test_index_links_to_the_settings_page(page: Page, seed_server: Server) -> None:
    page.goto(seed_server.url + "/")
    assert "NVIDIA RTX A5500" in page.inner_text("main")
    page.get_by_role("link", name="Settings › GPU Configuration").click()
    page.wait_for_url("**/settings/gpu")
    assert page.get_by_role("heading", level=1).inner_text() == "GPU Configuration"
    shoot(page, "index-then-settings")


def test_gpu_cards_show_name_vram_and_a_bar(page: Page, seed_server: Server) -> None:
    page.goto(seed_server.url + "/settings/gpu")
    cards = page.locator(".gpu")
    assert cards.count() == 2
    assert cards.nth(0).locator(".gpu-name").inner_text() == "GPU 0: NVIDIA RTX A5500"
    assert cards.nth(0).locator(".gpu-total").inner_text() == "24.0 GiB"
    assert cards.nth(1).locator(".gpu-name").inner_text() == "GPU 1: NVIDIA RTX A400"
    assert cards.nth(1).locator(".gpu-used").inner_text() == "0.0/4.0 GiB used"
    meter = page.get_by_role("meter", name="GPU 0 memory used")
    assert meter.get_attribute("aria-valuemax") == "24564"
    shoot(page, "gpu-cards")


def test_bars_refresh_live_without_layout_shift(page: Page, seed_server: Server) -> None:
    """The refresh re-reads /api/system/gpus; figures change, nothing on the page moves."""
    used = {"0": 19304, "1": 329}

    def live(route: Route) -> None:
        real = json.loads(route.fetch().text())
        for gpu in real["gpus"]:
            gpu["vram_used_mb"] = used[str(gpu["index"])]
        route.fulfill(json=real)

    page.goto(seed_server.url + "/settings/gpu")
    page.evaluate(
        "window.__shift = 0; new PerformanceObserver(list => { for (const e of list.getEntries())"
        " window.__shift += e.value; }).observe({type: 'layout-shift', buffered: false});"
    )
    watched = ".gpu, .gpu-name, .gpu-total, .bar, .gpu-used, #strategy, #profile"
    before = _boxes(page, watched)
    page.route("**/api/system/gpus", live)
    page.evaluate("window.gpuplanSettings.refreshGpus()")
    _wait_text(page, '.gpu[data-index="0"] .gpu-used', "18.9/24.0 GiB used")
    page.wait_for_timeout(600)  # the bar's width transition
    assert page.locator('.gpu[data-index="1"] .gpu-used').inner_text() == "0.3/4.0 GiB used"
    width = page.eval_on_selector('.gpu[data-index="0"] .fill', "e => e.style.width")
    assert width == "78.6%"  # 19304 / 24564
    assert page.get_by_role("meter", name="GPU 0 memory used").get_attribute("aria-valuenow") == (
        "19304"
    )
    assert _boxes(page, watched) == before
    assert page.evaluate("window.__shift") == 0
    shoot(page, "gpu-cards-live")

    # The page's own timer does the same without being asked.
    used.update({"0": 20480})
    _wait_text(page, '.gpu[data-index="0"] .gpu-used', "20.0/24.0 GiB used", timeout_ms=12_000)


def test_profile_explanation_and_role_picks(page: Page, seed_server: Server) -> None:
    page.goto(seed_server.url + "/settings/gpu")
    profile = page.locator("#profile")
    assert "balanced_24gb" in profile.locator(".profile-name").inner_text()
    assert "mismatched" in profile.locator(".why").inner_text()
    rows = profile.locator("#provenance tbody tr")
    assert not rows.first.is_visible()
    page.locator("#provenance summary").focus()
    page.keyboard.press("Enter")
    assert rows.first.is_visible()
    assert "max_vram_mb" in profile.locator("#provenance").inner_text()
    picks = profile.locator("table.picks tbody th")
    assert picks.all_inner_texts()[:3] == ["chat", "embedding", "caption"]
    shoot(page, "profile")


def test_no_gpus_detected_disables_controls_and_offers_a_what_if(
    page: Page, cpu_server: Server
) -> None:
    page.goto(cpu_server.url + "/settings/gpu")
    assert page.locator("#no-gpus").inner_text() == "No GPUs detected"
    assert page.locator(".gpu").count() == 0
    for radio in page.get_by_role("radio").all():
        assert radio.is_disabled()
    for name in ("Preview Changes", "Save", "Apply & Restart Services"):
        assert page.get_by_role("button", name=name).is_disabled()
    shoot(page, "no-gpus")

    page.get_by_role("button", name="Re-scan GPUs").click()  # seed 004's POST …/detect
    _wait_text(page, "#detect-status", "re-scanned: still no GPU")
    assert page.locator("#no-gpus").is_visible()

    field = page.get_by_label("Plan for declared hardware (what-if)")
    assert field.input_value() == "2x RTX 4090"
    field.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/settings/gpu?hardware=2x+RTX+4090")
    assert "What-if plan" in page.locator("#whatif-note").inner_text()
    assert page.locator(".gpu").count() == 2
    assert "RTX 4090" in page.locator(".gpu-name").first.inner_text()
    assert page.get_by_role("button", name="Save").is_disabled()
    assert page.get_by_role("button", name="Apply & Restart Services").is_disabled()
    assert page.locator("table.picks tbody tr").count() >= 3
    shoot(page, "what-if-2x4090")


def test_a_bad_what_if_says_why(page: Page, cpu_server: Server) -> None:
    page.goto(cpu_server.url + "/settings/gpu?hardware=2x+RTX+9999")
    assert "unknown GPU" in page.get_by_role("alert").inner_text()
    assert page.locator("#no-gpus").is_visible()
    shoot(page, "what-if-error")


def test_what_if_never_reads_a_file(tmp_path: Path, page: Page, cpu_server: Server) -> None:
    secret = tmp_path / "box.json"
    secret.write_text('{"gpus": [{"name": "RTX 4090"}]}')
    page.goto(cpu_server.url + f"/settings/gpu?hardware={secret}")
    assert page.get_by_role("alert").is_visible()
    assert page.locator(".gpu").count() == 0
