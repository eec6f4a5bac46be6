"""Stand-in vendor tools: small executables on PATH that replay recorded output.

Detection is tested through its real subprocess path (PATH lookup, exit codes,
timeouts) rather than by patching, so these scripts behave like the real tools
as far as gpuplan can tell.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path


def make_tool(bindir: Path, name: str, body: str) -> Path:
    """Write an executable shell script ``bindir/name`` with ``body``."""
    bindir.mkdir(parents=True, exist_ok=True)
    path = bindir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def replay(bindir: Path, name: str, recorded: Path, *, listing: Path | None = None) -> Path:
    """A tool that prints ``recorded`` (and ``listing`` when called with -L)."""
    body = ""
    if listing is not None:
        body += f'case "$*" in *-L*) /bin/cat {shlex.quote(str(listing))}; exit 0;; esac\n'
    body += f"/bin/cat {shlex.quote(str(recorded))}"
    return make_tool(bindir, name, body)


def env_with_path(bindir: Path, **extra: str) -> dict[str, str]:
    """Environment whose PATH holds only the stand-ins, and no GPUPLAN_* settings.

    Stand-in scripts call coreutils by absolute path, so a real vendor tool
    elsewhere on the machine can never answer in their place.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUPLAN_")}
    env["PATH"] = str(bindir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.update(extra)
    return env
