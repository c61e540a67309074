"""The rush run: data, processes, the release, wrk, the probe, the checks and the report."""
from __future__ import annotations

import datetime as dt
import fcntl
import http.client
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bench import dataset
from bench import rush_data as data
from bench.machine import Meter
from bench.paths import BENCH, RESULTS, WORK
from bench.server import Server
from bench.wrkrun import ensure_wrk
from deploy.nginx_conf import find_nginx, running_nginx, substitute, waitress_flags

LUA = BENCH / "lua" / "rush.lua"
OUT = WORK / "rush"
# wrk's inputs (a family a line; the list pages) and what it writes (acknowledged answers).
FAMILIES_FILE, LISTS_FILE, ACKED_FILE = (OUT / "families.tsv", OUT / "lists.txt",
                                         OUT / "acknowledged.txt")
PER_PAGE = 50
# nginx's access log for the run: when, what, how it ended and how long nginx took.
LOG_FORMAT = ("log_format rush '$msec $request_method $uri $status $request_time "
              "$http_x_request_id';\n")


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def _edit_nginx(conf: str) -> str:
    """The bench's changes to deploy/nginx.conf: its own access log with millisecond times,
    and the per-address limit raised, because every family comes from 127.0.0.1 here."""
    conf = substitute(r"^(\s*)access_log\s+logs/access\.log\s+hospital;",
                      r"\1" + LOG_FORMAT + r"\1access_log logs/access.log rush buffer=256k "
                      "flush=1s;", conf)
    return substitute(r"^(\s*)limit_conn\s+per_client\s+\d+;", r"\1limit_conn per_client 10000;",
                      conf)


@dataclass
class Probe:
    """Reads the schedule list through nginx while the rush goes on and compares every
    session's available_slots and bookable with the database.

    The rush never deletes a registration and only turns booked ones into cancelled ones, so
    with B the session's registrations and C its cancelled ones (both only grow), an answer
    produced between two database readings (B0, C0) and (B1, C1) must show a booked count
    within [B0 - C1, B1 - C0]. An answer outside it is stale (or wrong). After the release
    `bookable` must be exactly `available_slots > 0`; before it, false.
    """

    url: str
    port: int
    token: str
    paths: list[str]
    schedule_ids: list[int]
    release: dt.datetime
    zone: ZoneInfo
    reads: int = 0
    checked: int = 0
    stale: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _counts(self, cur) -> dict[int, tuple[int, int]]:
        cur.execute("""
            SELECT schedule_id, count(*), count(*) FILTER (WHERE status = 'cancelled')
              FROM registrations WHERE schedule_id = ANY(%s) GROUP BY schedule_id""",
                    (self.schedule_ids,))
        return {sid: (total, cancelled) for sid, total, cancelled in cur.fetchall()}

    def _now(self) -> dt.datetime:
        return dt.datetime.now(self.zone).replace(tzinfo=None)

    def _loop(self) -> None:
        conn = dataset.connect(self.url)
        http_conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "X-Request-ID": "probe"}
        try:
            with conn.cursor() as cur:
                i = 0
                while not self._stop.is_set():
                    path = self.paths[i % len(self.paths)]
                    i += 1
                    before, t0 = self._counts(cur), self._now()
                    http_conn.request("GET", path, headers=headers)
                    response = http_conn.getresponse()
                    body = response.read()
                    t1, after = self._now(), self._counts(cur)
                    self.reads += 1
                    if response.status != 200:
                        self.stale.append(f"{path}: status {response.status}")
                        continue
                    for item in json.loads(body)["results"]:
                        self._check(item, before, after, t0, t1)
                    time.sleep(0.02)
        finally:
            http_conn.close()
            conn.close()

    def _check(self, item: dict, before, after, t0: dt.datetime, t1: dt.datetime) -> None:
        sid = item["id"]
        b0, c0 = before.get(sid, (0, 0))
        b1, c1 = after.get(sid, (0, 0))
        booked = item["max_appointments"] - item["available_slots"]
        self.checked += 1
        if not b0 - c1 <= booked <= b1 - c0:
            self.stale.append(f"schedule {sid}: answered {booked} booked, database between "
                              f"{b0 - c1} and {b1 - c0}")
        if t0 >= self.release and item["bookable"] != (item["available_slots"] > 0):
            self.stale.append(f"schedule {sid}: bookable {item['bookable']} with "
                              f"{item['available_slots']} free after the release")
        if t1 < self.release and item["bookable"]:
            self.stale.append(f"schedule {sid}: bookable before the release")

    def start(self) -> None:
        """Read and compare in a thread until stop()."""
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading and wait for the last read."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


