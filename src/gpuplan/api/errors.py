"""One JSON error shape for the whole API.

Every error body is ``{"detail": "<one line>", "error": {"type", "message",
"hint"}}``: ``detail`` keeps FastAPI's convention for clients that only read
that, ``error`` says which gpuplan error it was and how to fix it.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

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


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    @app.exception_handler(GpuplanError)
    async def _gpuplan(_request: Request, error: GpuplanError) -> JSONResponse:
        body = error_body(type(error).__name__, error.message, error.hint)
        headers = None
        if isinstance(error, QueueFullError):
            headers = {"Retry-After": str(error.retry_after_seconds)}
        return JSONResponse(body, status_code=status_for(error), headers=headers)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(
            error_body("HTTPException", str(error.detail)),
            error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors()
        )
        return JSONResponse(error_body("RequestValidationError", problems), status_code=422)
