"""``config/gpu-assignments.yml``: the human-readable mirror of the saved assignments.

Seed 004 keeps the configuration in the database and this file "for inspection
and recovery": it is regenerated from the database on every save and never read
back. The shape is the seed's, one flow mapping per service::

    generated_at: '2025-01-23T10:30:00Z'
    strategy: vram_based
    assignments:
      ai-llm: { gpu: 0, vram_budget: null }
      ai-enrichment: { gpu: 1, vram_budget: 3.5 }

``gpu`` is the index, a list for tensor parallel services, ``null`` for CPU;
``vram_budget`` is the user's override (or the auto-adjusted budget) in GB, else
``null``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import yaml

from gpuplan.launch.compose import budget_gb
from gpuplan.placement.model import Assignment

__all__ = ["HEADER", "render_assignments_file"]

HEADER = "# config/gpu-assignments.yml (auto-generated, do not edit manually)\n"


def _scalar(value: object) -> str:
    """One YAML scalar on one line (a name with a line break becomes a JSON string,
    which YAML reads as a double-quoted scalar)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 16)
    text = text.removesuffix("\n...\n").strip()
    if "\n" in text:
        text = json.dumps(value, ensure_ascii=False)
    return text


def _gpu(assignment: Assignment) -> object:
    if not assignment.gpu_indices:
        return None
    if len(assignment.gpu_indices) == 1:
        return assignment.gpu_indices[0]
    return list(assignment.gpu_indices)


def render_assignments_file(
    strategy: str,
    assignments: Sequence[Assignment],
    *,
    overridden: Collection[str] = (),
    generated_at: datetime | None = None,
) -> str:
    """The file's text; ``generated_at`` defaults to now (UTC, whole seconds)."""
    when = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    lines = [
        HEADER.rstrip("\n"),
        f"generated_at: {_scalar(when.strftime('%Y-%m-%dT%H:%M:%SZ'))}",
        f"strategy: {_scalar(strategy)}",
    ]
    if not assignments:
        lines.append("assignments: {}")
    else:
        lines.append("assignments:")
        for assignment in assignments:
            budget = (
                budget_gb(assignment.vram_budget_mb)
                if assignment.budget_adjusted or assignment.service in overridden
                else None
            )
            lines.append(
                f"  {_scalar(assignment.service)}: "
                f"{{ gpu: {_scalar(_gpu(assignment))}, vram_budget: {_scalar(budget)} }}"
            )
    return "\n".join(lines) + "\n"