def parse_access_log(path: Path) -> list[tuple[float, str, int, float, str]]:
    """(time, kind, status, seconds, request id) per request: kind B booking, L/O/P list
    read (family, onlooker, probe), W waitlist join, C cancel."""
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) != 6:
            continue
        msec, _method, _uri, status, seconds, rid = parts
        kind = "P" if rid == "probe" else rid.rsplit("-", 1)[-1] if rid.startswith("f") else "?"
        entries.append((float(msec), kind, int(status), float(seconds), rid))
    return entries


def summarise(entries, release_epoch: float) -> dict:
    """Rates and latencies from the release on, per kind of request."""
    after = [e for e in entries if e[0] >= release_epoch]
    bookings = [e for e in after if e[1] == "B"]
    end = max((e[0] for e in bookings), default=release_epoch)
    window = max(end - release_epoch, 1e-3)

    def figures(items) -> dict:
        seconds = [e[3] * 1000 for e in items]
        statuses: dict[str, int] = {}
        for e in items:
            statuses[str(e[2])] = statuses.get(str(e[2]), 0) + 1
        return {"n": len(items), "per_s": len(items) / window,
                "p50_ms": _percentile(seconds, 50), "p99_ms": _percentile(seconds, 99),
                "max_ms": max(seconds, default=0.0), "statuses": dict(sorted(statuses.items()))}

    reads = [e for e in after if e[1] in "LOP" and e[0] <= end]
    per_second: dict[int, int] = {}
    for e in bookings:
        second = int(e[0] - release_epoch)
        per_second[second] = per_second.get(second, 0) + 1
    return {
        "window_s": window,
        "bookings": figures(bookings),
        "reads": figures(reads),
        "waitlist_joins": figures([e for e in after if e[1] == "W"]),
        "cancels": figures([e for e in after if e[1] == "C"]),
        "bookings_peak_second": max(per_second.values(), default=0),
        "before_release": len([e for e in entries if e[0] < release_epoch]),
        "all_per_s": len([e for e in after if e[0] <= end]) / window,
        "5xx": sum(1 for e in entries if e[2] >= 500),
    }


class Stage(NamedTuple):
    """What a rush is played on: the day's sessions, the families, wrk's inputs."""

    zone: ZoneInfo
    day: data.Day
    fams: list[data.Family]
    tokens: dict[int, str]
    paths: list[str]
    wrk: str


