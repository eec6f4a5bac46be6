"""The one place the proxy starts, watches and stops backend processes.

Every backend runs in its own process group under a small watchdog
(``_watchdog.py``) that kills the group when ``gpuplan serve`` dies, SIGKILL
included; stdout and stderr go to the backend's own log file; stopping is
SIGTERM to the group, then SIGKILL after a grace period. Readiness is an HTTP
GET of the backend's health path, bounded by ``autostart_timeout_seconds`` and
cut short when the process exits.

Processes are spawned from the event-loop thread on purpose: a child started
from a worker thread can be tied to that thread's life.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from gpuplan.errors import BackendStartError
from gpuplan.ports import free_port

__all__ = ["BackendProcess", "free_port", "wait_healthy"]

_WATCHDOG = Path(__file__).with_name("_watchdog.py")
_POLL_SECONDS = 0.02


class BackendProcess:
    """One running backend: its process group, its log, and how to stop it."""

    def __init__(self, popen: subprocess.Popen[bytes], pipe_write: int, log_path: Path) -> None:
        self._popen = popen
        self._pipe_write = pipe_write
        self.log_path = log_path
        self.started = time.monotonic()

    @classmethod
    def spawn(cls, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> BackendProcess:
        """Start ``argv`` (macros already resolved) in a new process group, logging to a file."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()  # both non-inheritable unless passed
        with log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            log.write(f"\n=== {stamp} gpuplan starts: {' '.join(argv)}\n".encode())
            log.flush()
            try:
                popen = subprocess.Popen(
                    [sys.executable, "-I", str(_WATCHDOG), str(read_end), "--", *argv],
                    env={**os.environ, **env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(read_end,),
                    start_new_session=True,
                )
            except OSError as error:
                os.close(write_end)
                raise BackendStartError(
                    f"cannot start {argv[0]!r}: {error.strerror}",
                    hint="check the service's cmd: is the program installed and on PATH?",
                ) from error
            finally:
                os.close(read_end)
        return cls(popen, write_end, log_path)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """None while running; the backend's exit status (128 + signal if killed) after."""
        return self._popen.poll()

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit status once it exits, or None if still running after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (code := self._popen.poll()) is None and time.monotonic() < deadline:
            await asyncio.sleep(_POLL_SECONDS)
        return code

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)

    async def stop(self, grace_seconds: float = 10.0) -> int | None:
        """SIGTERM to the whole group, SIGKILL after ``grace_seconds``; the exit status."""
        if self._popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            code = await self.wait_exit(grace_seconds)
            if code is None:
                self._signal_group(signal.SIGKILL)
                code = await self.wait_exit(5.0)
        self._signal_group(signal.SIGKILL)  # anything the backend left behind in its group
        self._close_pipe()
        return self._popen.poll()

    def kill_now(self) -> None:
        """SIGKILL the group at once (interpreter exit, no event loop)."""
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(2.0)
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self._pipe_write >= 0:
            with contextlib.suppress(OSError):
                os.close(self._pipe_write)
            self._pipe_write = -1

    def group_pids(self) -> list[int]:
        """Processes in the backend's group (Linux /proc; empty elsewhere)."""
        pids = []
        for entry in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self._popen.pid:  # field 5, pgrp
                    pids.append(int(entry.name))
        return pids

    def listens_on(self, port: int) -> bool:
        """Is ``port`` held by a process of this group? (Linux /proc; elsewhere True.)

        Guards against a foreign server that took the chosen port first: its
        health answer must not be taken for this backend's.
        """
        tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
        if not tables[0].exists():
            return True
        inodes = set()
        for table in tables:
            with contextlib.suppress(OSError):
                for line in table.read_text().splitlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(f"socket:[{fields[9]}]")
        for pid in self.group_pids():
            with contextlib.suppress(OSError):
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with contextlib.suppress(OSError):
                        if os.readlink(fd) in inodes:
                            return True
        return False

    def rss_mb(self) -> int | None:
        """Resident memory of the group's processes, MiB (Linux), the watchdog excluded."""
        total_kib = 0
        found = False
        for pid in self.group_pids():
            if pid == self._popen.pid:
                continue
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
                        found = True
        return total_kib // 1024 if found else None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the log since this start, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        text = text.rsplit("\n=== ", 1)[-1]
        return "\n".join(text.splitlines()[1:][-lines:])


async def wait_healthy(
    process: BackendProcess, url: str, *, timeout: float, name: str, port: int | None = None
) -> None:
    """Return once ``url`` answers 200; stop and raise if it exits or ``timeout`` passes."""
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
        while True:
            code = process.returncode
            if code is not None:
                await process.stop(0)
                raise BackendStartError(
                    f"backend {name!r} exited with status {code} while starting",
                    hint=f"see its log {process.log_path}: {_last_line(process)}",
                )
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(url)
                if response.status_code == 200:
                    if port is None or process.listens_on(port):
                        return
                    await process.stop(2.0)
                    raise BackendStartError(
                        f"backend {name!r}: another program answers on port {port}",
                        hint="the port was taken between choosing and binding it; retry",
                    )
            if time.monotonic() >= deadline:
                await process.stop(2.0)
                raise BackendStartError(
                    f"backend {name!r} was not healthy at {url} within {timeout:g} s "
                    "(autostart_timeout_seconds); it was stopped",
                    hint=f"check its health path and log {process.log_path}, or raise "
                    "autostart_timeout_seconds",
                    timed_out=True,
                )
            await asyncio.sleep(0.05)


def _last_line(process: BackendProcess) -> str:
    tail = process.log_tail(3).strip().splitlines()
    return tail[-1] if tail else "(empty)"
