"""/docs (Swagger UI) and /redoc from files shipped in the package, never from a CDN.

FastAPI's built-in pages load their scripts from jsdelivr and Google Fonts, so
they are blank on an offline machine — the kind gpuplan is for. The vendored
copies (see ``static/VERSIONS.txt``) are served under ``/static/docs``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "install"]

ASSETS = "/static/docs"
"""Where the vendored Swagger UI and ReDoc files are served."""


def _static_dir() -> Path:
    return Path(str(resources.files("gpuplan.api") / "static"))


def install(app: FastAPI) -> None:
    """Mount the assets and add the two pages (the app is built with docs_url=None)."""
    app.mount(ASSETS, StaticFiles(directory=_static_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon-32x32.png",
            with_google_fonts=False,
        )