class Rush:
    """One rush: set up, release, drive, check, report."""

    def __init__(self, args: Namespace, url: str) -> None:
        self.args = args
        self.url = url
        self.service_url = args.database_url or url
        self.rng = random.Random(args.seed)

    def prepare(self):
        """The benchmark database, migrated, with the large seed (made once, shared with
        bench/run.py)."""
        from app import create_app

        dataset.ensure_database(self.url)
        app = create_app({"ADMIN_BOOTSTRAP": False, "SCHEDULER_ENABLED": False})
        dataset.migrate(app)
        if not dataset.holds_large_data(dataset.counts(self.url)):
            dataset.seed(self.url, "large", 42, dict(os.environ), WORK / "seed.log")
        return app

    def servers(self) -> list[Server]:
        """The waitress processes, with the deployment unit's flags."""
        env = {"DATABASE_URL": self.service_url, "SCHEDULER_ENABLED": "0"}
        if self.args.redis_url:
            env |= {"REDIS_URL": self.args.redis_url, "REDIS_KEY_PREFIX": f"rush{os.getpid()}"}
        if self.args.database_url:
            env["DB_STARTUP_OPTIONS"] = "0"  # PgBouncer refuses startup options
        threads = self.args.threads

        def flags(port: int) -> list[str]:
            unit = waitress_flags(port)
            if threads is None:
                return unit
            return [f"--threads={threads}" if flag.startswith("--threads=") else flag
                    for flag in unit]

        if threads is not None:
            env["DB_POOL_SIZE"] = str(threads + 2)
        return [Server(f"rush-api-{i}", "app:create_app", threads or 8, env,
                       OUT / f"api-{i}.log", flags_for=flags)
                for i in range(1, self.args.processes + 1)]

    def run(self) -> int:
        args = self.args
        nginx, wrk = find_nginx(), ensure_wrk()
        if nginx is None:
            raise SystemExit("nginx is missing: run .ci/install-nginx (apt-get install nginx)")
        OUT.mkdir(parents=True, exist_ok=True)
        lock = open(OUT / "lock", "w")  # noqa: SIM115 (held until the process exits)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SystemExit("another bench/rush.py is running (it owns the rush "
                             "department)") from None
        stage = self.stage(self.prepare(), wrk)
        servers = [server.start() for server in self.servers()]
        try:
            backends = [f"127.0.0.1:{server.port}" for server in servers]
            with running_nginx(backends, edit=_edit_nginx) as (port, prefix):
                result = self.rush(stage, port, prefix, servers)
        finally:
            for server in servers:
                server.stop()
        if not args.keep:
            data.remove(self.url)
        if args.ceiling_seconds:
            result["ceiling_rps"] = self.ceiling(wrk)
            self.write(result)
        return 0 if result["ok"] else 1

    def stage(self, app, wrk: str) -> Stage:
        """The department's day, the families with their tokens, and wrk's input files."""
        args = self.args
        zone = ZoneInfo(app.config["HOSPITAL_TIMEZONE"])
        today = dt.datetime.now(zone).date()
        day = data.create_day(self.url, args.schedules, today + dt.timedelta(days=7),
                              args.expert_share)
        print(f"Department {day.department_id}: {len(day.schedules)} sessions on {day.date}, "
              f"{day.capacity} places", flush=True)
        fams = data.families(self.url, day, args.families, self.rng, args.skew,
                             args.slot_share, args.second_share, args.cancel_share)
        tokens = dataset.mint_tokens(app, [f.user_id for f in fams])
        with open(FAMILIES_FILE, "w") as out:
            for f in fams:
                out.write(f"{f.index}\t{tokens[f.user_id]}\t{f.patient_id}\t{f.first}\t"
                          f"{f.slot}\t{f.second}\t{int(f.cancel)}\n")
        pages = -(-len(day.schedules) // PER_PAGE)
        paths = [f"/departments/{day.department_id}/schedules?date_from={day.date}"
                 f"&date_to={day.date}&per_page={PER_PAGE}&page={page}"
                 for page in range(1, pages + 1)]
        LISTS_FILE.write_text("\n".join(paths) + "\n")
        for marker in OUT.glob("acknowledged.txt.done*"):
            marker.unlink()
        return Stage(zone, day, fams, tokens, paths, wrk)

    def ceiling(self, wrk: str) -> float:
        """Requests/s of a bare Flask app on the same path (nginx, the same number of
        waitress processes with the unit's flags, the same connections): what this machine
        can answer at all, for scale."""
        servers = [Server(f"rush-ceiling-{i}", "bench.ceiling_app:create_app", 8, {},
                          OUT / f"ceiling-{i}.log", ready_path="/",
                          flags_for=lambda port: [
                              *waitress_flags(port)[:-1], "bench.ceiling_app:create_app"])
                   for i in range(1, self.args.processes + 1)]
        for server in servers:
            server.start()
        try:
            with running_nginx([f"127.0.0.1:{s.port}" for s in servers],
                               edit=_edit_nginx) as (port, _prefix):
                done = subprocess.run(
                    [wrk, f"-t{self.args.wrk_threads}", f"-c{self.args.connections}",
                     f"-d{self.args.ceiling_seconds}s", "-s", str(BENCH / "lua" / "bench.lua"),
                     f"http://127.0.0.1:{port}", "--", "get", "/", "-"],
                    capture_output=True, text=True, timeout=self.args.ceiling_seconds + 120)
        finally:
            for server in servers:
                server.stop()
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON "))
        figures = json.loads(line[len("BENCH_JSON "):])
        rps = figures["requests"] / (figures["duration_us"] / 1e6)
        print(f"Ceiling (bare Flask, same path): {rps:,.0f} requests/s", flush=True)
        return rps

    @staticmethod
    def write(result: dict) -> None:
        """bench/results/rush.json and rush.md (the report is also printed)."""
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "rush.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
        text = report(result)
        (RESULTS / "rush.md").write_text(text)
        print(text, flush=True)

    def rush(self, stage: Stage, port: int, prefix: Path, servers: list[Server]) -> dict:
        """Release the day, drive the families with wrk, then check and report."""
        args = self.args
        zone, day, fams, tokens = stage.zone, stage.day, stage.fams, stage.tokens
        # The release: a few seconds from now, at a whole second, by the department's policy.
        release = (dt.datetime.now(zone).replace(tzinfo=None, microsecond=0)
                   + dt.timedelta(seconds=6 + args.lead))
        data.set_release(self.url, day.department_id, release, day.date)
        release_epoch = release.replace(tzinfo=zone).timestamp()
        probe = Probe(self.url, port, tokens[fams[0].user_id], stage.paths,
                      [sid for sid, _, _ in day.schedules], release, zone)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 65536)), hard))
        meter = Meter(dataset.psycopg2.extensions.parse_dsn(
            dataset.libpq_url(self.url))["dbname"])
        meter.server_pids = {server.pid for server in servers}
        time.sleep(max(0.0, release_epoch - args.lead - time.time()))
        print(f"Release at {release} (hospital time); {args.families} families on "
              f"{args.connections} connections ...", flush=True)
        cmd = [stage.wrk, f"-t{args.wrk_threads}", f"-c{args.connections}",
               f"-d{args.max_seconds}s", "--timeout=30s", "-s", str(LUA),
               f"http://127.0.0.1:{port}", "--", str(FAMILIES_FILE), str(args.wrk_threads),
               str(LISTS_FILE), str(ACKED_FILE)]
        before = meter.snapshot()
        probe.start()
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        deadline = time.time() + args.max_seconds + 30
        while process.poll() is None and time.time() < deadline:
            markers = list(OUT.glob("acknowledged.txt.done*"))
            if len(markers) >= args.wrk_threads:
                process.send_signal(signal.SIGINT)  # every family is done
                break
            time.sleep(0.1)
        stdout, stderr = process.communicate(timeout=120)
        cpu = meter.split(before, meter.snapshot())
        probe.stop()
        line = next((ln for ln in stdout.splitlines() if ln.startswith("RUSH_JSON ")), None)
        if line is None:
            raise SystemExit(f"wrk failed ({process.returncode}): {stderr[-2000:]}\n"
                             f"{stdout[-2000:]}")
        counts = json.loads(line[len("RUSH_JSON "):])
        for note in stderr.splitlines():
            if note.startswith("unfinished families"):
                print(note, flush=True)
        time.sleep(1.5)  # nginx flushes its access log buffer every second
        entries = parse_access_log(prefix / "logs" / "access.log")
        summary = summarise(entries, release_epoch)
        invariants = data.check_invariants(self.url, day)
        acked = ACKED_FILE.read_text().splitlines()
        acknowledged = data.check_acknowledged(self.url, day, {f.index: f for f in fams},
                                               acked)
        result = {
            "command": "python3 bench/rush.py " + " ".join(sys.argv[1:]),
            "release": str(release), "families": args.families,
            "sessions": len(day.schedules), "places": day.capacity,
            "connections": args.connections, "processes": args.processes,
            "redis": bool(args.redis_url), "database": "PgBouncer" if args.database_url
            else "PostgreSQL", "wrk": counts, "summary": summary, "cpu_cores": cpu,
            "probe": {"reads": probe.reads, "checked": probe.checked,
                      "stale": len(probe.stale), "examples": probe.stale[:10]},
            "invariants": invariants, "acknowledged": acknowledged,
            "outcome": data.outcome(self.url, day),
        }
        violations = sum(len(v) for k, v in {**invariants, **acknowledged}.items()
                         if not k.startswith("_"))
        result["ok"] = violations == 0 and not probe.stale and summary["5xx"] == 0
        if not self.args.ceiling_seconds:
            self.write(result)
        return result


