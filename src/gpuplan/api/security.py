"""Who may talk to the server: Host names it is bound to, and no cross-origin writes.

The API runs on a user's own machine and can re-detect GPUs (and, with the store,
change the deployment). Two browser attacks reach such a server without any
network exposure:

* **DNS rebinding**: a page on ``evil.example`` re-points its name at 127.0.0.1
  and reads the API as same-origin. Its requests still carry ``Host:
  evil.example``, so only Host names the server is bound to are answered
  (``localhost``, the loopback addresses, the bound address, and any
  ``allowed_hosts``); anything else is 421 Misdirected Request.
* **CSRF**: a page POSTs to ``http://127.0.0.1:8100/…`` from the user's browser.
  Browsers send ``Origin`` (and ``Sec-Fetch-Site``) on such requests, so a
  write (POST, PUT, PATCH, DELETE) whose Origin is not one of the accepted
  hosts, or that the browser marks ``cross-site``, is 403. Clients that are not
  browsers (curl, scripts) send no Origin and are unaffected.

``HostOriginGuard`` is plain ASGI middleware and ``check_request`` a pure
function, so other protections (the store's bearer-token rule for non-loopback
binds) compose with it: add them as further middleware or route dependencies.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HostOriginGuard", "Refusal", "accepted_hosts", "check_request", "is_loopback"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: HTTP status, one-line message and the fix."""

    status: int
    message: str
    hint: str


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost': only this machine can connect."""
    if address.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def accepted_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names (without port) the server answers to when bound to ``bind_host``.

    A wildcard bind (0.0.0.0, ::) accepts any IP literal, since clients reach it
    by whichever address they see; names still have to be listed in ``extra``.
    """
    names = {name.lower() for name in (*_LOOPBACK_NAMES, bind_host.strip("[]"), *extra)}
    return frozenset(names)


def _hostname(value: str) -> str:
    """'127.0.0.1:8100' → '127.0.0.1', '[::1]:80' → '::1', 'Example.org' → 'example.org'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _host_ok(name: str, accepted: frozenset[str], wildcard: bool) -> bool:
    return name in accepted or (wildcard and _is_ip(name))


def check_request(
    *,
    method: str,
    host: str | None,
    origin: str | None,
    fetch_site: str | None,
    accepted: frozenset[str],
    wildcard: bool = False,
) -> Refusal | None:
    """None when the request may go on, else why not (see the module docstring)."""
    name = _hostname(host or "")
    if not name or not _host_ok(name, accepted, wildcard):
        return Refusal(
            421,
            f"this server does not answer to the host name {name or '(none)'!r}",
            "connect by 127.0.0.1 or localhost, or start `gpuplan serve` with "
            "--allowed-host NAME for a name of your own",
        )
    if method.upper() not in _WRITES:
        return None
    if fetch_site is not None and fetch_site.lower() == "cross-site":
        return Refusal(403, "cross-site writes are refused", "call the API from its own page")
    if origin is not None and origin != "null":
        origin_host = urlsplit(origin).hostname or ""
        if not _host_ok(origin_host.lower(), accepted, wildcard):
            return Refusal(
                403,
                f"writes from the page at {origin!r} are refused",
                "call the API from its own page or without a browser",
            )
    elif origin == "null":
        return Refusal(403, "writes from an opaque origin are refused", "call the API directly")
    return None


class HostOriginGuard:
    """ASGI middleware applying ``check_request`` to every HTTP request."""

    def __init__(
        self, app: ASGIApp, *, bind_host: str = "127.0.0.1", allowed_hosts: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.accepted = accepted_hosts(bind_host, allowed_hosts)
        self.wildcard = bind_host.strip("[]") in ("0.0.0.0", "::", "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = check_request(
            method=scope["method"],
            host=headers.get("host"),
            origin=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
            accepted=self.accepted,
            wildcard=self.wildcard,
        )
        if refusal is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "detail": refusal.message,
                "error": {
                    "type": "RequestRefused",
                    "message": refusal.message,
                    "hint": refusal.hint,
                },
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": refusal.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
