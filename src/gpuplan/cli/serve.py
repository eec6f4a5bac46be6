"""`gpuplan serve`: the HTTP API (and, later, the web page) on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from gpuplan.cli._common import HardwareOpt, HeadroomOpt, ProfileOpt, console, handle_errors


@handle_errors
def serve(
    hardware: HardwareOpt = None,
    profile: ProfileOpt = None,
    headroom_mb: HeadroomOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 exposes it to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8100,
) -> None:
    """Serve the HTTP API: /v1/config/profile, /v1/models/select_by_role, /health, /docs."""
    import uvicorn

    from gpuplan.api import create_app
    from gpuplan.api.state import ServerSettings

    app = create_app(ServerSettings(hardware=hardware, profile=profile, headroom_mb=headroom_mb))
    console.print(f"gpuplan API on http://{host}:{port} (OpenAPI at /docs)")
    uvicorn.run(app, host=host, port=port, log_level="info")
