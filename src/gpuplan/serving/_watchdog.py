"""Run one backend and take its whole process group down when gpuplan goes away.

Started by ``gpuplan.serving.process`` as ``python -I _watchdog.py FD -- ARGV…``
in a new session (so the backend and anything it spawns share one process
group). It holds the read end of a pipe whose write end only ``gpuplan serve``
holds; when that process dies — however, SIGKILL included — the kernel closes
the write end, the read returns EOF, and this kills the group: SIGTERM, then
SIGKILL after a grace period. ``PR_SET_PDEATHSIG`` alone would only reach the
direct child, not a shell's or an engine's own workers.

A SIGTERM or SIGINT sent to this process alone is passed on to the backend. One sent
to the whole group (gpuplan's stop, or the orphan kill above) has reached the backend
already and is not passed on again: a second signal is not harmless — llama-server
answers it with "Received second interrupt, terminating immediately" and exit status
1, uvicorn-based engines with a forced exit — so a graceful stop must send one.

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
    group = os.getpgrp()  # our own SIGTERM reaches us too; it is not passed on again
    try:
        os.killpg(group, signal.SIGTERM)
        time.sleep(GRACE_SECONDS)
    finally:
        os.killpg(group, signal.SIGKILL)


def _forward_signals_sent_to_us_alone(child: subprocess.Popen[bytes]) -> None:
    """Pass SIGTERM/SIGINT on to ``child`` unless gpuplan or we sent it (to the group).

    gpuplan (our parent) and the orphan kill only ever signal the whole group, so a
    signal from either already reached the child. Blocked here and taken with
    sigwaitinfo, which names the sender; the child was started before, so it does not
    inherit the mask. Without sigwaitinfo (macOS) every signal is passed on.
    """
    wanted = {signal.SIGTERM, signal.SIGINT}

    def send(signum: int) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    if not hasattr(signal, "sigwaitinfo"):
        for signum in wanted:
            signal.signal(signum, lambda number, _frame: send(number))
        return
    parent = os.getppid()
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)  # inherited by the threads started next

    def forward() -> None:
        while True:
            info = signal.sigwaitinfo(wanted)
            if info.si_pid not in (parent, os.getpid()):
                send(info.si_signo)

    threading.Thread(target=forward, daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: _watchdog.py FD -- COMMAND [ARG...]\n")
        return 2
    fd = int(argv[0])
    child = subprocess.Popen(argv[2:], pass_fds=())
    _forward_signals_sent_to_us_alone(child)
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
