"""One scheduler per SQLite file: an OS lock on a file next to the database.

PostgreSQL has its advisory lock; SQLite has nothing shared but the file system, so the
leader holds `flock` on `<database>.scheduler.lock` for as long as it lives. The kernel
drops the lock when the process dies (kill -9 included), so a stale lock file is harmless.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


def lock_path(database_url: str) -> Path | None:
    """Where the scheduler lock of a SQLite database lives; None for an in-memory one
    (it cannot be shared, so it needs no lock)."""
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).resolve().with_name(Path(database).name + ".scheduler.lock")


class FileLock:
    """A non-blocking exclusive `flock`: `acquire()` says whether this holder has it now.

    `flock` locks belong to an open file, not to a process, so two holders in one process
    exclude each other just as two processes do."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        # Who leads, for a person looking at the file; the lock itself is the flock.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
