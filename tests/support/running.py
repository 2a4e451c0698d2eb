"""`python -m deepvis ...` in a subprocess of its own process group, its output collected while it
runs: a test waits until it has made progress, signals it as Ctrl-C would (the whole group) or as
`kill` would (the process), and reads its exit code and last line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent


class Running:
    def __init__(self, *argv: str, module: str = "deepvis", cwd: Path | None = None):
        path = os.pathsep.join(p for p in (str(SUPPORT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", module, *argv], cwd=cwd or SUPPORT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.process.stdout, self._out), (self.process.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read1(4096), b""):
            into.append(chunk)

    @property
    def stdout(self) -> str:
        return b"".join(self._out).decode(errors="replace")

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode(errors="replace")

    def wait_for(self, ready, timeout: float = 60.0, what: str = "progress"):
        """Poll `ready()` until it returns something true (returned); fail if the process ends first."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = ready()
            if found:
                return found
            if self.process.poll() is not None:
                raise AssertionError(f"ended ({self.process.returncode}) before {what}:\n{self.stderr[-3000:]}")
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"no {what} in {timeout} s:\n{self.stderr[-3000:]}")

    def progress(self, pattern: str) -> int:
        """The largest count a progress bar on stderr has shown, as `pattern`'s first group (0: none)."""
        return max((int(m) for m in re.findall(pattern, self.stderr)), default=0)

    def interrupt(self, signum: int = signal.SIGINT, group: bool = True) -> None:
        """Ctrl-C reaches the whole process group (workers too); `kill` only the process."""
        if group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def finish(self, timeout: float = 60.0) -> tuple[int, str]:
        """The exit code and stderr's last line (a progress bar's \\r-separated redraws split off)."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        for reader in self._readers:
            reader.join(5)
        lines = [line.strip() for line in re.split(r"[\r\n]", self.stderr) if line.strip()]
        return code, lines[-1] if lines else ""

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
