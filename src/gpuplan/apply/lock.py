"""One apply at a time, even across processes — and a crash never leaves it stuck.

The lock is an exclusive ``flock`` on a file beside the override: the kernel drops
it when its holder exits, however it dies, so there is no stale lock to clean up
after a SIGKILL. The file also says who holds it, for the error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from gpuplan.errors import ApplyBusyError

__all__ = ["ApplyLock", "lock_is_held", "lock_path_for"]


def lock_path_for(override_file: Path) -> Path:
    return override_file.with_name(f".{override_file.name}.lock")


def lock_is_held(path: Path) -> bool:
    """Whether a live process holds the lock at ``path`` (probing never blocks)."""
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class ApplyLock:
    """Hold with ``acquire()``/``release()`` or as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 512).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise ApplyBusyError(
                f"another apply is running ({holder})",
                hint="wait for it to finish; `gpuplan status` shows its progress",
            ) from None
        os.ftruncate(fd, 0)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
