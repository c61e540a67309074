"""The benchmark run: database, servers, wrk runs, profiles, search latency, report."""
from __future__ import annotations

import json
import os
import random
import time
from argparse import Namespace
from contextlib import ExitStack

from bench import booking_data, booking_run, dataset, machine, profiling, report, search
from bench.paths import RESULTS, WORK
from bench.server import Server
from bench.wrkrun import Measurement, Wrk, ensure_wrk

STEPS = ("ceiling", "doctors", "schedules", "search", "search_user", "booking", "latency",
         "explain")


class Harness:
    """Runs every step and collects what the report needs."""

    def __init__(self, args: Namespace, url: str) -> None:
        self.args = args
        self.url = url
        self.steps = set(args.only.split(",")) if args.only else set(STEPS)
        unknown = self.steps - set(STEPS)
        if unknown:
            raise SystemExit(f"--only: unknown step(s) {', '.join(sorted(unknown))}")
        self.rng = random.Random(args.seed)
        self.measurements: list[Measurement] = []
        self.ceiling: Measurement | None = None
        self.profiles: list[tuple] = []  # (title, Profile, requests)
        self.info: dict = {"database": url, "waitress_threads": args.threads,
                           "wrk": f"-t{args.wrk_threads} -c{args.connections} "
                                  f"-d{args.duration}s x{args.repeat} (+{args.warmup}s warm-up)",
                           "cpus": os.cpu_count()}
        self.latencies: list[search.Latency] = []
        self.explain_summary: list[str] = []
        self.booking: dict | None = None

    # -- setup -----------------------------------------------------------------------------
    def prepare_database(self):
        """Create, migrate and (once) seed the benchmark database; returns the app."""
        from app import create_app

        created = dataset.ensure_database(self.url)
        print(("Created" if created else "Using") + f" database {self.url}", flush=True)
        app = create_app({"ADMIN_BOOTSTRAP": False})
        dataset.migrate(app)
        found = dataset.counts(self.url)
        seeded = dataset.holds_large_data(found) if self.args.scale == "large" else bool(
            found and found["patients"])
        wanted = self.args.booking_schedules + self.args.booking_hot_schedules
        if seeded and "booking" in self.steps and booking_data.future_schedules_with_room(
                self.url, app.config["HOSPITAL_TIMEZONE"]) < wanted:
            print("Too few future schedules with free places left (the data is dated from "
                  "the day it was seeded): seeding again.", flush=True)
            seeded = False
        if self.args.reseed or not seeded:
            seconds = dataset.seed(self.url, self.args.scale, self.args.seed, dict(os.environ),
                                   WORK / "seed.log")
            self.info["seeding"] = f"seed.py --scale {self.args.scale} took {seconds:.0f}s"
            found = dataset.counts(self.url)
        else:
            self.info["seeding"] = "reused the existing data (pass --reseed to seed again)"
        # Earlier runs' bookings (and their removal) leave dead rows behind, above all in
        # schedules (every booking updates its row): vacuum so each run starts alike.
        dataset.vacuum(self.url)
        self.info["rows"] = found
        print(f"Rows: {json.dumps(found)}", flush=True)
        if not dataset.scalar(self.url, "SELECT count(*) FROM users WHERE is_admin"):
            from app.ops.bootstrap import bootstrap_admin

            with app.app_context():
                bootstrap_admin(app)
        return app

    def server(self, name: str, factory: str, ready: str, extra: dict | None = None) -> Server:
        """A waitress server with the benchmark environment."""
        env = {"DATABASE_URL": self.url, **(extra or {})}
        return Server(name, factory, self.args.threads, env, WORK / f"{name}.log", ready)

    # -- measuring -------------------------------------------------------------------------
    def measure(self, name: str, server: Server, wrk_args: list[str],
                per_run_args: list[list[str]] | None = None, profile_as: str | None = None,
                note: str = "") -> Measurement:
        """Warm-up, then `repeat` measured runs (optionally one more under py-spy)."""
        self.drain(server)
        quiet = self.meter.wait_until_quiet(self.args.wait_idle)
        print(f"-> {name}  (other processes: {quiet:.2f} cores)", flush=True)
        log = WORK / "wrk.log"
        args_for = (lambda i: per_run_args[i]) if per_run_args else (lambda i: wrk_args)
        if self.args.warmup:
            self.wrk.run(server.url, args_for(0), duration_s=self.args.warmup, log=log)
        result = Measurement(name, note=note, quiet_before=quiet)
        for i in range(self.args.repeat):
            # waitress finishes requests whose client has gone: let them end first
            self.drain(server)
            run = self.wrk.run(server.url, args_for(i + 1), log=log)
            result.runs.append(run)
            print(f"   run {i + 1}: {run.rps:8.1f} req/s  p50 {run.p50_ms:.2f} ms  "
                  f"p99 {run.p99_ms:.2f} ms  {run.statuses}  others "
                  f"{run.foreign_cores:.2f} cores", flush=True)
        if profile_as and self.py_spy:
            self.profile(profile_as, server, wrk_args)
        self.measurements.append(result)
        return result

    def drain(self, server: Server, limit_s: float = 120.0) -> None:
        """Wait until earlier slow requests are done: no active query, a prompt /health."""
        deadline = time.monotonic() + limit_s
        calm = 0
        while time.monotonic() < deadline and calm < 2:
            active = dataset.scalar(self.url, """
                SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND state = 'active'
                   AND backend_type = 'client backend'
                   AND pid <> pg_backend_pid()""")
            started = time.monotonic()
            ok = server.answers(timeout=5)
            calm = calm + 1 if not active and ok and time.monotonic() - started < 0.5 else 0
            time.sleep(0.5)

    def profile(self, title: str, server: Server, wrk_args: list[str]) -> None:
        """One extra (unreported) wrk run with py-spy sampling the waitress process."""
        slug = "".join(c if c.isalnum() else "_" for c in title).strip("_")
        raw = WORK / f"profile-{slug}.txt"
        self.drain(server)
        raw.unlink(missing_ok=True)
        seconds = max(3, self.args.duration)
        recorder = profiling.start_record(self.py_spy, server.pid, raw, seconds)
        time.sleep(1.0)
        # wrk runs from ~1 s after py-spy starts until after it stops
        run = self.wrk.run(server.url, wrk_args, duration_s=seconds + 1, log=WORK / "wrk.log",
                           connections=self.args.profile_connections)
        output, _ = recorder.communicate(timeout=120)
        if recorder.returncode != 0 or not raw.exists():
            print(f"   py-spy failed: {output.decode(errors='replace')[-500:]}", flush=True)
            return
        summary = profiling.summarize(raw)
        requests = round(run.rps * (seconds - 1))  # completed while py-spy sampled
        self.profiles.append((title, summary, requests))
        top = ", ".join(f"{n} {p:.0f}%" for n, p in summary.categories[:4])
        print(f"   profile: {top}", flush=True)

    def run(self) -> int:
        """Everything, in order; returns the exit status."""
        RESULTS.mkdir(exist_ok=True)
        WORK.mkdir(parents=True, exist_ok=True)
        (WORK / "wrk.log").write_text("")
        import psycopg2.extensions

        dbname = psycopg2.extensions.parse_dsn(dataset.libpq_url(self.url))["dbname"]
        self.meter = machine.Meter(dbname)
        self.wrk = Wrk(ensure_wrk(), self.args.wrk_threads, self.args.connections,
                       self.args.duration, meter=self.meter)
        self.py_spy = None if self.args.no_profile else profiling.ensure_py_spy()
        app = self.prepare_database()
        picks = dataset.pick(self.url)
        self.info["queries"] = picks.queries
        tokens = dataset.mint_tokens(app, [picks.admin_id, *picks.user_ids])
        admin = tokens[picks.admin_id]
        user = tokens[picks.user_ids[0]]
        with ExitStack() as stack:
            ceiling = stack.enter_context(
                self.server("ceiling", "bench.ceiling_app:create_app", "/"))
            service = stack.enter_context(self.server("service", "app:create_app", "/health"))
            uncached = None
            if not self.args.no_uncached and self.steps & {"doctors", "schedules"}:
                uncached = stack.enter_context(self.server(
                    "service-nocache", "app:create_app", "/health", {"CACHE_ENABLED": "0"}))
            self.meter.server_pids = {s.pid for s in (ceiling, service, uncached) if s}
            self.drive(ceiling, service, uncached, picks, tokens, admin, user, app)
        report.write(self)
        return 0

    def drive(self, ceiling, service, uncached, picks, tokens, admin, user, app) -> None:
        """The wrk runs, the latency table, the plans and the booking runs."""
        if "ceiling" in self.steps:
            self.ceiling = self.measure("ceiling: bare Flask GET / (small JSON)", ceiling,
                                        ["get", "/", "-"])
        doctors = ["ids", "/doctors/", str(picks.doctor_lo), str(picks.doctor_hi), user]
        schedules = ["get", "/schedules/?per_page=20", user]
        if "doctors" in self.steps:
            self.measure("GET /doctors/{id} (random id, cache on)", service, doctors,
                         profile_as="GET doctors id, cache on")
        if "schedules" in self.steps:
            self.measure("GET /schedules/?per_page=20 (cache on)", service, schedules,
                         profile_as="GET schedules, cache on")
        if uncached is not None and "doctors" in self.steps:
            self.measure("GET /doctors/{id} (random id, CACHE_ENABLED=0)", uncached, doctors,
                         profile_as="GET doctors id, CACHE_ENABLED=0")
        if uncached is not None and "schedules" in self.steps:
            self.measure("GET /schedules/?per_page=20 (CACHE_ENABLED=0)", uncached, schedules,
                         profile_as="GET schedules, CACHE_ENABLED=0")
        surname = picks.queries["common surname"]
        if "search" in self.steps:
            body = WORK / "search-body.json"
            body.write_text(json.dumps({"query": surname}, ensure_ascii=False))
            self.measure(f"POST /registrations/search (admin, query {surname!r})", service,
                         ["post", "/registrations/search", admin, str(body)],
                         profile_as="POST registrations search, admin")
        if "search_user" in self.steps:
            self.search_user(service, picks, tokens)
        if "latency" in self.steps:
            self.search_latency(service, picks, admin, user)
        if "explain" in self.steps:
            self.explain(app, picks, admin)
        if "booking" in self.steps:
            self.booking = booking_run.run(self, service, tokens, app)

    def search_user(self, service: Server, picks, tokens) -> None:
        """Searches by many users over their own registrations (department name)."""
        query = picks.queries["department name"]
        body = json.dumps({"query": query}, ensure_ascii=False)
        lines = [("POST", "/registrations/search", tokens[uid], body) for uid in picks.user_ids
                 if uid in tokens]
        path = WORK / "search-user.tsv"
        dataset.write_request_lines(path, lines)
        self.measure(f"POST /registrations/search (own, {len(lines)} users, query {query!r})",
                     service, ["lines", str(path), str(self.args.wrk_threads)])

    def search_latency(self, service: Server, picks, admin: str, user: str) -> None:
        """p50/p95 of single-client searches, per representative query."""
        print("-> search latency (single client)", flush=True)
        for label, query in picks.queries.items():
            lat = search.measure(service.port, admin, f"admin, {label}", query,
                                 n=self.args.latency_requests)
            self.latencies.append(lat)
            print(f"   {lat.label:<30} {query!r:<14} p50 {lat.p50_ms:8.1f} ms  "
                  f"p95 {lat.p95_ms:8.1f} ms  n={lat.n} count={lat.count}", flush=True)
        lat = search.measure(service.port, user, "own registrations, department name",
                             picks.queries["department name"], n=self.args.latency_requests)
        self.latencies.append(lat)
        print(f"   {lat.label:<30} p50 {lat.p50_ms:8.1f} ms  p95 {lat.p95_ms:8.1f} ms", flush=True)

    def explain(self, app, picks, admin: str) -> None:
        """EXPLAIN ANALYZE of the SQL the service runs for searches; saved with index facts."""
        print("-> EXPLAIN (ANALYZE) of the search SQL", flush=True)
        trgm = search.trigram_indexes(self.url)
        out = ["# EXPLAIN (ANALYZE, BUFFERS) of POST /registrations/search (admin)",
               "# statements captured from the service itself (Flask test client)", "",
               "## pg_trgm indexes in the database"]
        out += [f"  {t}.{i}: {d}" for t, i, d in trgm] or ["  (none)"]
        trgm_names = {i for _, i, _ in trgm}
        self.explain_summary.append(f"pg_trgm indexes defined: {len(trgm)}"
                                    + (f" ({', '.join(sorted(trgm_names))})" if trgm else ""))
        for label, query in picks.queries.items():
            for n, (statement, params) in enumerate(search.capture_search_sql(app, admin,
                                                                               query), 1):
                plan = search.explain(self.url, statement, params)
                used = search.used_indexes(plan)
                ms = search.execution_ms(plan)
                plain = search.timed_run(self.url, statement, params)
                out += ["", f"## query {query!r} ({label}), statement {n}", "",
                        statement, f"-- parameters: {params!r}", "", plan]
                self.explain_summary.append(
                    f"{label} ({query!r}), statement {n}: {plain:.0f} ms plain, {ms} ms "
                    f"under EXPLAIN ANALYZE; indexes used: "
                    f"{', '.join(used) or 'none'}; trigram index used: "
                    f"{'yes' if trgm_names & set(used) else 'no'}; counters read: "
                    f"{'yes' if 'registration_term_counts' in plan else 'no'}")
        (RESULTS / "explain-search.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
        for line in self.explain_summary:
            print("   " + line, flush=True)
