#!/usr/bin/env python3
"""Fill the database with realistic demo data (医院挂号 departments, doctors, schedules, ...).

    python seed.py                        # small: ~10 departments, 24 doctors, 50 users
    python seed.py --scale large          # >= 100,000 patients, >= 1,000,000 registrations
    python seed.py --seed 7 --days 21 --past-days 7
    python seed.py --reset                # replace what is there (admins are kept)
    python seed.py --append               # add another batch next to existing data

It uses the app's database settings (DATABASE_URL, or the embedded PostgreSQL when unset) and
applies the migrations first. Everything is written in one transaction with COPY; the booking
and slot layout triggers are bypassed during the load, the slots are laid out and the
counters of schedules and slots computed from the rows afterwards, one statement each, so
every booking rule holds (capacity of schedules and slots, one active registration per
patient and schedule, queue numbers 1..n in booking order, statuses that match the clock:
past sessions completed / no_show / cancelled, future ones scheduled / cancelled).

The hospital releases schedules (放号) 7 days ahead at 07:00, with a 30-minute booking cutoff
and a 2-hour cancel deadline; two seeded departments have their own release terms. About 80%
of the sessions are split into time slots (mostly 30 minutes), filled earliest first.
Patients booked only released sessions, between release and cutoff.

Patients are real-name persons (实名制): about 87% carry a fictitious but valid resident ID
number matching their birthday and gender, stored as the API stores it (a keyed fingerprint
on the person, the masked form on the patient); about 2% of those persons are patients of two
accounts (relatives booking for the same elderly parent), and never booked twice into one
session. Some persons have two or more no-shows within the last 90 days (at least a few are
made so, whatever chance gives), and one of those was pardoned by an admin (credit_pardons).
The person rules themselves (quotas, no-show limit, ID number required) stay off: turn them
on to see them refuse bookings.

Options:
  --scale small|large   how much data (default small)
  --seed N              the same N on the same starting database writes the same rows
                        (default 42; the fingerprints of ID numbers also depend on
                        ID_NUMBER_KEY or SECRET_KEY); dates are relative to today, so pass
                        --now as well to reproduce a run on another day
  --days N              schedules for today and the next N-1 days (default 14)
  --past-days N         and for the N days before today (default 14)
  --now ISO-DATETIME    pretend it is this moment (hospital wall-clock time unless an offset
                        is given); statuses are decided against it
  --password PW         the password of every seeded user (default "seed-password"); it is
                        hashed ONCE and the hash, printed at the end, is shared by all of them.
                        A few seeded usernames to log in with are printed at the end, too.
  --reset               empty every table first, persons and pardons included. Admin
                        accounts are KEPT (same ids, passwords and tokens), so you can still
                        log in; their patients and bookings go with the rest, and any doctor
                        link they had is cleared. When no admin exists, the app creates one
                        on its next start (ADMIN_BOOTSTRAP). The booking policy is set as
                        above again.
  --append              add a new batch (new doctors, schedules, users, patients and
                        registrations; departments are reused by name) next to existing data.
                        The booking policy in force is kept, and the batch books by it.

Without --reset or --append it refuses (exit status 2) to touch a database that already holds
departments, doctors, schedules, patients or registrations. Existing user accounts alone
(e.g. the bootstrap admin) are fine: seeded usernames and phone numbers avoid them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys

import devenv


def day_count(minimum: int):
    """An argparse type: a whole number of days from `minimum` to 366."""
    def parse(value: str) -> int:
        if not value.isdigit() or not minimum <= int(value) <= 366:
            raise argparse.ArgumentTypeError(f"must be a whole number from {minimum} to 366")
        return int(value)
    return parse


EPILOG = """\
Without --reset or --append it refuses (exit status 2) to touch a database that already holds
departments, doctors, schedules, patients or registrations; user accounts alone are fine.
It uses the app's database settings (DATABASE_URL, or the embedded PostgreSQL when unset) and
applies the migrations first. At the end it prints what it wrote, the shared password and a
few seeded usernames to log in with.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Fill the database with realistic demo data: departments, doctors,\n"
                    "schedules, users, patients and registrations.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("small", "large"), default="small",
                        help="how much data: small (10 departments, 24 doctors, 50 users with "
                             "their patients and bookings) or large (100,000 patients, "
                             ">= 1,000,000 registrations); default %(default)s")
    parser.add_argument("--seed", type=int, default=42, metavar="N",
                        help="random seed: the same N on the same starting database writes "
                             "the same rows (dates are relative to today, so pass --now too "
                             "to repeat a run on another day); default %(default)s")
    parser.add_argument("--days", type=day_count(1), default=14, metavar="N",
                        help="schedules for today and the next N-1 days (1-366, "
                             "default %(default)s)")
    parser.add_argument("--past-days", type=day_count(0), default=14, metavar="N",
                        help="and for the N days before today (0-366, default %(default)s)")
    parser.add_argument("--now", type=dt.datetime.fromisoformat, default=None,
                        metavar="ISO-DATETIME",
                        help="pretend it is this moment, e.g. 2026-03-02T10:30 (hospital "
                             "wall-clock time unless an offset is given); registration "
                             "statuses are decided against it (default: now)")
    parser.add_argument("--password", default=None, metavar="PW",
                        help='the password of every seeded user (default "seed-password"); '
                             "hashed once, the hash is shared by all of them")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--reset", action="store_true",
                      help="empty every table first; admin accounts are kept (same ids, "
                           "passwords and tokens) and the booking policy is set again")
    mode.add_argument("--append", action="store_true",
                      help="add a new batch next to the existing data (departments are "
                           "reused by name; the booking policy in force is kept)")
    return parser.parse_args(argv)


def login_examples(password_hash: str, count: int = 3) -> list[str]:
    """A few seeded (non-admin) usernames whose password is the one just seeded."""
    from sqlalchemy import text

    from app.extensions import db

    return db.session.execute(text(
        "SELECT username FROM users WHERE password_hash = :hash AND NOT is_admin "
        "ORDER BY id LIMIT :count"), {"hash": password_hash, "count": count}).scalars().all()


def main(argv: list[str] | None = None) -> int:
    """Run the seeder; the exit status."""
    args = parse_args(argv)
    from flask_migrate import upgrade

    from app import create_app
    from app.seeding import DEFAULT_PASSWORD, SeedOptions, SeedRefused, seed_database

    app = create_app({"SCHEDULER_ENABLED": False, "ADMIN_BOOTSTRAP": False})
    options = SeedOptions(scale=args.scale, seed=args.seed, days=args.days,
                          past_days=args.past_days, reset=args.reset, append=args.append,
                          now=args.now, password=args.password or DEFAULT_PASSWORD)
    with app.app_context():
        upgrade()
        try:
            report = seed_database(options)
        except SeedRefused as exc:
            print(f"seed.py: {exc}", file=sys.stderr)
            return 2
        usernames = login_examples(report.password_hash)
    print(f"Seeded ({options.scale}, seed {options.seed}) in {report.seconds:.1f}s:")
    for table, count in report.counts.items():
        print(f"  {table:<14} {count:>10,}")
    if report.kept_admins:
        print(f"  kept {report.kept_admins} admin account(s)")
    print(f"Every seeded user's password: {report.password}")
    print(f"Its hash (shared by all of them): {report.password_hash}")
    if usernames:
        print(f"Log in as any seeded user, e.g. {', '.join(usernames)} "
              f"(password: {report.password})")
    return 0


if __name__ == "__main__":
    devenv.ensure_venv()
    sys.exit(main())
