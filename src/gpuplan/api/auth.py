"""The bearer-token rule for mutating routes: needed whenever the server leaves loopback.

A server on 127.0.0.1 / ::1 is reachable only from this machine, so it needs no
token; one that listens beyond loopback must have a token (``gpuplan serve``
generates one on first start) and every mutating route checks it. ``require_token``
is a plain dependency so it composes with the Host/Origin checks.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import HTTPException, Request

from gpuplan.api.state import get_state
from gpuplan.errors import GpuplanError

__all__ = ["check_bind", "is_loopback", "require_token"]


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