def report(r: dict) -> str:
    """The Markdown report of one rush."""
    s = r["summary"]
    b, rd = s["bookings"], s["reads"]

    def row(label, f):
        return (f"| {label} | {f['n']:,} | {f['per_s']:,.0f} | {f['p50_ms']:.0f} | "
                f"{f['p99_ms']:.0f} | {f['max_ms']:.0f} | "
                + ", ".join(f"{k}: {v:,}" for k, v in f["statuses"].items()) + " |")

    violations = {k: v for k, v in {**r["invariants"], **r["acknowledged"]}.items()
                  if v and not k.startswith("_")}
    booked, cancelled, joined = r["acknowledged"]["_counts"]
    lines = [
        "# Release rush (放号)", "",
        f"`{r['command']}` — released {r['release']} (hospital time): {r['families']:,} "
        f"families, {r['sessions']} sessions ({r['places']:,} places), {r['connections']} "
        f"connections → nginx → {r['processes']} waitress processes → {r['database']}"
        + (" (+ Redis)" if r["redis"] else "") + ".", "",
        f"From the release to the last booking answer: {s['window_s']:.1f} s "
        f"(peak {s['bookings_peak_second']:,} bookings in one second; {s['before_release']:,} "
        "requests before the release). Latency as nginx measured it ($request_time).", "",
        "| requests after the release | n | per s | p50 ms | p99 ms | max ms | statuses |",
        "|---|---:|---:|---:|---:|---:|---|",
        row("booking `POST /registrations/`", b),
        row("schedule list `GET /departments/{id}/schedules`", rd),
        row("waitlist join", s["waitlist_joins"]),
        row("cancel", s["cancels"]), "",
        "wrk's count per kind:status:code — "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(r["wrk"]["counts"].items())) + ".", "",
        f"Families left unfinished (a request never answered): {r['wrk']['unfinished']}; "
        "wrk socket errors: " + json.dumps(r["wrk"]["errors"]) + ".", "",
        (f"For scale: a bare Flask app behind the same nginx, processes and connections "
         f"answers {r['ceiling_rps']:,.0f} requests/s on this machine (all requests after "
         f"the release here: {s['all_per_s']:,.0f}/s)." if "ceiling_rps" in r else ""), "",
        f"5xx: {s['5xx']}. CPU (cores) during the run: "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["cpu_cores"].items())) + ".", "",
        f"Probe: {r['probe']['reads']:,} list reads, {r['probe']['checked']:,} sessions "
        f"compared with the database, {r['probe']['stale']} stale.", "",
        f"Acknowledged: {booked:,} bookings, {cancelled:,} cancels, {joined:,} waitlist "
        "joins — all checked against the database.", "",
        "Outcome: " + ", ".join(f"{k} {v:,}" for k, v in r["outcome"].items()) + ".", "",
        "Invariants (SQL): " + ("all hold." if not violations else json.dumps(violations)),
        "", "Result: " + ("PASS" if r["ok"] else "FAIL"), "",
    ]
    return "\n".join(lines)
