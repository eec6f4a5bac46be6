"""``--explain``: every resolved value, where it came from, and why this profile.

Pure: a ``Resolution`` and its ``Host`` in, an ``Explanation`` (plain rows and
sentences) out, so the CLI, the API and the web page say the same words.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from gpuplan.hardware.model import Host
from gpuplan.profiles.auto import explain_auto
from gpuplan.profiles.resolve import Resolution

_HOW = {
    "flag": "chosen with --profile",
    "env": "chosen by the environment variable",
    "project_config": "chosen by the project's pyproject.toml",
    "user_config": "chosen by the user's config.toml",
    "auto": "chosen automatically from the hardware",
    "fallback": "the fallback profile",
}


class ExplainRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    value: str
    source: str
    replaced: tuple[str, ...] = ()


class Explanation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    hardware: str
    why: tuple[str, ...]
    rows: tuple[ExplainRow, ...]
    warnings: tuple[str, ...]


def show_value(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def explain(resolution: Resolution, host: Host) -> Explanation:
    selection = resolution.selection
    reason = selection.reason.rstrip(".")
    why = [f"{reason[0].upper()}{reason[1:]}."]
    if selection.by != "auto" and resolution.auto is not None:
        why.append(
            f"Without it, auto-selection would choose {resolution.auto.profile}: "
            + explain_auto(resolution.auto)
        )
    usable = host.total_usable_vram_mb
    budget = resolution.profile.max_vram_mb
    if host.gpus and budget is not None:
        unused = usable - budget
        if unused >= 0:
            why.append(f"Budget {budget} MiB of {usable} MiB usable; {unused} MiB left unused.")
        else:
            why.append(f"Budget {budget} MiB exceeds the {usable} MiB usable by {-unused} MiB.")
    rows = tuple(
        ExplainRow(
            field=field,
            value=show_value(source.value),
            source=str(source.origin),
            replaced=tuple(f"{show_value(s.value)} from {s.origin}" for s in source.shadowed),
        )
        for field, source in resolution.provenance.items()
    )
    return Explanation(
        title=f"{resolution.name} ({_HOW[selection.by]})",
        hardware=f"{host.summary()}, headroom {host.headroom_mb_per_gpu} MiB per GPU, "
        f"{usable} MiB usable"
        if host.gpus
        else "CPU only (no GPU memory to plan with)",
        why=tuple(why),
        rows=rows,
        warnings=resolution.warnings,
    )


def render_text(explanation: Explanation) -> str:
    """Plain text, for logs and tests; the CLI draws the same rows as a table."""
    lines = [f"Profile: {explanation.title}", f"Hardware: {explanation.hardware}", ""]
    lines += [f"Why: {line}" for line in explanation.why]
    lines.append("")
    width = max((len(r.field) for r in explanation.rows), default=0)
    for row in explanation.rows:
        lines.append(f"  {row.field:<{width}}  {row.value}  ← {row.source}")
        lines += [f"  {'':<{width}}    (replaces {r})" for r in row.replaced]
    lines += [f"Warning: {w}" for w in explanation.warnings]
    return "\n".join(lines)
