"""Processes of the local cluster: started detached, tracked by pid files in .cluster/run/,
stopped by process group. Standard library only (this runs before any virtualenv exists)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("JK_CLUSTER_DIR", ROOT / ".cluster"))
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def log(msg: str) -> None:
    print(f"[cluster] {msg}", file=sys.stderr, flush=True)


@dataclass
class Component:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def pidfile(self) -> Path:
        return STATE / "run" / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return STATE / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        # A recycled pid belongs to another program: check the command line (its arguments,
        # not the interpreter's path, which differs between a venv and the system Python).
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            return None
        if not cmdline or not cmdline[0]:
            return None  # a zombie
        if Path(cmdline[0]).name.rstrip("0123456789.") != Path(self.argv[0]).name.rstrip(
            "0123456789."
        ):
            return None
        return pid if cmdline[1 : len(self.argv)] == self.argv[1:] else None

    def start(self) -> None:
        if self.pid():
            return
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logfile, "ab") as out:
            proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=STATE,
                env={**os.environ, **self.env} if self.env else None,
            )
        self.pidfile.write_text(str(proc.pid))
        for _ in range(50):  # until the forked child has exec'd our binary
            if self.pid():
                break
            time.sleep(0.02)
        log(
            f"started {self.name} (pid {proc.pid}, log {self.logfile.relative_to(ROOT) if self.logfile.is_relative_to(ROOT) else self.logfile})"
        )

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(100):
                if not self.pid():
                    break
                time.sleep(0.1)
            else:
                os.killpg(pid, signal.SIGKILL)
            log(f"stopped {self.name}")
        self.pidfile.unlink(missing_ok=True)


def wait(
    what: str, check: Callable[[], object], timeout: float, component: Component | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if component is not None and not component.pid():
            tail = (
                component.logfile.read_text(errors="replace")[-3000:]
                if component.logfile.exists()
                else ""
            )
            raise SystemExit(f"{component.name} exited during start-up. Last log lines:\n{tail}")
        time.sleep(0.2)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
