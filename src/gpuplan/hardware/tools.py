"""The one place gpuplan runs vendor tools (nvidia-smi, amd-smi, rocm-smi).

A tool that is missing, hangs, or fails must never crash detection: it becomes a
``ToolFailure`` that says which command, what happened and for how long, and the
caller moves on to the next source with a warning.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 10.0
"""A healthy nvidia-smi answers in well under a second; a wedged driver never does."""


@dataclass(frozen=True)
class ToolFailure(Exception):
    """A vendor tool could not give us its output."""

    command: str
    reason: str

    def __str__(self) -> str:
        return f"{self.command}: {self.reason}"


def which(tool: str) -> str | None:
    """Path of ``tool`` on PATH, or None."""
    return shutil.which(tool)


def run_tool(argv: list[str], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Run ``argv`` and return its stdout; raise ``ToolFailure`` on anything else.

    The process runs in its own session so that a timeout kills the tool and any
    helper it spawned, not just the first process.
    """
    command = " ".join(argv)
    path = which(argv[0])
    if path is None:
        raise ToolFailure(argv[0], "not found on PATH")
    try:
        proc = subprocess.Popen(
            [path, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
            env={**os.environ, "LC_ALL": "C"},
        )
    except OSError as exc:
        raise ToolFailure(command, f"could not start ({exc.strerror or exc})") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ToolFailure(command, f"timed out after {timeout_s:g} s and was killed") from None
    if proc.returncode != 0:
        detail = (stderr.strip() or stdout.strip()).splitlines()
        message = detail[0] if detail else "no output"
        raise ToolFailure(command, f"exit code {proc.returncode}: {message[:200]}")
    return stdout


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=2)
