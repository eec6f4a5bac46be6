"""A real container recreated onto a new GPU assignment: podman + podman-compose, no GPU.

There is no GPU here, so NVIDIA's CDI spec is replaced by a stand-in one that
declares ``nvidia.com/gpu=0`` and ``=1`` and injects ``FAKE_GPU=<index>`` into a
container given that device — exactly what podman-compose (>= 1.2) asks podman
for when it reads the override's ``device_ids``. The image is built locally (a
static ``pause`` binary, ``podman import``), storage is a throwaway ``vfs`` root,
and containers run with ``runc`` (../shared/ENVIRONMENT.md): no pulls, no
network, nothing left behind but the CDI file, which is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpuplan.apply import Applier, Target
from gpuplan.hardware import load_host
from gpuplan.store import open_store
from tests.apply.conftest import config
from tests.services import missing

PAUSE_C = r"""
#include <signal.h>
#include <unistd.h>
static void stop(int s) { (void)s; _exit(0); }
int main(void) { signal(SIGTERM, stop); for (;;) pause(); }
"""
CDI_SPEC = """\
cdiVersion: "0.5.0"
kind: nvidia.com/gpu
devices:
  - name: "0"
    containerEdits:
      env: ["FAKE_GPU=0"]
  - name: "1"
    containerEdits:
      env: ["FAKE_GPU=1"]
"""
COMPOSE = """\
services:
  ai-llm:
    image: localhost/gpuplan-pause:1
    network_mode: none
  ai-enrichment:
    image: localhost/gpuplan-pause:1
    network_mode: none
"""
"""No network: podman keeps networks machine-wide, and parallel runs must not share one."""


def _podman(*args: str) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def podman_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    venv_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    for tool in ("podman", "runc", "podman-compose", "gcc"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (scripts/ci/40-podman.sh installs podman and runc)")
    if os.geteuid() != 0:
        missing("the stand-in CDI spec goes in /var/run/cdi, which needs root")
    (tmp_path / "containers.conf").write_text(
        '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n'
        'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    (tmp_path / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{tmp_path / "graph"}"\n'
        f'runroot = "{tmp_path / "run"}"\n'
    )
    monkeypatch.setenv("CONTAINERS_CONF", str(tmp_path / "containers.conf"))
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(tmp_path / "storage.conf"))
    build = tmp_path / "build"
    (build / "rootfs").mkdir(parents=True)
    (build / "pause.c").write_text(PAUSE_C)
    subprocess.run(
        ["gcc", "-static", "-O2", "-o", str(build / "rootfs" / "pause"), str(build / "pause.c")],
        check=True,
        timeout=120,
    )
    subprocess.run(
        ["tar", "-C", str(build / "rootfs"), "-cf", str(build / "rootfs.tar"), "."],
        check=True,
        timeout=60,
    )
    _podman(
        "import", "--change", 'CMD ["/pause"]', str(build / "rootfs.tar"),
        "localhost/gpuplan-pause:1",
    )  # fmt: skip
    cdi = Path("/var/run/cdi") / f"gpuplan-test-{uuid.uuid4().hex}.yaml"
    cdi.parent.mkdir(parents=True, exist_ok=True)
    cdi.write_text(CDI_SPEC)
    name = f"gpuplan-test-{uuid.uuid4().hex[:12]}"  # the Compose project: unique per run
    project = tmp_path / name
    project.mkdir()
    (project / "docker-compose.yml").write_text(COMPOSE)
    try:
        yield project
    finally:
        cdi.unlink(missing_ok=True)
        ids = _podman("ps", "-aq", "--filter", f"label=io.podman.compose.project={name}").split()
        if ids:
            _podman("rm", "-f", "-t", "0", *ids)


def _container(service: str) -> dict[str, object]:
    ids = _podman(
        "ps", "-q", "--filter", f"label=com.docker.compose.service={service}"
    ).split()  # fmt: skip
    assert len(ids) == 1, ids
    info: dict[str, object] = json.loads(_podman("inspect", ids[0]))[0]
    return info


def _env(info: dict[str, object]) -> dict[str, str]:
    pairs = info["Config"]["Env"]  # type: ignore[index]
    return dict(pair.split("=", 1) for pair in pairs)


def test_a_real_container_moves_to_its_new_gpu(podman_project: Path, tmp_path: Path) -> None:
    repo = open_store(f"sqlite:///{tmp_path / 'gpuplan.db'}")
    applier = Applier(repo, actor="test", host=load_host("RTX A5500, RTX A400"))
    target = Target.beside(podman_project / "docker-compose.yml", ("podman-compose",))

    first = applier.apply(config(ai_llm=0, ai_enrichment=(1, 3584)), target)
    assert first.restarted == ("ai-llm", "ai-enrichment")
    llm, enrichment = _container("ai-llm"), _container("ai-enrichment")
    assert _env(llm)["FAKE_GPU"] == "0"
    assert _env(enrichment)["FAKE_GPU"] == "1"
    assert _env(enrichment)["VRAM_BUDGET_GB"] == "3.5"
    assert llm["State"]["Status"] == "running"  # type: ignore[index]

    second = applier.apply(config(ai_llm=1, ai_enrichment=(1, 3584)), target)
    assert second.restarted == ("ai-llm",)
    moved, kept = _container("ai-llm"), _container("ai-enrichment")
    assert _env(moved)["FAKE_GPU"] == "1" and moved["Id"] != llm["Id"]
    assert kept["Id"] == enrichment["Id"]  # unchanged: never recreated
