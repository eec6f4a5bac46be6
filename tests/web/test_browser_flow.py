"""Seed 004's whole loop in chromium, against a real `gpuplan serve` and a stand-in Compose.

The server plans for seed 004's reference machine (``RTX A5500, RTX A400``) with
its five services (``examples/seed004-services.yml`` and ``seed004-compose.yml``);
apply recreates services through a stand-in ``docker`` on PATH that records its
argument lists and can be told to fail (tests/apply/standins.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.apply import standins
from tests.conftest import REPO_ROOT
from tests.web.harness import Server, serve, shoot

if TYPE_CHECKING:
    from playwright.sync_api import Page

SEED_HARDWARE = "RTX A5500, RTX A400"
SERVICES = ("ai-llm", "ai-yolo26", "ai-florence", "ai-clip", "ai-enrichment")


@dataclass
class Deployment:
    server: Server
    compose: standins.ComposeStandin
    project: Path


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "examples" / "seed004-services.yml", project / "services.yml")
    shutil.copy(REPO_ROOT / "examples" / "seed004-compose.yml", project / "docker-compose.yml")
    compose = standins.docker(tmp_path / "bin", tmp_path / "docker-home")
    env = {
        "PATH": f"{compose.bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "GPUPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'gpuplan.db'}",
    }
    args = ["--hardware", SEED_HARDWARE, "--services", "services.yml"]
    args += ["--compose-file", "docker-compose.yml", "--runtime", "docker"]
    with serve(args, workdir=project, env=env) as server:
        yield Deployment(server=server, compose=compose, project=project)


def expect_text(page: Page, selector: str, text: str, *, timeout_ms: float = 20_000) -> None:
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_contain_text(text, timeout=timeout_ms)


def expect_gpu(page: Page, service: str, gpu: str, *, timeout_ms: float = 20_000) -> None:
    """Wait for the page to show ``service`` on ``gpu``: the status line can change a moment
    before the table is drawn again from the server's new configuration."""
    from playwright.sync_api import expect

    select = page.locator(f'select[name="gpu"][data-service="{service}"]')
    expect(select).to_have_value(gpu, timeout=timeout_ms)


def warnings(page: Page) -> list[str]:
    return page.locator("#warning-list li").all_inner_texts()


def test_table_shows_seed_004s_services_and_its_adjusted_budget(
    page: Page, deployment: Deployment
) -> None:
    page.goto(deployment.server.url + "/settings/gpu")
    rows = page.locator("#assign-rows tr[data-service]:not(.budget-row)")
    assert rows.locator("th").all_inner_texts() == list(SERVICES)
    llm = rows.nth(0)
    assert llm.locator(".model").inner_text() == "nemotron-3-nano-30b-a3b"
    assert llm.locator(".est").inner_text() == "~21.7 GiB"
    assert rows.nth(1).locator(".est").inner_text() == "~650 MiB"
    assert rows.nth(4).locator(".model").inner_text() == "Model Zoo (9 models)"
    expect_gpu(page, "ai-llm", "0")
    expect_gpu(page, "ai-enrichment", "1")
    budget = page.get_by_label("VRAM Budget").nth(4)
    assert budget.input_value() == "3.5"
    assert page.locator("#adjusted-5").is_visible()
    assert page.locator("#adjusted-5").inner_text() == "⚠️ Adjusted"
    assert not page.locator("#adjusted-1").is_visible()
    assert any(
        "ai-enrichment VRAM budget (6.8 GB) exceeds GPU 1 (4 GB). Auto-adjusted to 3.5 GB." in w
        for w in warnings(page)
    )
    assert "proposal" in page.locator("#status-text").inner_text()
    shoot(page, "assignments-proposal")


