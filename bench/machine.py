"""How busy the machine is, and how much of that is not the benchmark (Linux /proc)."""
from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / TICK


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _db_backends(dbname: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmd:
                text = cmd.read().decode(errors="replace")
        except OSError:
            continue
        if text.startswith("postgres:") and f" {dbname} " in text:
            pids.append(int(entry))
    return pids


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Snapshot:
    """CPU counters at one moment."""

    at: float
    busy: float
    own: dict[int, float]
    children: float


class Meter:
    """Measures the CPU used by everything that is not the benchmark during a run."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname
        self.server_pids: set[int] = set()

    def snapshot(self) -> Snapshot:
        """Counters now."""
        pids = {os.getpid(), *self.server_pids, *_db_backends(self.dbname)}
        return Snapshot(time.monotonic(), _cpu_busy(), {p: _proc_cpu(p) for p in pids},
                        _children_cpu())

    def split(self, before: Snapshot, after: Snapshot) -> dict[str, float]:
        """Average cores used between two snapshots: server, postgres, wrk, others."""
        elapsed = after.at - before.at
        if elapsed <= 0:
            return {"server": 0.0, "postgres": 0.0, "wrk": 0.0, "others": 0.0}

        def used(pids) -> float:
            return sum(after.own[p] - before.own.get(p, 0.0) for p in pids if p in after.own)

        server = used(self.server_pids)
        postgres = used(p for p in after.own if p not in self.server_pids
                        and p != os.getpid())
        harness = used([os.getpid()])
        children = after.children - before.children  # wrk (and py-spy), once waited for
        others = after.busy - before.busy - server - postgres - harness - children
        return {"server": server / elapsed, "postgres": postgres / elapsed,
                "wrk": children / elapsed, "others": max(0.0, others) / elapsed}

    def foreign_cores(self, before: Snapshot, after: Snapshot) -> float:
        """Average cores used by processes that are not the benchmark."""
        return self.split(before, after)["others"]

    def wait_until_quiet(self, max_wait_s: float, threshold: float = 0.25) -> float:
        """Wait (up to max_wait_s) until others use < threshold cores; returns the last load."""
        deadline = time.monotonic() + max_wait_s
        while True:
            before = self.snapshot()
            time.sleep(2.0)
            load = self.foreign_cores(before, self.snapshot())
            if load < threshold or time.monotonic() >= deadline:
                return load
