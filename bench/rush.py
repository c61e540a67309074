#!/usr/bin/env python3
"""The 7 a.m. release rush (放号) on the parts a hospital deploys; see bench/README.md.

    python3 bench/rush.py            # 5,000 families, 200 sessions, 500 connections
    python3 bench/rush.py --help     # options

One department's day of slotted sessions is released at one instant by its booking policy.
Families refresh the schedule list and book (popular experts many times over their places);
losers try a second choice or join the waitlist; some cancel, which books waiters. wrk drives
them through nginx (deploy/nginx.conf) to waitress processes (deploy/hospital-api@.service's
flags) on PostgreSQL and Redis. Meanwhile a probe compares every schedule-list answer with
the database; afterwards SQL checks every invariant and every acknowledged answer.
Writes bench/results/rush.md (also printed) and bench/results/rush.json.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import devenv  # noqa: E402  (standard library only; makes sure we run in .venv)

DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--families", type=int, default=5000, help="families that rush (default 5000)")
    add("--schedules", type=int, default=200,
        help="the department's sessions that day, morning and afternoon (default 200)")
    add("--expert-share", type=float, default=0.2,
        help="share of sessions that are experts' (16 places; others 40) and the most "
             "popular (default 0.2)")
    add("--skew", type=float, default=1.0,
        help="the session of popularity rank r is chosen with weight 1/r**skew (default 1)")
    add("--slot-share", type=float, default=0.3,
        help="share of families naming a time slot (default 0.3; others take the earliest)")
    add("--second-share", type=float, default=0.5,
        help="share of families with a second choice when the first is full (default 0.5; "
             "the others join the first choice's waitlist at once)")
    add("--cancel-share", type=float, default=0.1,
        help="share of families cancelling right after booking (default 0.1)")
    add("--connections", type=int, default=500, help="wrk -c (default 500)")
    add("--wrk-threads", type=int, default=2, help="wrk -t (default 2)")
    add("--processes", type=int, default=2, help="waitress processes (default 2)")
    add("--threads", type=int, default=None,
        help="waitress --threads (default: deploy/hospital-api@.service's; DB_POOL_SIZE "
             "follows: threads + 2)")
    add("--lead", type=float, default=2.0,
        help="seconds before the release instant the families start (default 2)")
    add("--max-seconds", type=int, default=300, help="stop wrk after this long (default 300)")
    add("--seed", type=int, default=7, help="random seed of the families' choices")
    add("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        help=f"Redis the processes share (default {DEFAULT_REDIS}; '' for none)")
    add("--database-url", default="", help="where the processes connect (default: "
        "BENCH_DATABASE_URL, i.e. PostgreSQL directly; e.g. a PgBouncer in front of it)")
    add("--ceiling-seconds", type=int, default=10,
        help="afterwards, measure a bare Flask app on the same path this long, for scale "
             "(default 10; 0 skips)")
    add("--keep", action="store_true",
        help="keep the rush department and its registrations afterwards")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Entry point (inside .venv)."""
    from bench.run import bench_environment

    args = parse_args(argv)
    url = bench_environment()
    from bench.rush_run import Rush

    return Rush(args, url).run()


if __name__ == "__main__":
    devenv.ensure_venv()
    sys.exit(main(sys.argv[1:]))