def test_strategy_preview_edit_save_apply(page: Page, deployment: Deployment) -> None:
    page.goto(deployment.server.url + "/settings/gpu")
    page.get_by_role("button", name="Save", exact=True).click()
    expect_text(page, "#status-text", "saved (not applied yet)")

    # Change the strategy: the table shows its placement, the preview its diff.
    page.get_by_role("radio", name="Isolation-first").check()
    expect_text(page, "#status-text", "previewing isolation_first")
    for service, gpu in zip(SERVICES, ["0", "1", "1", "1", "1"], strict=True):
        expect_gpu(page, service, gpu)
    preview = page.locator("#preview")
    assert preview.is_visible()
    assert "changes 4 service(s)" in preview.inner_text()
    assert "ai-yolo26: GPU 0 → GPU 1" in preview.inner_text()
    assert "Unchanged: ai-llm." in preview.inner_text()
    shoot(page, "strategy-isolation-preview")

    # Change one GPU by hand: the strategy becomes manual and a seed-004 warning appears.
    assert not any("GPU 1 only has 4 GB" in w for w in warnings(page))
    page.locator('select[data-service="ai-llm"]').select_option("1")
    expect_text(page, "#warning-list", "GPU 1 only has 4 GB")
    assert page.get_by_role("radio", name="Manual").is_checked()
    assert page.locator('tr[data-service="ai-llm"]:not(.budget-row)').get_attribute("class") == (
        "changed"
    )
    page.get_by_role("button", name="Preview Changes").click()
    assert "ai-llm: GPU 0 → GPU 1" in preview.inner_text()
    shoot(page, "manual-change-warning")

    page.get_by_role("button", name="Save", exact=True).click()
    expect_text(page, "#status-text", "saved (not applied yet)")
    expect_gpu(page, "ai-llm", "1")

    page.get_by_role("button", name="Apply & Restart Services").click()
    expect_text(page, "#status-text", "All services running")
    assert page.locator("#status").get_attribute("data-state") == "done"
    assert sorted(deployment.compose.recreated()) == sorted(SERVICES)
    progress = page.locator("#progress li").all_inner_texts()
    assert "ai-llm: restarted" in progress
    shoot(page, "applied-done")

    # A reload shows what was saved and applied.
    page.reload()
    expect_gpu(page, "ai-llm", "1")
    assert page.get_by_role("radio", name="Manual").is_checked()
    assert "All services running" in page.locator("#status-text").inner_text()


def test_failed_apply_offers_rollback(page: Page, deployment: Deployment) -> None:
    page.goto(deployment.server.url + "/settings/gpu")
    page.get_by_role("button", name="Apply & Restart Services").click()  # saves, then applies
    expect_text(page, "#status-text", "All services running")
    deployment.compose.clear()

    page.locator('select[data-service="ai-clip"]').select_option("1")
    expect_text(page, "#status-text", "edited (not saved)")
    deployment.compose.fail_once_on("ai-clip")
    page.get_by_role("button", name="Apply & Restart Services").click()
    expect_text(page, "#status-text", "apply failed")
    assert page.locator("#status").get_attribute("data-state") == "failed"
    rollback = page.get_by_role("button", name="Roll back to the previous configuration")
    assert rollback.is_visible()
    assert page.evaluate("document.activeElement.id") == "btn-rollback"
    assert "put back on their previous GPUs: ai-clip" in page.locator("#status-text").inner_text()
    assert "could not select device driver" in page.locator("#status-detail").inner_text()
    assert "ai-clip: failed to restart" in page.locator("#progress").inner_text() or (
        "ai-clip: put back on its previous GPU" in page.locator("#progress").inner_text()
    )
    shoot(page, "apply-failed")

    rollback.click()
    expect_text(page, "#status-text", "rolled back to the previous configuration")
    expect_gpu(page, "ai-clip", "0")
    assert not rollback.is_visible()
    expect_text(page, "#warning-list", "Auto-adjusted to 3.5 GB.")
    shoot(page, "rolled-back")


def tab_to(page: Page, selector: str, *, limit: int = 60) -> list[str]:
    """Press Tab until the focused element matches ``selector``; the focus path taken.

    Every element the keyboard lands on must show where focus is (an outline).
    """
    path = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return {id: e.id || e.tagName, outline: s.outlineStyle, width: s.outlineWidth,"
            " visible: e.matches(':focus-visible')}; }"
        )
        if focused["id"] == "BODY":  # focus enters the page from the browser's own UI
            continue
        path.append(focused["id"])
        assert focused["outline"] != "none" and focused["width"] != "0px", focused
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return path
    raise AssertionError(f"Tab never reached {selector}: {path}")


def test_keyboard_only_flow(page: Page, deployment: Deployment) -> None:
    """Tab, arrow keys and Enter do everything: strategy, a GPU, save, apply."""
    page.goto(deployment.server.url + "/settings/gpu")
    path = tab_to(page, 'input[name="strategy"]:checked')
    assert path[0] == "A"  # the skip link comes first
    assert page.evaluate("document.activeElement.value") == "vram_based"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect_text(page, "#status-text", "previewing isolation_first")
    assert page.get_by_role("radio", name="Isolation-first").is_checked()
    shoot(page, "keyboard-strategy")

    tab_to(page, 'select[data-service="ai-llm"]')
    page.keyboard.press("ArrowDown")  # GPU 0 → GPU 1
    expect_text(page, "#warning-list", "GPU 1 only has 4 GB")
    expect_gpu(page, "ai-llm", "1")

    tab_to(page, "#btn-preview")
    page.keyboard.press("Enter")
    assert "ai-llm" in page.locator("#preview").inner_text()
    assert page.evaluate("document.activeElement.id") == "preview"
    tab_to(page, "#btn-save")
    shoot(page, "keyboard-focus-save")
    page.keyboard.press("Enter")
    expect_text(page, "#status-text", "saved (not applied yet)")
    tab_to(page, "#btn-apply")
    page.keyboard.press("Enter")
    expect_text(page, "#status-text", "All services running")
    assert "ai-llm" in deployment.compose.recreated()

    tab_to(page, "#provenance summary")
    page.keyboard.press("Enter")
    assert page.locator("#provenance tbody tr").first.is_visible()
    shoot(page, "keyboard-done")


