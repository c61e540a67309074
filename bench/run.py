#!/usr/bin/env python3
"""Benchmark the service under waitress on a large seeded database; see bench/README.md.

    python3 bench/run.py            # seed once if needed, run everything, write results/latest.md
    python3 bench/run.py --help     # options
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import devenv  # noqa: E402  (standard library only; makes sure we run in .venv)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/hospital_bench"
# Fixed signing keys of the benchmark deployment: tokens minted here are accepted there.
BENCH_ENV = {
    "APP_ENV": "production",
    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789abcdef",
    "JWT_SECRET_KEY": "bench-jwt-secret-key-0123456789abcdef0123456789abcdef",
    "RATELIMIT_ENABLED": "0",
    "SCHEDULER_ENABLED": "0",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reseed", action="store_true",
                        help="seed again even if the database already holds the large data")
    parser.add_argument("--scale", default="large", choices=("small", "large"),
                        help="seed.py scale when seeding (default large; small is a smoke test)")
    parser.add_argument("--seed", type=int, default=42, help="seed.py --seed (default 42)")
    parser.add_argument("--threads", type=int, default=8, help="waitress --threads (default 8)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per endpoint (default 3)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of unmeasured warm-up per endpoint (default 2)")
    parser.add_argument("--latency-requests", type=int, default=50,
                        help="sequential searches per query for the latency table (default 50)")
    parser.add_argument("--booking-schedules", type=int, default=1000,
                        help="seeded (unslotted) future schedules the spread booking run "
                             "spreads over (default 1000)")
    parser.add_argument("--booking-hot-schedules", type=int, default=20,
                        help="and then over this few, to make them fill up (default 20; 0 "
                             "skips that scenario)")
    parser.add_argument("--booking-slotted-schedules", type=int, default=1000,
                        help="new evening schedules in 30-minute slots, created for the "
                             "run, that the slotted booking run spreads over (default 1000; "
                             "0 skips that scenario)")
    parser.add_argument("--booking-patients", type=int, default=20000,
                        help="patients (and their accounts' tokens) that book (default 20000)")
    parser.add_argument("--booking-quota-pairs", type=int, default=3,
                        help="passes of the spread schedules with the person rules off, then "
                             "on, each from a vacuumed state (default 3 pairs)")
    parser.add_argument("--no-booking-quotas", dest="booking_quotas", action="store_false",
                        help="skip booking the spread schedules again with the person quotas "
                             "and no-show credit on")
    parser.add_argument("--keep-bookings", action="store_true",
                        help="keep the registrations and slotted schedules the booking run "
                             "created (default: delete; the next run deletes such schedules)")
    parser.add_argument("--wait-idle", type=float, default=30,
                        help="before each endpoint, wait up to this many seconds for other "
                             "processes to use < 0.25 cores (default 30)")
    parser.add_argument("--profile-connections", type=int, default=1,
                        help="wrk connections during the py-spy runs (default 1: one request "
                             "at a time, so the breakdown is not blurred by GIL contention)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy runs")
    parser.add_argument("--no-uncached", action="store_true",
                        help="skip the runs against a second server with CACHE_ENABLED=0")
    parser.add_argument("--only", default="",
                        help="comma-separated subset of: ceiling,doctors,schedules,search,"
                             "search_user,booking,latency,explain")
    return parser.parse_args(argv)


def bench_environment() -> str:
    """The benchmark deployment's settings in os.environ (inherited by the servers); returns
    the database URL (BENCH_DATABASE_URL, else the local hospital_bench)."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.update(BENCH_ENV)
    os.environ["DATABASE_URL"] = url
    return url


def main(argv: list[str]) -> int:
    """Entry point (inside .venv)."""
    args = parse_args(argv)
    url = bench_environment()
    from bench.harness import Harness

    return Harness(args, url).run()


if __name__ == "__main__":
    devenv.ensure_venv()
    sys.exit(main(sys.argv[1:]))
