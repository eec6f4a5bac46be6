"""The web pages: ``/`` and ``/settings/gpu``, rendered from the JSON routes' own documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from gpuplan import __version__
from gpuplan.api.gpu_service import GpuConfigService
from gpuplan.api.routes import gpu_config
from gpuplan.api.routes.hardware import system_gpus
from gpuplan.api.state import get_state, require_host
from gpuplan.errors import GpuplanError
from gpuplan.hardware import Host
from gpuplan.placement.model import Strategy
from gpuplan.web import STATIC_DIR, render, settings_page
from gpuplan.web.gather import launch_lines, profile_view, what_if_host
from gpuplan.web.page import assignment_rows

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


def _assignments(
    request: Request, host: Host | None, strategy: Strategy | None, what_if: bool
) -> dict[str, Any]:
    """The table's parts: the saved configuration (this machine) or a placement (what-if).

    Read through the JSON routes' own functions, so the page shows what the API says.
    Nothing saved yet: the table shows the default strategy's proposal, unsaved.
    """
    gpu: GpuConfigService = request.app.state.gpu_config
    if host is None:
        return {}
    if not host.gpus:
        if gpu.services_file is None:
            return {}
        return {"no_services_reason": "There is no GPU to assign the services to."}
    try:
        services = gpu.load_services()
    except GpuplanError as error:
        return {"no_services_reason": f"The services file could not be read: {error}"}
    if services is None:
        return {}
    dumps = [s.model_dump(mode="json") for s in services]
    if what_if:
        from gpuplan.apply.services import config_from_placement
        from gpuplan.placement import place

        chosen: Strategy = strategy or "vram_based"
        try:
            placement = place(services, host, strategy=chosen)
        except GpuplanError as error:
            return {"no_services_reason": f"The services could not be placed: {error}"}
        config = config_from_placement(placement, services)
        items = [s.model_dump(mode="json") for s in config.services]
        rows = assignment_rows(dumps, items)
        launches, notes = launch_lines(rows, services, host, None, chosen)
        return {
            "rows": rows,
            "strategy": chosen,
            "warnings": placement.warnings,
            "launches": launches,
            "launch_notes": notes,
        }
    try:
        response = Response()
        document = gpu_config.get_config(gpu, response)
        etag = response.headers.get("ETag")
        status = gpu.status()
    except HTTPException as error:
        return {"no_services_reason": f"The configuration store is not available: {error.detail}"}
    parts: dict[str, Any] = {"config_document": document, "config_etag": etag}
    if document.get("revision"):
        parts.update(rows=assignment_rows(dumps, document["assignments"]))
        text = _status_text(status)
        state = {"applied": "done", "failed": "failed", "interrupted": "failed"}
        parts.update(strategy=document["strategy"], status_text=text)
        if status.get("state") in state and (
            status.get("in_sync") or state[status["state"]] != "done"
        ):
            parts.update(status_state=state[status["state"]])
    else:
        proposal = gpu_config.preview(request, gpu, strategy or "vram_based")
        parts.update(
            rows=assignment_rows(dumps, proposal["assignments"]),
            strategy=proposal["strategy"],
            warnings=tuple(proposal["warnings"]),
            status_text="nothing saved yet: this is the " + proposal["strategy"] + " proposal",
        )
    launches, notes = launch_lines(
        parts["rows"], services, host, get_state(request).resolution, parts["strategy"]
    )
    parts.update(launches=launches, launch_notes=notes)
    return parts


def _status_text(status: dict[str, Any]) -> str:
    state = status.get("state")
    if state == "applied" and status.get("in_sync"):
        return "All services running"
    if state == "applied":
        return "saved changes are not applied yet"
    if state == "failed":
        return "the last apply failed and was rolled back"
    if state in ("applying", "in_progress"):
        return "applying…"
    if state == "interrupted":
        return "an apply was interrupted; it is recovered at the next start"
    return "saved, not applied yet"


@router.get("/settings/gpu", response_class=HTMLResponse)
def settings_gpu(
    request: Request,
    hardware: Annotated[
        str | None,
        Query(description="Declared hardware to plan for (what-if), in words."),
    ] = None,
    strategy: Annotated[Strategy | None, Query(description="What-if strategy.")] = None,
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
    parts = {
        "no_services_reason": (
            "No services to assign: start the server with --services FILE "
            "(seed 004's services) to assign them to GPUs here."
        ),
        **parts,
        **_assignments(request, host, strategy, what_if is not None),
    }
    page = settings_page(
        token_required=state.settings.token is not None,
        gpus_document=system_gpus(host).model_dump() if host is not None else None,
        hardware_source=host.source if host else "",
        hardware_error=None if host else state.startup_errors.get("hardware", "not loaded"),
        what_if=what_if,
        what_if_error=what_if_error,
        **parts,
    )
    return _html(render("settings_gpu.html", version=__version__, page=page))


@router.post("/settings/gpu/check")
def check(
    request: Request, update: Annotated[gpu_config.GpuConfigUpdate, Body()]
) -> dict[str, Any]:
    """What a PUT of ``update`` would save and warn, without saving: the page's live check."""
    from gpuplan.apply.edit import config_from_request

    gpu: GpuConfigService = request.app.state.gpu_config
    config, warnings = config_from_request(
        update.strategy,
        update.assignments,
        host=require_host(request),
        services=gpu.load_services(),
    )
    return {
        "strategy": config.strategy,
        "assignments": [s.model_dump(mode="json") for s in config.services],
        "warnings": warnings,
    }


def install(app: FastAPI) -> None:
    """Mount the pages and their static files."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
