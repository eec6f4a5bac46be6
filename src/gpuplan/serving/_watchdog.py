"""Run one backend and take its whole process group down when gpuplan goes away.

Started by ``gpuplan.serving.process`` as ``python -I _watchdog.py FD -- ARGV…``
in a new session (so the backend and anything it spawns share one process
group). It holds the read end of a pipe whose write end only ``gpuplan serve``
holds; when that process dies — however, SIGKILL included — the kernel closes
the write end, the read returns EOF, and this kills the group: SIGTERM, then
SIGKILL after a grace period. ``PR_SET_PDEATHSIG`` alone would only reach the
direct child, not a shell's or an engine's own workers.

Run by path, not as a module, so it imports nothing of gpuplan and starts fast.
Exits with the backend's exit status (128 + signal when killed by one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

GRACE_SECONDS = 5.0


def _kill_group_when_orphaned(fd: int) -> None:
    while True:
        try:
            chunk = os.read(fd, 64)
        except InterruptedError:
            continue
        except OSError:
            break
        if not chunk:
            break
    group = os.getpgrp()  # SIGTERM reaches us too: main's handler forwards it, harmlessly
    try:
        os.killpg(group, signal.SIGTERM)
        time.sleep(GRACE_SECONDS)
    finally:
        os.killpg(group, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: _watchdog.py FD -- COMMAND [ARG...]\n")
        return 2
    fd = int(argv[0])
    child = subprocess.Popen(argv[2:], pass_fds=())

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    threading.Thread(target=_kill_group_when_orphaned, args=(fd,), daemon=True).start()
    while True:
        try:
            code = child.wait()
            break
        except InterruptedError:
            continue
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
