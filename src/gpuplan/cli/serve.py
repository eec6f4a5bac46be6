"""`gpuplan serve`: the HTTP API, the web page later, and the OpenAI-compatible proxy."""

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
    services: Annotated[
        str | None,
        typer.Option(
            "--services",
            envvar="GPUPLAN_SERVICES",
            help="Services file (YAML/TOML/JSON): the models the OpenAI-compatible proxy at "
            "/v1 starts on demand, each with cmd (with ${PORT}), health and vram_mb or model.",
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
    """Serve the HTTP API: /v1/config/profile, /v1/models/select_by_role, /health, /docs; with --services, the OpenAI-compatible proxy that keeps to the profile.

    The proxy serves /v1/chat/completions, /v1/completions, /v1/embeddings and
    /v1/models, starting each service of the services file on demand, plus
    /api/serving/status and /metrics.
    """  # noqa: E501
    import uvicorn

    from gpuplan.api import create_app
    from gpuplan.api.state import ServerSettings

    if services:  # a broken services file is a one-line error now, not a 503 later
        from gpuplan.serving.services import load_serving_services

        load_serving_services(services)
    app = create_app(
        ServerSettings(
            hardware=hardware,
            profile=profile,
            headroom_mb=headroom_mb,
            services=services,
            queue_limit=queue_limit,
            serving_log_dir=log_dir,
        )
    )
    console.print(f"gpuplan API on http://{host}:{port} (OpenAPI at /docs)")
    uvicorn.run(app, host=host, port=port, log_level="info")
