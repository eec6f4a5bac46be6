"""Jinja2 templates and static files shipped inside the package (no build step).

Templates autoescape everything: GPU names, service names and profile values
come from files and tools the page does not control.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from gpuplan.web.views import gib, vram_estimate

__all__ = ["STATIC_DIR", "render"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""CSS and JS the pages load from ``/static/…``."""


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gpuplan.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["gib"] = gib
    env.filters["vram_estimate"] = vram_estimate
    return env


def render(template: str, **context: Any) -> str:
    """The page ``template`` filled with ``context``."""
    return _environment().get_template(template).render(**context)
