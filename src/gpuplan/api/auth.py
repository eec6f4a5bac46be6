"""The bearer-token rule for mutating routes: needed whenever the server leaves loopback.

A server on 127.0.0.1 / ::1 is reachable only from this machine, so it needs no
token; one that listens beyond loopback must have a token (``gpuplan serve``
generates one on first start) and every mutating route checks it. ``require_token``
is a plain dependency so it composes with the Host/Origin checks.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from fastapi import HTTPException, Request

from gpuplan.api.state import get_state
from gpuplan.errors import GpuplanError
from gpuplan.fileio import write_atomic

__all__ = [
    "TOKEN_ENV",
    "check_bind",
    "default_token_path",
    "ensure_token",
    "is_loopback",
    "require_token",
]

TOKEN_ENV = "GPUPLAN_API_TOKEN"


def default_token_path() -> Path:
    """``api-token`` in the user's config directory (e.g. ~/.config/gpuplan)."""
    from platformdirs import user_config_path

    return user_config_path("gpuplan", appauthor=False) / "api-token"


def ensure_token(path: Path | None = None) -> tuple[str, bool]:
    """The API token and whether it was just created (then the caller prints it, once).

    ``GPUPLAN_API_TOKEN`` wins; otherwise the token file, created on first use
    with user-only permissions (0600 in a 0700 directory).
    """
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env, False
    path = path or default_token_path()
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing, False
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, token + "\n", mode=0o600)
    except OSError as error:
        raise GpuplanError(
            f"cannot store the API token in {path}: {error.strerror or error}",
            hint=f"set {TOKEN_ENV}, or listen on 127.0.0.1",
        ) from error
    return token, True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(bind_host: str, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token."""
    if token is None and not is_loopback(bind_host):
        raise GpuplanError(
            f"refusing to listen on {bind_host} without an API token: anyone who can reach "
            "it could change and apply the GPU configuration",
            hint="let `gpuplan serve` generate one (it does on first start), set "
            "GPUPLAN_API_TOKEN, or listen on 127.0.0.1",
        )


def require_token(request: Request) -> None:
    """401 unless ``Authorization: Bearer <token>`` matches (when a token is configured)."""
    token = get_state(request).settings.token
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        raise HTTPException(
            status_code=401,
            detail="this server listens beyond loopback: send Authorization: Bearer <token> "
            "(printed by `gpuplan serve` on first start, stored in its token file)",
            headers={"WWW-Authenticate": "Bearer"},
        )
