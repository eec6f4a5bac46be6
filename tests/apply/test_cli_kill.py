"""The CLI faces of apply, and a real `gpuplan` process killed in the middle of one.

The killed process runs the real CLI against the stand-in runtime on PATH; the
stand-in hangs on one service so the kill lands after some services were moved
and before the rest. The next start must put back a consistent state: the
override, the saved configuration and every moved service as they were before.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from gpuplan.cli.main import app
from tests.apply.conftest import Project, config
from tests.hardware.standins import env_with_path


def _gpuplan(project: Project, *args: str) -> subprocess.Popen[str]:
    env = env_with_path(project.runtime.bindir, GPUPLAN_DATABASE_URL=project.db_url)
    return subprocess.Popen(
        [sys.executable, "-m", "gpuplan", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"gpuplan exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("the stand-in was never reached")
        time.sleep(0.05)


def test_killed_rollback_is_recovered_at_next_start(project: Project) -> None:
    applier = project.applier()
    applier.apply(config(ai_llm=0, ai_yolo26=0, ai_enrichment=1), project.target)
    applier.apply(config(ai_llm=1, ai_yolo26=1, ai_enrichment=0), project.target)
    before_override = project.target.override_file.read_text()
    before_saved = project.repo.saved().config
    project.runtime.clear()
    project.runtime.hang_on("ai-yolo26")

    proc = _gpuplan(project, "rollback")
    _wait_for(project.runtime.home / "reached", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # the stand-in it was waiting on is orphaned in its own session: end it by its pid
    hung = [c for c in project.runtime.calls() if c["argv"][-1] == "ai-yolo26"]  # type: ignore[index]
    assert hung, "the kill landed before the second service"
    project.runtime.end_hung()

    # mid-way: the override and DB hold the rollback's target, ai-llm was moved
    assert project.target.override_file.read_text() != before_override
    assert project.runtime.recreated() == ["ai-llm", "ai-yolo26"]

    runner = CliRunner()
    status = runner.invoke(app, ["status", "--json", "--no-containers"])
    assert status.exit_code == 0, status.output
    report = json.loads(status.stdout)
    assert report["state"] == "interrupted" and len(report["pending_recovery"]) == 1

    project.runtime.clear()
    recovered = runner.invoke(app, ["status", "--recover", "--json", "--no-containers"])
    assert recovered.exit_code == 0, recovered.output
    report = json.loads(recovered.stdout)
    assert report["state"] == "interrupted"  # the last apply's outcome
    assert report["pending_recovery"] == []
    assert report["last_apply"]["outcome"] == "interrupted"
    assert "recovered" in report["last_apply"]["detail"]
    # consistent again: the state before the killed rollback, everywhere
    assert project.target.override_file.read_text() == before_override
    assert project.repo.saved().config == before_saved
    assert project.runtime.recreated() == ["ai-llm", "ai-yolo26"]
    assert all(c["override"] == before_override for c in project.runtime.calls())
    # and the next apply diffs against what really runs
    project.runtime.clear()
    result = applier.apply(config(ai_llm=1, ai_yolo26=1, ai_enrichment=0), project.target)
    assert result.restarted == ()


def test_a_live_apply_is_never_recovered_under_its_feet(project: Project) -> None:
    applier = project.applier()
    applier.apply(config(ai_llm=0), project.target)
    applier.apply(config(ai_llm=1), project.target)
    project.runtime.clear()
    project.runtime.hang_on("ai-llm")
    proc = _gpuplan(project, "rollback")
    try:
        _wait_for(project.runtime.home / "reached", proc)
        result = CliRunner().invoke(app, ["status", "--recover", "--json", "--no-containers"])
        assert json.loads(result.stdout)["state"] == "applying"
        busy = CliRunner().invoke(app, ["rollback"])
        assert busy.exit_code == 1 and "another apply is running (pid" in busy.output
    finally:
        proc.kill()
        proc.wait(timeout=30)
        project.runtime.end_hung()


def test_history_and_status_commands(project: Project) -> None:
    applier = project.applier()
    applier.apply(config(ai_llm=0, ai_enrichment=(1, 3584)), project.target)
    runner = CliRunner()
    history = runner.invoke(app, ["history", "--json"])
    assert history.exit_code == 0, history.output
    rows = json.loads(history.stdout)["history"]
    assert [(r["kind"], r["outcome"]) for r in rows] == [("apply", "applied"), ("save", "saved")]
    assert rows[0]["override_sha256"] and rows[1]["assignments_sha256"]
    table = runner.invoke(app, ["history"])
    assert "ai-enrichment→1" in table.output
    text = runner.invoke(app, ["status", "--no-containers"])
    assert "State: applied" in text.output and "ai-enrichment: GPU 1 (done)" in text.output
    podman_row = {  # podman ps --format json: labels as a mapping
        "Names": ["p-ai-llm-1"],
        "State": "running",
        "Labels": {"com.docker.compose.service": "ai-llm"},
    }
    docker_row = {"Service": "ai-enrichment", "State": "running", "Health": "healthy"}
    (project.runtime.home / "ps.json").write_text(json.dumps([podman_row, docker_row]))
    report = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert {s["service"]: s["container"] for s in report["services"]} == {
        "ai-llm": "running",
        "ai-enrichment": "healthy",
    }
    nothing = runner.invoke(app, ["rollback"])
    assert nothing.exit_code == 1 and "the only one applied" in nothing.output


def test_killed_apply_is_recovered_at_next_start(project: Project) -> None:
    """`gpuplan apply --services …` SIGKILLed after moving one service: the next
    apply first recovers (old override, old saved state, the moved service back)."""
    import shutil

    from tests.conftest import REPO_ROOT

    services = project.root / "services.yml"
    shutil.copy(REPO_ROOT / "examples" / "seed004-services.yml", services)
    compose = project.root / "docker-compose.yml"
    shutil.copy(REPO_ROOT / "examples" / "seed004-compose.yml", compose)
    args = ["apply", "--services", str(services), "--compose-file", str(compose),
            "--hardware", "RTX A5500, RTX A400"]  # fmt: skip
    first = CliRunner().invoke(app, [*args, "--strategy", "vram_based"])
    assert first.exit_code == 0, first.output
    override = project.root / "config" / "docker-compose.gpu-override.yml"
    before_override = override.read_text()
    before_saved = project.repo.saved().config
    project.runtime.clear()
    preview = CliRunner().invoke(
        app, [*args, "--strategy", "isolation_first", "--dry-run", "--json"]
    )
    moving = json.loads(preview.stdout)["restarted"]
    assert len(moving) >= 2, moving
    project.runtime.hang_on(moving[1])

    proc = _gpuplan(project, *args, "--strategy", "isolation_first")
    _wait_for(project.runtime.home / "reached", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    project.runtime.end_hung()
    assert override.read_text() != before_override
    assert project.repo.saved().config != before_saved

    project.runtime.clear()
    again = CliRunner().invoke(app, [*args, "--strategy", "vram_based", "--json"])
    assert again.exit_code == 0, again.output
    assert "Recovered: apply" in again.output
    assert json.loads(again.stdout)["restarted"] == []  # back where vram_based put them
    assert override.read_text() == before_override
    assert project.repo.saved().config == before_saved
    recreated_back = project.runtime.recreated()
    assert recreated_back == moving[:2]
    assert all(c["override"] == before_override for c in project.runtime.calls())
