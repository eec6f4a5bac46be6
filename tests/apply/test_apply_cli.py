"""`gpuplan apply --services … --compose-file …`: placement, save, override, recreate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from gpuplan.cli.main import app
from tests.apply.conftest import Project
from tests.conftest import REPO_ROOT

HARDWARE = "RTX A5500, RTX A400"


def _seed_project(project: Project) -> tuple[Path, Path]:
    services = project.root / "services.yml"
    shutil.copy(REPO_ROOT / "examples" / "seed004-services.yml", services)
    compose = project.root / "docker-compose.yml"
    shutil.copy(REPO_ROOT / "examples" / "seed004-compose.yml", compose)
    return services, compose


def _apply(services: Path, compose: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        [
            "apply", "--services", str(services), "--compose-file", str(compose),
            "--hardware", HARDWARE, "--json", *extra,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_apply_places_saves_and_recreates_only_what_moved(project: Project) -> None:
    services, compose = _seed_project(project)
    first = _apply(services, compose, "--strategy", "vram_based")
    assert set(first) >= {"restarted", "unchanged", "warnings", "history_id"}
    assert first["restarted"] == ["ai-llm", "ai-yolo26", "ai-florence", "ai-clip", "ai-enrichment"]
    assert any("ai-enrichment VRAM budget" in w for w in first["warnings"])
    override = yaml.safe_load(
        (project.root / "config" / "docker-compose.gpu-override.yml").read_text()
    )
    assert set(override["services"]) == set(first["restarted"])
    mirror = yaml.safe_load((project.root / "config" / "gpu-assignments.yml").read_text())
    assert mirror["strategy"] == "vram_based"
    assert project.runtime.recreated() == first["restarted"]

    project.runtime.clear()
    again = _apply(services, compose, "--strategy", "vram_based")
    assert again["restarted"] == [] and project.runtime.calls() == []

    second = _apply(services, compose, "--strategy", "isolation_first")
    moved = second["restarted"]
    assert moved and project.runtime.recreated() == moved
    assert set(second["unchanged"]) | set(moved) == set(first["restarted"])
    entry = project.repo.entry(second["history_id"])
    assert entry.kind == "apply" and entry.outcome == "applied"
    assert entry.strategy == "isolation_first"


def test_dry_run_touches_nothing(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, compose = _seed_project(project)
    fresh = tmp_path / "never-created.db"
    monkeypatch.setenv("GPUPLAN_DATABASE_URL", f"sqlite:///{fresh}")
    result = CliRunner().invoke(
        app,
        [
            "apply", "--services", str(services), "--compose-file", str(compose),
            "--hardware", HARDWARE, "--dry-run",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "docker compose -f" in result.output
        and "--force-recreate --no-deps ai-llm" in result.output
    )
    assert "nothing was touched" in result.output
    assert not fresh.exists()
    assert not (project.root / "config").exists()
    assert project.runtime.recreated() == []  # at most `docker compose version` was asked


def test_unknown_service_in_the_compose_file_is_one_error_line(project: Project) -> None:
    services, _compose = _seed_project(project)
    result = CliRunner().invoke(
        app,
        [
            "apply", "--services", str(services), "--compose-file", str(project.compose),
            "--hardware", HARDWARE,
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Error: service 'ai-clip' is not in" in result.output
    assert "Traceback" not in result.output
