"""One run per output folder: an advisory lock that a killed run cannot leave stuck.

The lock is ``<output>/.lock``, held with ``fcntl.flock`` for the whole run; the operating system
releases it when the holding process dies (even by SIGKILL), so a leftover file from a killed run is
stale and taken over. The file records PID, host and start time for the message a refused run prints.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from ..errors import OutputError, RunLockedError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Context manager: ``with RunLock(folder): ...``; raises :class:`RunLockedError` when held."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / ".lock"
        self.fd = None
        self.stale = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _refuse(self, info: dict):
        pid = info.get("pid", "?")
        raise RunLockedError(
            f"another run (PID {pid} on {info.get('host', '?')}, started {info.get('started', '?')}) is using the "
            f"output folder {self.folder}; wait for it to finish (the lock is released when that process ends)")

    def acquire(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot create the lock file {self.path}: {exc.strerror or exc}") from exc
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._refuse(self.holder())
        else:  # pragma: no cover
            info = self.holder()
            if info.get("pid") and info.get("host") == socket.gethostname() and _pid_alive(int(info["pid"])):
                os.close(fd)
                self._refuse(info)
        old = self.holder()
        if old.get("pid") and old.get("pid") != os.getpid():
            self.stale = old
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:  # the file stays (empty): unlinking it could let a waiting run lock a removed inode
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        finally:
            os.close(self.fd)  # closing releases the flock
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def check_unlocked(folder) -> None:
    """Refuse early (before loading data) when a live run holds the folder's lock."""
    path = Path(folder) / ".lock"
    if not path.exists() or fcntl is None:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        RunLock(folder)._refuse(RunLock(folder).holder())
    os.close(fd)
