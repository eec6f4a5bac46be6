"""Stand-in ``docker`` and ``podman-compose`` executables that record every call.

Each call appends one JSON line to ``calls.jsonl``: the argument list and the
override file's text *at that moment*, so a test can check that a service was
recreated with the new (or, rolling back, the old) override. Writing a service
name to ``fail`` makes its ``up`` exit 1 (``fail-once``: only the next one);
writing it to ``hang`` makes it sleep until killed (after writing its pid to ``reached``).
``ps --format json`` prints ``ps.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT = r"""#!{python}
import json, os, sys, time
home = {home!r}
prefix = {prefix!r}
args = sys.argv[1:]
if args[: len(prefix)] != prefix:
    print("unknown command: " + " ".join(args), file=sys.stderr)
    sys.exit(125)
args = args[len(prefix):]
if args[:1] == ["version"]:
    print("Docker Compose version v2.29.7")
    sys.exit(0)
files = [args[i + 1] for i, a in enumerate(args) if a == "-f"]
override = None
if len(files) > 1 and os.path.exists(files[1]):
    override = open(files[1]).read()
with open(os.path.join(home, "calls.jsonl"), "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "override": override}}) + "\n")
if "ps" in args:
    path = os.path.join(home, "ps.json")
    print(open(path).read() if os.path.exists(path) else "[]")
    sys.exit(0)
service = args[-1]
def listed(name):
    path = os.path.join(home, name)
    return os.path.exists(path) and service in open(path).read().split()
if listed("hang"):
    open(os.path.join(home, "reached"), "w").write(str(os.getpid()))
    time.sleep(3600)
if listed("fail-once"):
    os.unlink(os.path.join(home, "fail-once"))
    print("Error response from daemon: could not select device driver \"nvidia\"", file=sys.stderr)
    sys.exit(1)
if listed("fail"):
    print("Error response from daemon: could not select device driver \"nvidia\"", file=sys.stderr)
    sys.exit(1)
"""


@dataclass
class ComposeStandin:
    """The recording directory of one stand-in runtime."""

    home: Path
    bindir: Path

    def calls(self) -> list[dict[str, object]]:
        log = self.home / "calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def recreated(self) -> list[str]:
        return [c["argv"][-1] for c in self.calls() if "up" in c["argv"]]  # type: ignore[index,operator]

    def fail_on(self, *services: str) -> None:
        (self.home / "fail").write_text("\n".join(services) + "\n")

    def fail_once_on(self, service: str) -> None:
        """Fail the next ``up`` of ``service`` only (rolling it back then works)."""
        (self.home / "fail-once").write_text(service + "\n")

    def hang_on(self, *services: str) -> None:
        (self.home / "hang").write_text("\n".join(services) + "\n")

    def end_hung(self) -> None:
        """Kill the hung stand-in (by the pid it wrote), if it is still there."""
        reached = self.home / "reached"
        if reached.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(reached.read_text()), signal.SIGKILL)

    def clear(self) -> None:
        for name in ("calls.jsonl", "fail", "fail-once", "hang", "reached"):
            (self.home / name).unlink(missing_ok=True)


def install(bindir: Path, home: Path, name: str, prefix: list[str]) -> ComposeStandin:
    bindir.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    path = bindir / name
    path.write_text(SCRIPT.format(python=sys.executable, home=str(home), prefix=prefix))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return ComposeStandin(home=home, bindir=bindir)


def docker(bindir: Path, home: Path) -> ComposeStandin:
    """``docker compose …`` (the Compose v2 plugin)."""
    return install(bindir, home, "docker", ["compose"])


def podman_compose(bindir: Path, home: Path) -> ComposeStandin:
    return install(bindir, home, "podman-compose", [])


BASE_COMPOSE = """\
services:
  ai-llm:
    image: ghcr.io/ggml-org/llama.cpp:server-cuda
  ai-yolo26:
    image: example/yolo26:latest
  ai-florence:
    image: example/florence:latest
  ai-enrichment:
    image: example/enrichment:latest
"""
