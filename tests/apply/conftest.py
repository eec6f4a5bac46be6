"""Apply tests: a project directory with a base Compose file, a database, stand-ins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gpuplan.apply import Applier, Target
from gpuplan.hardware import load_host
from gpuplan.store import GpuConfig, Repository, open_store
from tests.apply import standins
from tests.dbfixtures import db_url, postgres_server

__all__ = ["Project", "config", "db_url", "postgres_server", "project"]


@dataclass
class Project:
    root: Path
    compose: Path
    target: Target
    repo: Repository
    runtime: standins.ComposeStandin
    db_url: str

    def applier(self, *, hardware: str | None = "RTX A5500, RTX A400") -> Applier:
        host = load_host(hardware) if hardware else None
        return Applier(self.repo, actor="test", host=host)


def config(strategy: str = "manual", **gpus: object) -> GpuConfig:
    """``config(ai_llm=0, ai_enrichment=(1, 3584))``: underscores become dashes."""
    services = []
    for key, value in gpus.items():
        entry: dict[str, object] = {"service": key.replace("_", "-"), "vram_budget_mb": 1000}
        if isinstance(value, tuple):
            entry["gpu_indices"] = [value[0]]
            entry["vram_budget_mb"] = value[1]
            entry["vram_budget_override_mb"] = value[1]
        elif value is None:
            entry["gpu_indices"] = []
        else:
            entry["gpu_indices"] = [value]
        services.append(entry)
    return GpuConfig.model_validate({"strategy": strategy, "services": services})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Project:
    """A project on SQLite and on PostgreSQL (``db_url`` is parametrized over both)."""
    root = tmp_path / "project"
    root.mkdir()
    compose = root / "docker-compose.prod.yml"
    compose.write_text(standins.BASE_COMPOSE)
    runtime = standins.docker(tmp_path / "bin", tmp_path / "docker-home")
    monkeypatch.setenv("PATH", str(runtime.bindir))
    url = db_url
    monkeypatch.setenv("GPUPLAN_DATABASE_URL", url)
    return Project(
        root=root,
        compose=compose,
        target=Target.beside(compose, ("docker", "compose")),
        repo=open_store(url),
        runtime=runtime,
        db_url=url,
    )