def test_launch_command_and_its_copy_button(page: Page, deployment: Deployment) -> None:
    page.goto(deployment.server.url + "/settings/gpu")
    launch = page.locator('#launch li.launch[data-service="ai-llm"]')
    command = launch.locator("code").inner_text()
    assert command.startswith("CUDA_VISIBLE_DEVICES=0 llama-server \\\n")
    assert "\n  --main-gpu 0 \\\n" in command
    assert "llama.cpp" in launch.locator(".launch-head").inner_text()
    assert "ai-enrichment: no engine or model" in page.locator("#launch .notes").inner_text()
    button = page.get_by_role("button", name="Copy the launch command of ai-llm")
    button.focus()
    page.keyboard.press("Enter")
    expect_text(page, '#launch li[data-service="ai-llm"] button.copy', "Copied")
    assert page.evaluate("navigator.clipboard.readText()") == command
    launch.scroll_into_view_if_needed()
    shoot(page, "launch-commands")


def test_what_if_places_the_services_on_declared_hardware(
    page: Page, deployment: Deployment
) -> None:
    page.goto(deployment.server.url + "/settings/gpu?hardware=2x+RTX+4090")
    assert "What-if plan" in page.locator("#whatif-note").inner_text()
    for service, gpu in zip(SERVICES, ["0", "1", "1", "1", "1"], strict=True):
        expect_gpu(page, service, gpu)
    assert page.locator('select[data-service="ai-llm"]').is_disabled()  # planning only
    assert page.get_by_role("button", name="Preview Changes").is_disabled()
    assert page.get_by_role("button", name="Save", exact=True).is_disabled()
    assert page.get_by_role("button", name="Apply & Restart Services").is_disabled()
    page.get_by_role("radio", name="Balanced").check()
    page.get_by_role("button", name="Place with this strategy").click()
    page.wait_for_url("**strategy=balanced**")
    assert page.get_by_role("radio", name="Balanced").is_checked()
    assert "2x RTX 4090" in page.locator("#whatif-note").inner_text()
    assert deployment.compose.calls() == []  # a what-if never touches the services
    shoot(page, "what-if-services-balanced")


def test_a_budget_typed_by_hand_is_saved_as_an_override(page: Page, deployment: Deployment) -> None:
    page.goto(deployment.server.url + "/settings/gpu")
    from playwright.sync_api import expect

    expect(page.locator("html")).to_have_attribute("data-enhanced", "true")
    budget = page.locator('input[name="budget"][data-service="ai-enrichment"]')
    budget.click()
    budget.select_text()
    page.keyboard.type("3.0")
    expect(budget).to_have_value("3.0")
    page.keyboard.press("Tab")  # change fires when the field is left
    expect_text(page, "#status-text", "edited (not saved)")
    assert page.get_by_role("radio", name="Manual").is_checked()
    assert budget.input_value() == "3.0"
    assert not page.locator("#adjusted-5").is_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    expect_text(page, "#status-text", "saved (not applied yet)")
    import httpx

    saved = httpx.get(deployment.server.url + "/api/system/gpu-config").json()
    (enrichment,) = [a for a in saved["assignments"] if a["service"] == "ai-enrichment"]
    assert enrichment["vram_budget_override"] == 3.0
    page.reload()
    assert page.locator('input[name="budget"][data-service="ai-enrichment"]').input_value() == "3.0"


def test_a_stale_page_is_told_to_reload(page: Page, deployment: Deployment) -> None:
    """Two editors: the second save is refused (412 from If-Match), nothing is lost."""
    other = page.context.new_page()
    page.goto(deployment.server.url + "/settings/gpu")
    other.goto(deployment.server.url + "/settings/gpu")
    page.get_by_role("button", name="Save", exact=True).click()
    expect_text(page, "#status-text", "saved (not applied yet)")
    other.get_by_role("button", name="Save", exact=True).click()  # its ETag is the old one
    expect_text(other, "#status-text", "someone else saved first")
    shoot(other, "stale-save")
    other.close()
