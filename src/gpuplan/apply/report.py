"""What ``gpuplan status`` / ``history`` and the status endpoint report, as plain data."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path
from typing import Any

from gpuplan.apply.lock import lock_is_held, lock_path_for
from gpuplan.apply.runtime import container_states
from gpuplan.store.model import HistoryEntry
from gpuplan.store.repository import Repository

__all__ = ["actor_here", "history_rows", "status_report"]


def actor_here(face: str) -> str:
    """Who is acting: ``cli:alice@host`` — recorded in every history entry."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{face}:{user}@{socket.gethostname()}"[:128]


def _state(entry: HistoryEntry | None, running: list[int], dead: list[int]) -> str:
    if entry is not None and entry.id in running:
        return "applying"
    if dead:
        return "interrupted"
    if entry is None:
        return "never_applied"
    return entry.outcome


def history_row(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "outcome": entry.outcome,
        "actor": entry.actor,
        "created_at": entry.created_at.isoformat(),
        "finished_at": entry.finished_at.isoformat() if entry.finished_at else None,
        "revision": entry.revision,
        "strategy": entry.strategy,
        "assignments": [
            {
                "service": s.service,
                "gpu_indices": list(s.gpu_indices),
                "vram_budget_mb": s.vram_budget_mb,
            }
            for s in entry.config.services
        ],
        "override_sha256": entry.override_sha256,
        "assignments_sha256": entry.assignments_sha256,
        "detail": entry.detail,
        "warnings": list(entry.warnings),
        "progress": dict(entry.progress),
    }


def history_rows(repo: Repository, limit: int = 50) -> list[dict[str, Any]]:
    return [history_row(entry) for entry in repo.history(limit)]


def status_report(
    repo: Repository, *, compose_file: Path | None = None, containers: bool = True
) -> dict[str, Any]:
    """The latest apply's per-service progress, what awaits recovery, container health."""
    latest = repo.latest_apply()
    running: list[int] = []
    dead: list[int] = []
    for entry in repo.in_progress():
        lock = lock_path_for(Path(entry.override_file or ""))
        (running if lock_is_held(lock) else dead).append(entry.id)
    saved = repo.saved()
    applied = repo.last_applied()
    report: dict[str, Any] = {
        "state": _state(latest, running, dead),
        "saved_revision": saved.revision,
        "applied_history_id": applied.id if applied else None,
        "in_sync": bool(applied) and applied.config == saved.config,  # type: ignore[union-attr]
        "pending_recovery": dead,
        "last_apply": history_row(latest) if latest else None,
        "services": [],
        "containers_error": None,
    }
    states: dict[str, str] = {}
    source = latest or applied
    base = compose_file or (Path(source.compose_file) if source and source.compose_file else None)
    if containers and base is not None and source and source.runtime and source.override_file:
        answer = container_states(tuple(source.runtime.split()), base, Path(source.override_file))
        if isinstance(answer, str):
            report["containers_error"] = answer
        else:
            states = answer
    progress = latest.progress if latest else {}
    for service in saved.config.services:
        report["services"].append(
            {
                "service": service.service,
                "gpu_indices": list(service.gpu_indices),
                "progress": progress.get(service.service),
                "container": states.get(service.service),
            }
        )
    return report
