"""One JSON error shape for the whole API.

Every error body is ``{"detail": "<one line>", "error": {"type", "message",
"hint"}}``: ``detail`` keeps FastAPI's convention for clients that only read
that, ``error`` says which gpuplan error it was and how to fix it. That holds
for gpuplan's own errors, for 404/405 from routing, for 422 from request
validation (with the problems in plain words, never pydantic's), and for the
Host/Origin guard's refusals; the OpenAPI document declares ``ErrorBody`` for
each, so a client (or schemathesis) can check every answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from gpuplan.errors import (
    ApplyBusyError,
    ApplyError,
    BackendFailedError,
    BackendStartError,
    CannotFitError,
    ComposeFileError,
    GpuplanError,
    HardwareSpecError,
    HistoryNotFoundError,
    InvalidConfigError,
    ModelNotFoundError,
    PlacementError,
    ProfileNotFoundError,
    ProfileValidationError,
    QueueFullError,
    ServicesFileError,
    StaleWriteError,
    TaskNotFoundError,
    TuningConfigError,
    UnknownRoleError,
    UnknownServiceError,
)
from gpuplan.problems import describe

__all__ = [
    "ErrorBody",
    "ErrorInfo",
    "error_body",
    "error_responses",
    "install",
    "json_error_responses",
    "status_for",
]


class ErrorInfo(BaseModel):
    """Which error it was and how to fix it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(description="gpuplan error class, or HTTPException / RequestValidationError.")
    message: str = Field(description="What is wrong, in one line.")
    hint: str | None = Field(default=None, description="How to fix it, when known.")


class ErrorBody(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detail: str = Field(description="The message again, for clients that read only `detail`.")
    error: ErrorInfo = Field(description="The error, its message and its fix.")


_DESCRIPTIONS = {
    400: "Bad input (an unknown role, a malformed hardware spec or configuration)",
    401: "A write without the bearer token (required when bound beyond loopback)",
    403: "A cross-origin write, refused",
    404: "No such route, profile, model or history entry",
    405: "Method not allowed on this route",
    409: "Another apply is running",
    412: "The configuration changed since it was read (stale write)",
    421: "A Host name this server is not bound to (DNS rebinding guard)",
    422: "A parameter failed validation",
    500: "An error gpuplan could not attribute to the input",
    503: "Not initialized (hardware, profile, models, store) or cannot apply here (no Compose "
    "file or runtime); the reason says why",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring ``ErrorBody`` for each status code."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


def json_error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``error_responses`` for a route whose success is not JSON (``/metrics``).

    FastAPI documents a ``model`` response under the route's own media type, which
    would claim the errors are ``text/plain``; they are the JSON ``ErrorBody``, so
    the content is spelled out (the component exists: every other route names it).
    """
    schema = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}
    return {
        code: {
            "description": _DESCRIPTIONS[code],
            "content": {"application/json": {"schema": schema}},
        }
        for code in codes
    }


def error_body(kind: str, message: str, hint: str | None = None) -> dict[str, object]:
    return {"detail": message, "error": {"type": kind, "message": message, "hint": hint}}


def status_for(error: GpuplanError) -> int:
    """404 for a name that does not exist, 400 for bad input, 412 for a stale write,
    409 while another apply runs, 503 when this server cannot apply, 500 otherwise.

    Serving: a backend that never became healthy is 504, one that exited or broke
    off is 502, a full swap queue or a model that cannot fit now is 503.
    """
    if isinstance(error, StaleWriteError):
        return 412
    if isinstance(error, ApplyBusyError):
        return 409
    if isinstance(error, ComposeFileError | InvalidConfigError):
        return 400
    if isinstance(
        error,
        ProfileNotFoundError
        | ModelNotFoundError
        | HistoryNotFoundError
        | TaskNotFoundError
        | UnknownServiceError,
    ):
        return 404
    if isinstance(error, TuningConfigError):
        return 400
    if isinstance(error, BackendStartError):
        return 504 if error.timed_out else 502
    if isinstance(error, BackendFailedError):
        return 502
    if isinstance(error, QueueFullError | CannotFitError | ServicesFileError):
        return 503
    if isinstance(error, PlacementError):  # the request's pins cannot be placed as asked
        return 400
    if isinstance(error, ApplyError):  # no Compose file or runtime: cannot apply here, now
        return 503
    if isinstance(error, HardwareSpecError | ProfileValidationError | UnknownRoleError):
        return 400
    return 500


def _validation_message(error: RequestValidationError) -> str:
    problems = []
    for detail in error.errors():
        loc = list(detail.get("loc") or ())
        where = loc[0] if loc and loc[0] in ("query", "path", "body", "header") else None
        field, problem = describe({**detail, "loc": loc[1:] if where else loc})
        problems.append(f"{where + ' ' if where else ''}{field or 'parameter'} {problem}")
    return "; ".join(problems) or "the request is not valid"


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path takes (GET and PUT of one path: both)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    @app.exception_handler(GpuplanError)
    async def _gpuplan(_request: Request, error: GpuplanError) -> JSONResponse:
        body = error_body(type(error).__name__, error.message, error.hint)
        headers = None
        if isinstance(error, QueueFullError):
            headers = {"Retry-After": str(error.retry_after_seconds)}
        return JSONResponse(body, status_code=status_for(error), headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        body = error_body("HTTPException", str(error.detail))
        headers = dict(error.headers or {})
        if error.status_code == 405:  # Starlette names only the first route's methods
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(body, error.status_code, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        body = error_body(
            "RequestValidationError",
            _validation_message(error),
            "see /docs for the parameters this route takes",
        )
        return JSONResponse(body, status_code=422)
