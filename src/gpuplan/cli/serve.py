"""`gpuplan serve`: the HTTP API (and, later, the web page) on this machine.

The port is bound before anything is printed, so a taken port is one clear
error line rather than a URL that leads to someone else's server; declared
hardware (--hardware) is checked first too, since a mistyped flag is the user's
to fix, not a reason to start "degraded". (Detection problems on the machine
itself still start the server degraded, with the reason at /health.)
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Annotated, Literal

import typer

from gpuplan.cli._common import (
    HardwareOpt,
    HeadroomOpt,
    ProfileOpt,
    console,
    err_console,
    handle_errors,
)
from gpuplan.errors import GpuplanError


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a taken or unusable address is a GpuplanError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise GpuplanError(
            f"cannot listen on {host!r}: {error.strerror}",
            hint="give an address of this machine, like 127.0.0.1 or 0.0.0.0",
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise GpuplanError(
                f"port {port} on {host} is already in use",
                hint=f"stop the program using it, or pick another with --port {port + 1}",
            ) from None
        raise GpuplanError(
            f"cannot listen on {host}:{port}: {error.strerror or error}",
            hint="ports below 1024 need root; pick another with --port",
        ) from None
    sock.set_inheritable(True)
    return sock


@handle_errors
def serve(
    hardware: HardwareOpt = None,
    profile: ProfileOpt = None,
    headroom_mb: HeadroomOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8100,
    services: Annotated[
        Path | None,
        typer.Option(
            "--services",
            envvar="GPUPLAN_SERVICES",
            help="Services file for /api/system/gpu-config (preview, PUT) and the "
            "OpenAI-compatible proxy at /v1, which starts each service on demand (cmd with "
            "${PORT}, health, vram_mb or model). Default: $GPUPLAN_SERVICES.",
            show_default=False,
        ),
    ] = None,
    compose_file: Annotated[
        Path | None,
        typer.Option(
            "--compose-file",
            envvar="GPUPLAN_COMPOSE_FILE",
            help="Base Compose file that /api/system/gpu-config/apply recreates services of. "
            "Default: $GPUPLAN_COMPOSE_FILE.",
            show_default=False,
        ),
    ] = None,
    runtime: Annotated[
        Literal["docker", "podman"] | None,
        typer.Option("--runtime", help="docker or podman; default: whichever is installed."),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Another Host name to answer to (a reverse proxy's name); repeatable. "
            "localhost, the loopback addresses and --host are always accepted.",
            show_default=False,
        ),
    ] = None,
    queue_limit: Annotated[
        int,
        typer.Option(
            "--queue-limit", min=0, help="Requests that may wait for a model swap; then 503."
        ),
    ] = 16,
    log_dir: Annotated[
        str | None,
        typer.Option(
            "--log-dir",
            help="Directory for backend logs (default $XDG_STATE_HOME/gpuplan/serving).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API: /api/system/gpu-config (seed 004), /v1/config/profile,
    /v1/models/select_by_role, /health, /docs; with --services, the OpenAI-compatible
    proxy at /v1.

    The proxy serves /v1/chat/completions, /v1/completions, /v1/embeddings and
    /v1/models, starting each service of the services file on demand within the
    active profile, plus /api/serving/status and /metrics.

    Beyond loopback (--host 0.0.0.0) mutating routes need `Authorization: Bearer TOKEN`;
    the token is generated on first start, stored user-only, and printed once. Only
    the Host names it is bound to are answered, and cross-site writes are refused.
    """
    import uvicorn
    from rich.markup import escape

    from gpuplan.api import create_app
    from gpuplan.api.auth import default_token_path, ensure_token, is_loopback
    from gpuplan.api.state import ServerSettings
    from gpuplan.hardware import load_host

    if services:  # a broken services file is a one-line error now, not a 503 later
        from gpuplan.errors import GpuplanError, ServicesFileError
        from gpuplan.serving.services import load_serving_services

        try:
            load_serving_services(services)
        except ServicesFileError as serving_error:
            # Seed 004's services (no cmd) are for /api/system/gpu-config and the settings
            # page; the proxy then answers 503 saying why, the rest of the server works.
            from gpuplan.placement.services import load_services

            try:
                load_services(services)
            except GpuplanError:
                raise serving_error from None
    if hardware is not None:  # declared: a typo is refused now, not served degraded
        load_host(hardware, headroom_mb=headroom_mb)
    sock = bind(host, port)  # a taken port is an error before anything is printed
    try:
        token = None
        if not is_loopback(host):
            token, created = ensure_token()
            if created:
                err_console.print(
                    f"API token (shown once, stored in {escape(str(default_token_path()))}): "
                    f"{token}",
                    soft_wrap=True,
                    highlight=False,
                )
        app = create_app(
            ServerSettings(
                hardware=hardware,
                profile=profile,
                headroom_mb=headroom_mb,
                services=str(services) if services else None,
                compose_file=str(compose_file) if compose_file else None,
                runtime=runtime,
                bind_host=host,
                token=token,
                allowed_hosts=tuple(allowed_host or ()),
                queue_limit=queue_limit,
                serving_log_dir=log_dir,
            )
        )
    except BaseException:
        sock.close()
        raise
    shown = f"[{host}]" if ":" in host else host
    console.print(f"gpuplan API on http://{shown}:{port} (OpenAPI at /docs)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="info"))
    server.run(sockets=[sock])
