"""Drive a server with wrk and collect the numbers bench/lua/bench.lua prints."""
from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench.paths import LUA


def ensure_wrk() -> str:
    """The wrk binary; installed with apt-get (Debian package `wrk`) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found; installing it with apt-get ...", flush=True)
    apt = ["apt-get"] if _is_root() else ["sudo", "apt-get"]
    subprocess.run([*apt, "update", "-qq"], check=False)
    subprocess.run([*apt, "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install")
    return found


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class RunResult:
    """One wrk run."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    cpu: dict[str, float] = field(default_factory=dict)  # cores: server/postgres/wrk/others

    @property
    def foreign_cores(self) -> float:
        """CPU (cores) that processes outside the benchmark used meanwhile."""
        return self.cpu.get("others", 0.0)

    @property
    def rps(self) -> float:
        """Requests per second over the run."""
        return self.requests / self.duration_s if self.duration_s else 0.0


@dataclass
class Measurement:
    """Repeated runs of one endpoint."""

    name: str
    runs: list[RunResult] = field(default_factory=list)
    note: str = ""
    quiet_before: float | None = None  # foreign load (cores) just before the first run

    @property
    def foreign_cores(self) -> float:
        """Median CPU (cores) other processes used during the runs."""
        return statistics.median(r.foreign_cores for r in self.runs) if self.runs else 0.0

    @property
    def median_run(self) -> RunResult:
        """The run with the median requests/s (p50/p99 are reported from it)."""
        ordered = sorted(self.runs, key=lambda r: r.rps)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def rps(self) -> float:
        """Median requests/s over the runs."""
        return statistics.median(r.rps for r in self.runs)

    def statuses(self) -> dict[str, int]:
        """Status counts summed over the runs."""
        total: dict[str, int] = {}
        for run in self.runs:
            for key, n in run.statuses.items():
                total[key] = total.get(key, 0) + n
        return dict(sorted(total.items()))

    def cpu(self) -> dict[str, float]:
        """Median cores per process group over the runs."""
        keys = {k for r in self.runs for k in r.cpu}
        return {k: statistics.median(r.cpu.get(k, 0.0) for r in self.runs) for k in keys}

    def count_5xx(self) -> int:
        """Responses with a 5xx status over all runs."""
        return sum(n for key, n in self.statuses().items() if key.startswith("5"))

    def socket_errors(self) -> dict[str, int]:
        """wrk's connect/read/write/timeout errors summed over the runs."""
        total: dict[str, int] = {}
        for run in self.runs:
            for key, n in run.socket_errors.items():
                if key != "status" and n:
                    total[key] = total.get(key, 0) + n
        return total


@dataclass
class Wrk:
    """wrk settings shared by every run."""

    binary: str
    threads: int = 2
    connections: int = 16
    duration_s: int = 10
    timeout_s: int = 10
    meter: object | None = None  # bench.machine.Meter

    def run(self, url: str, args: list[str], duration_s: int | None = None,
            log: Path | None = None, connections: int | None = None) -> RunResult:
        """One wrk run against `url` with bench.lua MODE ARGS."""
        seconds = duration_s or self.duration_s
        conns = connections or self.connections
        threads = min(self.threads, conns)
        cmd = [self.binary, f"-t{threads}", f"-c{conns}", f"-d{seconds}s",
               f"--timeout={self.timeout_s}s", "-s", str(LUA), url, "--", *args]
        before = self.meter.snapshot() if self.meter else None
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
        cpu = self.meter.split(before, self.meter.snapshot()) if before else {}
        if log is not None:
            with open(log, "a", encoding="utf-8") as out:
                out.write("$ " + " ".join(c if len(c) < 80 else c[:40] + "..." for c in cmd)
                          + "\n" + done.stdout + done.stderr + "\n")
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")),
                    None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
                               f"\n{done.stdout[-2000:]}")
        data = json.loads(line[len("BENCH_JSON "):])
        lat = data["latency_us"]
        return RunResult(
            requests=data["requests"],
            duration_s=data["duration_us"] / 1e6,
            p50_ms=lat["p50"] / 1000,
            p90_ms=lat["p90"] / 1000,
            p99_ms=lat["p99"] / 1000,
            max_ms=lat["max"] / 1000,
            statuses=data["statuses"],
            socket_errors=data["errors"],
            cpu=cpu,
        )
