"""Start and stop waitress-served apps as subprocesses, the way the service is deployed."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.paths import ROOT, VENV_BIN


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One waitress process serving a WSGI app factory."""

    name: str
    factory: str
    threads: int
    env: dict[str, str]
    log_path: Path
    ready_path: str = "/health"
    # waitress-serve's options for a port (default: --host, --port, --threads, --call).
    flags_for: Callable[[int], list[str]] | None = None
    port: int = 0
    process: subprocess.Popen | None = None
    _log: object = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:43123."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the waitress process."""
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 90.0) -> Server:
        """Launch waitress-serve and wait until `ready_path` answers 200."""
        self.port = free_port()
        cmd = [str(VENV_BIN / "waitress-serve"), *(
            self.flags_for(self.port) if self.flags_for is not None else [
                "--host", "127.0.0.1", "--port", str(self.port),
                "--threads", str(self.threads), "--call", self.factory])]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.process = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **self.env}, stdout=self._log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; "
                                   f"see {self.log_path}")
            if self.answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} in {timeout:.0f}s; "
                           f"see {self.log_path}")

    def answers(self, timeout: float = 5.0) -> bool:
        """Whether `ready_path` answers 200 within `timeout` seconds."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            conn.request("GET", self.ready_path)
            status = conn.getresponse().status
            conn.close()
            return status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
