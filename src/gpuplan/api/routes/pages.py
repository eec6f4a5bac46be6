"""The web pages: ``/`` and ``/settings/gpu``, rendered from the JSON routes' own documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from gpuplan import __version__
from gpuplan.api.routes.hardware import system_gpus
from gpuplan.api.state import get_state
from gpuplan.errors import GpuplanError
from gpuplan.web import STATIC_DIR, render, settings_page
from gpuplan.web.gather import profile_view, what_if_host

router = APIRouter(include_in_schema=False)

PAGE_HEADERS = {
    # Scripts and styles come from this server only; nothing may frame the page.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _html(body: str) -> HTMLResponse:
    return HTMLResponse(body, headers=PAGE_HEADERS)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    host = get_state(request).host
    return _html(
        render(
            "index.html",
            version=__version__,
            hardware_summary=host.summary() if host else "hardware not loaded",
            hardware_source=host.source if host else None,
        )
    )


@router.get("/settings/gpu", response_class=HTMLResponse)
def settings_gpu(
    request: Request,
    hardware: Annotated[
        str | None,
        Query(description="Declared hardware to plan for (what-if), in words."),
    ] = None,
) -> HTMLResponse:
    state = get_state(request)
    host, resolution = state.host, state.resolution
    what_if = what_if_error = None
    if hardware and hardware.strip():
        try:
            host, resolution = what_if_host(hardware, headroom_mb=state.settings.headroom_mb), None
            what_if = hardware.strip()
        except GpuplanError as error:
            shown = hardware.strip()
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            what_if_error = f"Declared hardware {shown!r}: {error}"
    parts: dict[str, Any] = {}
    if host is not None:
        view = profile_view(host, resolution, state.settings.profile)
        parts = {
            "explanation": view.explanation,
            "selection": view.selection,
            "profile_error": view.error
            or state.startup_errors.get("profile", "The profile is not loaded."),
        }
    page = settings_page(
        gpus_document=system_gpus(host) if host is not None else None,
        hardware_source=host.source if host else "",
        hardware_error=None if host else state.startup_errors.get("hardware", "not loaded"),
        what_if=what_if,
        what_if_error=what_if_error,
        no_services_reason=(
            "No services to assign: start the server with --services FILE "
            "(seed 004's services) to assign them to GPUs here."
        ),
        **parts,
    )
    return _html(render("settings_gpu.html", version=__version__, page=page))


def install(app: FastAPI) -> None:
    """Mount the pages and their static files."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
