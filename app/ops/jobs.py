"""Periodic jobs: the no-show sweep, run once per period across every process and host.

Every process that starts the scheduler fires the job each NO_SHOW_INTERVAL_MINUTES; the first
one to insert the (job_name, period_start) row into job_runs does the work in the same
transaction, the others find the row taken and do nothing. A crash before the commit leaves
no claim behind, so another process can still take the period.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from zoneinfo import ZoneInfo

import click
from flask import Flask
from flask.helpers import get_debug_flag
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from werkzeug.serving import is_running_from_reloader

from app.config import ConfigError
from app.extensions import db
from app.models import JobRun, Registration, Schedule
from app.services.common import lock_schedules_of
from app.services.idempotency import purge_expired_keys
from app.services.sessions import purge_expired_refresh_tokens
from app.services.waitlist import expire_started

log = logging.getLogger(__name__)

NO_SHOW_JOB = "no_show"
FIRE_OFFSET = dt.timedelta(seconds=5)
JOB_STATEMENT_TIMEOUT = "10min"


def period_start(now: dt.datetime, minutes: int) -> dt.datetime:
    """The start of the interval of `minutes` that contains `now` (UTC, floored)."""
    seconds = minutes * 60
    floored = int(now.timestamp()) // seconds * seconds
    return dt.datetime.fromtimestamp(floored, dt.UTC)


def worker_name() -> str:
    """hostname:pid of this process, recorded with each claim."""
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def claim_period(job_name: str, start: dt.datetime) -> bool:
    """Insert this period's job_runs row; False when another process already holds it."""
    stmt = (insert(JobRun)
            .values(job_name=job_name, period_start=start, claimed_by=worker_name())
            .on_conflict_do_nothing(index_elements=[JobRun.job_name, JobRun.period_start])
            .returning(JobRun.job_name))
    return db.session.execute(stmt).first() is not None


def mark_no_shows(now: dt.datetime, grace_minutes: int, tz: ZoneInfo) -> int:
    """scheduled -> no_show for schedules that ended more than grace_minutes before now."""
    # Compare in the hospital's wall-clock time, where schedules live: an index on
    # schedules.date can then narrow the scan to past dates.
    cutoff = (now - dt.timedelta(minutes=grace_minutes)).astimezone(tz).replace(tzinfo=None)
    ended = select(Schedule.id).where(Schedule.date <= cutoff.date(),
                                      Schedule.date + Schedule.end_time < cutoff)
    # Same lock order as bookings and cancellations: schedules first, then registrations.
    lock_schedules_of(Registration.schedule_id.in_(ended))
    stmt = (update(Registration)
            .where(Registration.schedule_id == Schedule.id,
                   Registration.status == "scheduled",
                   Schedule.date <= cutoff.date(),
                   Schedule.date + Schedule.end_time < cutoff)
            .values(status="no_show", updated_at=func.now())
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount


def run_no_show_job(app: Flask, now: dt.datetime | None = None) -> int | None:
    """Mark overdue registrations no_show; None when this period was already claimed."""
    now = now or dt.datetime.now(dt.UTC)
    with app.app_context():
        config = app.config
        start = period_start(now, config["NO_SHOW_INTERVAL_MINUTES"])
        try:
            # A backlog (say, after the job was switched off for weeks) may take longer than
            # the API's statement timeout; it must not fail every period because of it.
            db.session.execute(text(f"SET LOCAL statement_timeout = '{JOB_STATEMENT_TIMEOUT}'"))
            if not claim_period(NO_SHOW_JOB, start):
                db.session.rollback()
                log.debug("no-show job: period %s already claimed", start.isoformat())
                return None
            changed = mark_no_shows(now, config["NO_SHOW_GRACE_MINUTES"],
                                    ZoneInfo(config["HOSPITAL_TIMEZONE"]))
            # Housekeeping that also needs doing once per period: replayable booking
            # responses are kept 24 hours; expired refresh tokens can no longer be used.
            zone = ZoneInfo(config["HOSPITAL_TIMEZONE"])
            expired = expire_started(now.astimezone(zone).replace(tzinfo=None))
            purged = purge_expired_keys()
            purged_tokens = purge_expired_refresh_tokens()
            db.session.execute(update(JobRun)
                               .where(JobRun.job_name == NO_SHOW_JOB,
                                      JobRun.period_start == start)
                               .values(affected_rows=changed))
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    log.info("no-show job: marked %d registrations no_show; expired %d waitlist entries of "
             "started schedules; purged %d idempotency keys and %d expired refresh tokens",
             changed, expired, purged, purged_tokens)
    return changed


def _reloader_parent(app: Flask) -> bool:
    """True in the Werkzeug reloader's watcher process, which never serves requests."""
    return (app.debug or get_debug_flag()) and not is_running_from_reloader()


# The Flask CLI command that serves requests; every other one (`db upgrade`, `create-admin`,
# `shell`, `seed` ...) is a short task that must not run jobs meanwhile: a no-show sweep
# firing during a long migration would work on a half-changed schema.
SERVING_COMMAND = "run"


def _cli_task() -> str | None:
    """The Flask CLI command building this app, unless it serves (None: not under the CLI,
    as under waitress-serve, run.py or the tests, or `flask run`)."""
    context = click.get_current_context(silent=True)
    if context is None or context.info_name == SERVING_COMMAND:
        return None
    return context.command_path


def init_jobs(app: Flask):
    """Register the jobs when SCHEDULER_ENABLED; start them in a process that serves (not
    under TESTING, in a reloader's watcher or for a Flask CLI command other than `run`).

    Returns the Flask-APScheduler object (None when the scheduler is disabled).
    """
    if not app.config.get("SCHEDULER_ENABLED"):
        return None
    from apscheduler.schedulers.background import BackgroundScheduler
    from flask_apscheduler import APScheduler

    minutes = app.config["NO_SHOW_INTERVAL_MINUTES"]
    if minutes < 1:
        raise ConfigError("NO_SHOW_INTERVAL_MINUTES must be at least 1")
    scheduler = APScheduler(scheduler=BackgroundScheduler(timezone="UTC"))
    scheduler.init_app(app)
    scheduler.add_job(
        id=NO_SHOW_JOB,
        func=run_no_show_job,
        args=[app],
        trigger="interval",
        minutes=minutes,
        # Fire just after each period boundary in every process, so that all of them compete
        # for the same period (a few seconds of clock skew between hosts do not matter).
        start_date=period_start(dt.datetime.now(dt.UTC), minutes) + FIRE_OFFSET,
        max_instances=1,
        coalesce=True,
        replace_existing=True,
    )
    if app.config.get("WEBHOOK_URL"):
        from app.ops.webhooks import WEBHOOK_JOB, run_webhook_job

        seconds = app.config["WEBHOOK_INTERVAL_SECONDS"]
        if seconds <= 0:
            raise ConfigError("WEBHOOK_INTERVAL_SECONDS must be above 0")
        scheduler.add_job(id=WEBHOOK_JOB, func=run_webhook_job, args=[app],
                          trigger="interval", seconds=seconds, max_instances=1,
                          coalesce=True, replace_existing=True)
    if app.testing or _reloader_parent(app):
        return scheduler
    task = _cli_task()
    if task is not None:
        log.debug("Scheduler not started for `%s`", task)
        return scheduler
    scheduler.start()
    webhooks = (f", webhooks every {app.config['WEBHOOK_INTERVAL_SECONDS']:g} seconds"
                if app.config.get("WEBHOOK_URL") else "")
    log.info("Scheduler started: no-show job every %d minutes%s", minutes, webhooks)
    return scheduler
