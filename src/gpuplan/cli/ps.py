"""`gpuplan ps`: what a running `gpuplan serve` has loaded, like `ollama ps`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gpuplan.cli._common import JsonOpt, console, emit_json, handle_errors
from gpuplan.errors import ServingError

__all__ = ["format_ps", "ps"]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "forever"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_ps(status: dict[str, Any]) -> list[str]:
    """The lines `gpuplan ps` prints for a ``/api/serving/status`` document."""
    rows = [("NAME", "MODEL", "STATE", "WHERE", "MEMORY", "IDLE", "UNTIL")]
    for entry in status.get("services", []):
        memory = f"{entry['vram_estimate_mb']} MiB"
        measured = entry.get("vram_measured_mb") or entry.get("rss_mb")
        if measured is not None:
            memory += f" ({measured} MiB used)"
        rows.append(
            (
                entry["name"],
                entry.get("model") or "-",
                entry["state"] + (f" ({entry['in_flight']} busy)" if entry["in_flight"] else ""),
                entry["where"],
                memory,
                _age(entry["idle_seconds"]),
                "pinned" if entry["pinned"] else _age(entry["keep_alive_left_seconds"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.append(
        f"{len(rows) - 1} loaded; strategy {status.get('strategy')}, at most "
        f"{status.get('max_concurrent_models')}; queue {status.get('queue_depth')}/"
        f"{status.get('queue_limit')}"
    )
    return lines


@handle_errors
def ps(
    url: Annotated[
        str,
        typer.Option("--url", envvar="GPUPLAN_URL", help="The running `gpuplan serve`."),
    ] = "http://127.0.0.1:8100",
    json_output: JsonOpt = False,
) -> None:
    """Show what a running `gpuplan serve` has loaded: where, memory, idle, keep-alive."""
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/api/serving/status", timeout=10)
    except httpx.HTTPError as error:
        raise ServingError(
            f"cannot reach gpuplan serve at {url}: {error}",
            hint="start `gpuplan serve --services FILE`, or pass --url",
        ) from None
    body = response.json()
    if response.status_code != 200:
        raise ServingError(f"{url}: {body.get('detail', response.text)}")
    if json_output:
        emit_json(body)
        return
    for line in format_ps(body):
        console.print(line, markup=False)
