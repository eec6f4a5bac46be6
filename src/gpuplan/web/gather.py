"""The core calls behind the page: a what-if host, its profile, and the role picks.

A what-if host is parsed from words only (``2x RTX 4090``), never from a file
path: a form field must not make the server read its own files.
"""

from __future__ import annotations

import shlex
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from threading import Lock

from gpuplan.errors import GpuplanError
from gpuplan.hardware import Host
from gpuplan.hardware.declared import parse_text
from gpuplan.hardware.model import DEFAULT_HEADROOM_MB
from gpuplan.models import load_registry
from gpuplan.placement import Service
from gpuplan.planning import make_plan, plan_launch_requests
from gpuplan.profiles import Explanation, Resolution, explain, resolve_here
from gpuplan.selection import JointSelection
from gpuplan.web.page import AssignmentRow, LaunchLine

__all__ = [
    "MAX_WHAT_IF_CHARS",
    "ProfileView",
    "launch_lines",
    "profile_view",
    "shell_lines",
    "what_if_host",
]

MAX_WHAT_IF_CHARS = 200
"""Longer than any real declaration ('8x H100-80GB, 2x L40S …'); longer is refused."""

_CACHE_SIZE = 16


class ProfileView:
    """A host's profile explanation and role picks, or why they are missing."""

    def __init__(
        self,
        explanation: Explanation | None,
        selection: JointSelection | None,
        error: str | None,
    ) -> None:
        self.explanation = explanation
        self.selection = selection
        self.error = error


_cache: OrderedDict[tuple[int, int], tuple[Host, Resolution, ProfileView]] = OrderedDict()
_lock = Lock()


def what_if_host(spec: str, *, headroom_mb: int | None = None) -> Host:
    """The declared host of a what-if form; a ``GpuplanError`` says what is wrong."""
    text = spec.strip()
    if len(text) > MAX_WHAT_IF_CHARS:
        raise GpuplanError(
            f"the declared hardware is {len(text)} characters long",
            hint=f"write at most {MAX_WHAT_IF_CHARS}, e.g. '2x RTX 4090'",
        )
    if not text:
        raise GpuplanError("the declared hardware is empty", hint="write e.g. '2x RTX 4090'")
    return parse_text(text, headroom_mb=DEFAULT_HEADROOM_MB if headroom_mb is None else headroom_mb)


def profile_view(
    host: Host, resolution: Resolution | None = None, profile: str | None = None
) -> ProfileView:
    """Why this profile, every value's source, and one model per role — as `gpuplan plan`.

    Planning takes ~0.1 s, so a host's answer is kept while the server holds it.
    """
    if resolution is None:
        try:
            resolution, _catalog = resolve_here(host, profile)
        except GpuplanError as error:
            return ProfileView(None, None, f"The profile could not be resolved: {error}")
    key = (id(host), id(resolution))
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is host and hit[1] is resolution:
            _cache.move_to_end(key)
            return hit[2]
    explanation = explain(resolution, host)
    selection: JointSelection | None = None
    problem: str | None = None
    try:
        selection = make_plan(host, resolution, load_registry().entries).selection
    except GpuplanError as failure:
        problem = f"The role picks could not be made: {failure}"
    view = ProfileView(explanation, selection, problem)
    with _lock:
        _cache[key] = (host, resolution, view)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return view


def shell_lines(env: Mapping[str, str], argv: Sequence[str]) -> str:
    """The command as a person reads it: one option per line, joined by backslashes.

    Each token is quoted for a POSIX shell, so the copied text runs as it is.
    """
    head = [f"{key}={shlex.quote(value)}" for key, value in env.items()]
    lines: list[list[str]] = [[*head, shlex.quote(argv[0])]] if argv else [head]
    for token in argv[1:]:
        if token.startswith("-") and len(token) > 1 and not token[1].isdigit():
            lines.append([shlex.quote(token)])
        else:
            lines[-1].append(shlex.quote(token))
    return " \\\n  ".join(" ".join(line) for line in lines)


def launch_lines(
    rows: Sequence[AssignmentRow],
    services: Sequence[Service],
    host: Host,
    resolution: Resolution | None,
    strategy: str,
) -> tuple[tuple[LaunchLine, ...], tuple[str, ...]]:
    """Each service's launch command for the assignments the table shows, and notes.

    The same path as `gpuplan render`: a placement, then ``launch_requests`` and one
    engine renderer per service. Services without a server of their own (a
    detector given as ``vram_mb``) get a note instead of a line.
    """
    from gpuplan.launch import render
    from gpuplan.placement import Assignment, Placement

    by_name = {service.name: service for service in services}
    assignments = []
    for row in rows:
        service = by_name.get(row.service)
        if service is None:
            continue
        assignments.append(
            Assignment(
                service=row.service,
                model=service.model,
                gpu_indices=() if row.gpu_value == "cpu" else (int(row.gpu_value),),
                vram_budget_mb=row.budget_mb if row.budget_mb is not None else service.vram_mb,
                reason="as the table shows",
                budget_adjusted=row.adjusted,
            )
        )
    placement = Placement(strategy=strategy, assignments=tuple(assignments), gpus=())
    try:
        requests, notes = plan_launch_requests(
            placement, services, host, resolution, load_registry().entries
        )
        lines = []
        for request in requests:
            config = render(request)
            lines.append(
                LaunchLine(
                    service=config.service,
                    engine=config.engine,
                    engine_version=config.engine_version,
                    command=shell_lines(config.env, config.argv),
                )
            )
    except GpuplanError as error:
        return (), (f"Launch commands could not be made: {error}",)
    return tuple(lines), tuple(notes)
