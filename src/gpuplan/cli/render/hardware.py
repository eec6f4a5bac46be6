"""How a ``Host`` looks in a terminal: one row per GPU with a VRAM bar."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from gpuplan.cli.render.tables import Col, FlexTable
from gpuplan.hardware.model import GPU, Host

BAR_WIDTH = 10


def vram_bar(used_mb: int | None, total_mb: int | None, width: int = BAR_WIDTH) -> Text:
    """'████░░░░ 4.1/24.0 GiB'; unknown usage shows the total only."""
    if not total_mb:
        return Text("unknown", style="dim")
    total_gib = total_mb / 1024
    if used_mb is None:
        return Text(f"{'░' * width} ?/{total_gib:.1f} GiB", style="dim")
    filled = min(width, round(width * used_mb / total_mb))
    bar = Text("█" * filled, style="yellow" if used_mb / total_mb > 0.5 else "green")
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {used_mb / 1024:.1f}/{total_gib:.1f} GiB")
    return bar


def _used(gpu: GPU) -> int | None:
    if gpu.vram_used_mb is not None:
        return gpu.vram_used_mb
    if gpu.vram_total_mb is not None and gpu.vram_free_mb is not None:
        return gpu.vram_total_mb - gpu.vram_free_mb
    return None


def no_gpu_line(host: Host) -> str:
    """The one line a CPU-only host gets: no GPU, why, and what gpuplan does instead."""
    tried = "; ".join(host.tried) if host.tried else "no detection source was tried"
    ram = f", {host.system_ram_mb / 1024:.1f} GiB RAM" if host.system_ram_mb else ""
    return f"No GPU found (tried {tried}) - planning for CPU only{ram}."


def host_table(host: Host) -> FlexTable:
    table = FlexTable(
        [
            Col("#", "num"),
            Col("GPU", "text"),
            Col("VRAM used", drop=2),
            Col("total MiB", "num"),
            Col("usable MiB", "num"),
            Col("CC / arch", drop=1),
            Col("MIG", drop=3),
        ],
        title=f"{host.summary()} - source: {host.source}",
    )
    for gpu in host.gpus:
        mig = "-" if not gpu.mig_mode else f"{len(gpu.mig_devices)} slices"
        table.add_row(
            str(gpu.index),
            gpu.name or "unknown",
            vram_bar(_used(gpu), gpu.vram_total_mb),
            str(gpu.vram_total_mb) if gpu.vram_total_mb is not None else "?",
            str(host.usable_vram_mb(gpu)),
            gpu.compute_capability or gpu.architecture or "?",
            mig,
        )
    return table


def render_host(host: Host) -> RenderableType:
    """The whole `gpuplan detect` view: table (or the no-GPU line) and warnings."""
    parts: list[RenderableType] = []
    if host.gpus:
        parts.append(host_table(host))
        parts.append(
            Text(
                f"Usable VRAM: {host.total_usable_vram_mb} MiB in total "
                f"(headroom {host.headroom_mb_per_gpu} MiB per GPU)"
                + (f"; driver {host.driver_version}" if host.driver_version else "")
                + (f", CUDA {host.cuda_version}" if host.cuda_version else "")
            )
        )
        for gpu in host.gpus:
            for mig in gpu.mig_devices:
                memory = f"{mig.vram_total_mb} MiB" if mig.vram_total_mb is not None else "? MiB"
                parts.append(
                    Text(f"  GPU {gpu.index} MIG {mig.index}: {mig.profile or '?'} ({memory})")
                )
    else:
        parts.append(Text(no_gpu_line(host)))
    for warning in host.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    return Group(*parts)
