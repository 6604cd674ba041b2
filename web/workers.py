"""`salesbot run --webhook --workers N`: N processes serving one port (SO_REUSEPORT).

The parent migrates and registers the webhook once, then starts the workers (each a
`salesbot run --webhook --worker`) and forwards SIGTERM/SIGINT to them. A worker that dies
takes the others down with it, so that a supervisor (systemd, Docker) restarts the whole.
The scheduler runs in whichever worker holds the leader lock (or nowhere: --no-scheduler).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from types import FrameType

log = logging.getLogger("salesbot")


def supervise(workers: int, extra_args: list[str]) -> int:
    cmd = [sys.executable, "-m", "bot.cli", "run", "--webhook", "--worker", *extra_args]
    procs = [subprocess.Popen(cmd) for _ in range(workers)]
    log.info("started %s webhook workers: %s", workers, " ".join(str(p.pid) for p in procs))
    stopping = False

    def stop(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes: dict[int, int] = {}
    failed = False
    while len(codes) < len(procs):
        pid, status = os.wait()
        codes[pid] = os.waitstatus_to_exitcode(status)
        for proc in procs:
            if proc.pid == pid:
                proc.returncode = codes[pid]
        if not stopping:
            log.error("worker %s exited (%s); stopping the others", pid, codes[pid])
            stop()
            failed = True  # the whole failed, whatever the others say
    return 1 if failed or any(codes.values()) else 0
