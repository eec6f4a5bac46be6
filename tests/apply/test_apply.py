"""Apply end to end through stand-in Compose executables on PATH."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gpuplan.apply import Target, detect_runtime
from gpuplan.apply.lock import ApplyLock, lock_path_for
from gpuplan.errors import ApplyBusyError, ApplyError, ComposeFileError
from tests.apply import standins
from tests.apply.conftest import Project, config


def _devices(text: str, service: str) -> list[str]:
    block = yaml.safe_load(text)["services"][service]
    return block["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]  # type: ignore[no-any-return]


def test_first_apply_recreates_every_placed_service(project: Project) -> None:
    result = project.applier().apply(
        config(ai_llm=0, ai_yolo26=0, ai_enrichment=(1, 3584), ai_florence=None), project.target
    )
    assert result.restarted == ("ai-llm", "ai-yolo26", "ai-enrichment")
    assert result.unchanged == ("ai-florence",)
    override = project.target.override_file.read_text()
    assert _devices(override, "ai-enrichment") == ["1"]
    assert yaml.safe_load(override)["services"]["ai-enrichment"]["environment"] == [
        "VRAM_BUDGET_GB=3.5"
    ]
    mirror = yaml.safe_load(project.target.mirror_file.read_text())  # type: ignore[union-attr]
    assert mirror["assignments"]["ai-enrichment"] == {"gpu": 1, "vram_budget": 3.5}
    calls = project.runtime.calls()
    assert [c["argv"] for c in calls] == [
        [
            "compose", "-f", str(project.compose), "-f", str(project.target.override_file),
            "up", "-d", "--force-recreate", "--no-deps", name,
        ]
        for name in ("ai-llm", "ai-yolo26", "ai-enrichment")
    ]  # fmt: skip
    assert all(c["override"] == override for c in calls)
    entry = project.repo.entry(result.history_id)  # type: ignore[arg-type]
    assert entry.outcome == "applied" and entry.override_text == override
    assert entry.progress == {"ai-llm": "done", "ai-yolo26": "done", "ai-enrichment": "done"}


def test_only_changed_services_are_recreated(project: Project) -> None:
    applier = project.applier()
    applier.apply(config(ai_llm=0, ai_yolo26=0, ai_enrichment=1), project.target)
    project.runtime.clear()
    result = applier.apply(config(ai_llm=0, ai_yolo26=1, ai_enrichment=1), project.target)
    assert result.restarted == ("ai-yolo26",)
    assert result.unchanged == ("ai-llm", "ai-enrichment")
    assert project.runtime.recreated() == ["ai-yolo26"]
    assert result.changes == ("ai-yolo26: GPU 0 → GPU 1",)
    project.runtime.clear()
    again = applier.apply(config(ai_llm=0, ai_yolo26=1, ai_enrichment=1), project.target)
    assert again.restarted == () and project.runtime.calls() == []


def test_a_failed_recreate_restores_override_config_and_moved_services(project: Project) -> None:
    applier = project.applier()
    applier.apply(config(ai_llm=0, ai_yolo26=0, ai_enrichment=1), project.target)
    old_override = project.target.override_file.read_text()
    old_mirror = project.target.mirror_file.read_text()  # type: ignore[union-attr]
    old_saved = project.repo.saved().config
    project.runtime.clear()
    project.runtime.fail_once_on("ai-enrichment")
    with pytest.raises(ApplyError) as caught:
        applier.apply(config(ai_llm=1, ai_yolo26=1, ai_enrichment=0), project.target)
    message = str(caught.value)
    assert "ai-enrichment" in message and "could not select device driver" in message
    assert "recreated ai-llm, ai-yolo26, ai-enrichment back" in message
    assert project.target.override_file.read_text() == old_override
    assert project.repo.saved().config == old_saved
    assert yaml.safe_load(project.target.mirror_file.read_text()) == yaml.safe_load(old_mirror) | {  # type: ignore[union-attr]
        "generated_at": yaml.safe_load(project.target.mirror_file.read_text())["generated_at"]  # type: ignore[union-attr]
    }
    calls = project.runtime.calls()
    forward = [c for c in calls if c["override"] != old_override]
    back = [c for c in calls if c["override"] == old_override]
    assert [c["argv"][-1] for c in forward] == ["ai-llm", "ai-yolo26", "ai-enrichment"]  # type: ignore[index]
    assert [c["argv"][-1] for c in back] == ["ai-llm", "ai-yolo26", "ai-enrichment"]  # type: ignore[index]
    failed = project.repo.latest_apply()
    assert failed is not None and failed.outcome == "failed"
    assert failed.progress == {
        "ai-llm": "reverted",
        "ai-yolo26": "reverted",
        "ai-enrichment": "reverted",
    }
    # the last *applied* state is still the first apply, so the next diff is against it
    project.runtime.clear()
    result = applier.apply(config(ai_llm=0, ai_yolo26=0, ai_enrichment=0), project.target)
    assert result.restarted == ("ai-enrichment",)


def test_unknown_service_is_refused_before_anything_is_touched(project: Project) -> None:
    with pytest.raises(ComposeFileError, match="'ai-typo' is not in"):
        project.applier().apply(config(ai_llm=0, ai_typo=1), project.target)
    assert not project.target.override_file.exists()
    assert project.repo.history() == () and project.runtime.calls() == []


def test_a_vanished_gpu_is_a_warning_and_a_fallback(project: Project) -> None:
    result = project.applier(hardware="RTX A5500").apply(
        config(ai_llm=0, ai_enrichment=1), project.target
    )
    assert result.warnings == (
        "ai-enrichment was assigned GPU 1, which is no longer present; "
        "falling back to GPU 0 (NVIDIA RTX A5500)",
    )
    assert _devices(project.target.override_file.read_text(), "ai-enrichment") == ["0"]


def test_two_applies_never_run_at_once(project: Project) -> None:
    lock = ApplyLock(lock_path_for(project.target.override_file))
    with lock.hold(), pytest.raises(ApplyBusyError, match=r"another apply is running \(pid"):
        project.applier().apply(config(ai_llm=0), project.target)
    project.applier().apply(config(ai_llm=0), project.target)  # released: runs


def test_rollback_goes_back_to_the_previous_applied_state(project: Project) -> None:
    applier = project.applier()
    first = applier.apply(config(ai_llm=0, ai_enrichment=1), project.target)
    first_override = project.target.override_file.read_text()
    applier.apply(config(ai_llm=1, ai_enrichment=1), project.target)
    project.runtime.clear()
    result = applier.rollback(None)
    assert result.restarted == ("ai-llm",)
    assert project.target.override_file.read_text() == first_override
    assert project.repo.saved().config == project.repo.entry(first.history_id).config  # type: ignore[arg-type]
    assert project.repo.entry(result.history_id).kind == "rollback"  # type: ignore[arg-type]


def test_podman_compose_is_driven_the_same_way(project: Project, tmp_path: Path) -> None:
    bindir = tmp_path / "podman-bin"
    podman = standins.podman_compose(bindir, tmp_path / "podman-home")
    import os

    os.environ["PATH"] = str(bindir)
    assert detect_runtime() == ("podman-compose",)
    target = Target.beside(project.compose, detect_runtime("podman"))
    project.applier().apply(config(ai_llm=0), target)
    assert [c["argv"] for c in podman.calls()] == [
        [
            "-f", str(project.compose), "-f", str(target.override_file),
            "up", "-d", "--force-recreate", "--no-deps", "ai-llm",
        ]
    ]  # fmt: skip


def test_runtime_detection(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    assert detect_runtime() == ("docker", "compose")
    with pytest.raises(ApplyError, match="podman-compose or podman compose is not installed"):
        detect_runtime("podman")
    monkeypatch.setenv("PATH", str(project.root))
    with pytest.raises(ApplyError, match="no container runtime found"):
        detect_runtime()


def test_a_service_that_cannot_go_back_either_is_named(project: Project) -> None:
    applier = project.applier()
    applier.apply(config(ai_llm=0, ai_enrichment=1), project.target)
    project.runtime.fail_on("ai-enrichment")
    with pytest.raises(ApplyError) as caught:
        applier.apply(config(ai_llm=1, ai_enrichment=0), project.target)
    message = str(caught.value)
    assert "recreated ai-llm back on their previous GPUs" in message
    assert "could NOT recreate ai-enrichment (exit code 1" in message
    failed = project.repo.latest_apply()
    assert failed is not None and failed.progress == {
        "ai-llm": "reverted",
        "ai-enrichment": "failed",
    }
