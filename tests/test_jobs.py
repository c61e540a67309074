"""The no-show job: what it marks, its run-once claim across processes, its registration."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import IdempotencyKey, JobRun, Registration, Schedule
from app.ops.jobs import NO_SHOW_JOB, period_start, run_no_show_job

ROOT = Path(__file__).resolve().parent.parent
# 20:00 in Asia/Shanghai (the default HOSPITAL_TIMEZONE).
NOW = dt.datetime(2030, 3, 10, 12, 0, tzinfo=dt.UTC)
TODAY = dt.date(2030, 3, 10)


def t(hhmm: str) -> dt.time:
    return dt.time.fromisoformat(hhmm)


def build_world(factory, app):
    """Schedules that ended long ago, just past the grace period, within it, and tomorrow."""
    grace = app.config["NO_SHOW_GRACE_MINUTES"]
    just_over = (dt.datetime.combine(TODAY, t("20:00")) - dt.timedelta(minutes=grace + 1)).time()
    within = (dt.datetime.combine(TODAY, t("20:00")) - dt.timedelta(minutes=grace - 1)).time()
    past = factory.schedule(date=TODAY, start=t("08:00"), end=t("12:00"))
    over = factory.schedule(date=TODAY, start=t("14:00"), end=just_over)
    recent = factory.schedule(date=TODAY, start=t("14:00"), end=within)
    future = factory.schedule(date=TODAY + dt.timedelta(days=1), start=t("08:00"),
                              end=t("12:00"))
    owner = factory.user()
    p1, p2, p3 = (factory.patient(owner) for _ in range(3))
    regs = {
        "past_scheduled_1": factory.registration(p1, past),
        "past_scheduled_2": factory.registration(p2, past),
        "past_completed": factory.registration(p3, past, status="completed"),
        "past_cancelled": factory.registration(p3, past, status="cancelled"),
        "over_scheduled": factory.registration(p1, over),
        "recent_scheduled": factory.registration(p1, recent),
        "future_scheduled": factory.registration(p1, future),
        "future_cancelled": factory.registration(p2, future, status="cancelled"),
    }
    return {"schedules": {"past": past.id, "over": over.id, "recent": recent.id,
                          "future": future.id},
            "regs": {name: reg.id for name, reg in regs.items()}}


EXPECTED_AFTER = {
    "past_scheduled_1": "no_show",
    "past_scheduled_2": "no_show",
    "past_completed": "completed",
    "past_cancelled": "cancelled",
    "over_scheduled": "no_show",
    "recent_scheduled": "scheduled",
    "future_scheduled": "scheduled",
    "future_cancelled": "cancelled",
}


def statuses(world) -> dict[str, str]:
    db.session.expire_all()
    return {name: db.session.get(Registration, reg_id).status
            for name, reg_id in world["regs"].items()}


def booked(world) -> dict[str, int]:
    db.session.expire_all()
    return {name: db.session.get(Schedule, sid).booked_count
            for name, sid in world["schedules"].items()}


def test_marks_only_scheduled_registrations_past_end_plus_grace(app, factory):
    world = build_world(factory, app)
    assert booked(world) == {"past": 3, "over": 1, "recent": 1, "future": 1}

    assert run_no_show_job(app, now=NOW) == 3

    assert statuses(world) == EXPECTED_AFTER
    # The trigger released the slots of the no-shows.
    assert booked(world) == {"past": 1, "over": 0, "recent": 1, "future": 1}
    run = db.session.scalars(select(JobRun)).one()
    assert run.job_name == NO_SHOW_JOB
    assert run.period_start == period_start(NOW, app.config["NO_SHOW_INTERVAL_MINUTES"])
    assert run.period_start <= NOW
    assert run.affected_rows == 3
    assert run.claimed_by.endswith(f":{os.getpid()}")


def test_second_call_in_the_same_period_does_nothing(app, factory):
    world = build_world(factory, app)
    assert run_no_show_job(app, now=NOW) == 3
    # Another overdue booking appears within the same period: it waits for the next one.
    late = factory.registration(factory.patient(factory.user()),
                                db.session.get(Schedule, world["schedules"]["past"]))
    assert run_no_show_job(app, now=NOW + dt.timedelta(seconds=30)) is None
    db.session.expire_all()
    assert db.session.get(Registration, late.id).status == "scheduled"
    assert db.session.scalar(select(func.count()).select_from(JobRun)) == 1

    # The next period takes it, and the "recent" schedule is now past its grace period too.
    next_period = NOW + dt.timedelta(minutes=app.config["NO_SHOW_INTERVAL_MINUTES"])
    assert run_no_show_job(app, now=next_period) == 2
    db.session.expire_all()
    assert db.session.get(Registration, late.id).status == "no_show"
    assert statuses(world)["recent_scheduled"] == "no_show"
    assert db.session.scalar(select(func.count()).select_from(JobRun)) == 2


def test_nothing_overdue_still_claims_the_period(app, factory):
    factory.schedule(date=TODAY + dt.timedelta(days=2))
    assert run_no_show_job(app, now=NOW) == 0
    assert db.session.scalars(select(JobRun.affected_rows)).one() == 0


def test_the_run_purges_day_old_idempotency_keys(app, factory):
    user = factory.user()
    for key, age in (("old", dt.timedelta(hours=25)), ("fresh", dt.timedelta(hours=23))):
        db.session.add(IdempotencyKey(user_id=user.id, key=key, request_hash="x" * 64,
                                      status_code=201, response_body={},
                                      created_at=dt.datetime.now(dt.UTC) - age))
    db.session.commit()
    assert run_no_show_job(app, now=NOW) == 0
    assert db.session.scalars(select(IdempotencyKey.key)).all() == ["fresh"]


def test_period_start_floors_to_the_interval():
    now = dt.datetime(2030, 3, 10, 12, 37, 59, 999, tzinfo=dt.UTC)
    assert period_start(now, 10) == dt.datetime(2030, 3, 10, 12, 30, tzinfo=dt.UTC)
    assert period_start(now, 60) == dt.datetime(2030, 3, 10, 12, 0, tzinfo=dt.UTC)
    assert period_start(now.replace(minute=30, second=0, microsecond=0), 10) == \
        dt.datetime(2030, 3, 10, 12, 30, tzinfo=dt.UTC)


WORKER = textwrap.dedent("""
    import datetime as dt, json, sys
    from sqlalchemy import text
    from app import create_app
    from app.extensions import db
    from app.ops.jobs import run_no_show_job

    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": sys.argv[1]})
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # connect before the start signal
        db.session.remove()
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(run_no_show_job(app, now=dt.datetime.fromisoformat(sys.argv[2]))),
          flush=True)
""")


def test_only_one_of_several_processes_runs_a_period(app, committing_db, test_database):
    world = build_world(committing_db, app)
    env = {**os.environ, "APP_ENV": "testing", "HOSPITAL_NO_VENV": "1"}
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, test_database.url, NOW.isoformat()],
                         cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
        for worker in workers:  # start them together
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = [json.loads(worker.stdout.readline()) for worker in workers]
    finally:
        for worker in workers:
            worker.stdin.close()
            worker.wait(timeout=30)
    assert sorted(results, key=lambda r: r is not None) == [None, None, None, 3]
    assert statuses(world) == EXPECTED_AFTER
    assert booked(world) == {"past": 1, "over": 0, "recent": 1, "future": 1}
    runs = db.session.scalars(select(JobRun)).all()
    assert [(run.job_name, run.affected_rows) for run in runs] == [(NO_SHOW_JOB, 3)]
    worker_pids = {str(worker.pid) for worker in workers}
    assert runs[0].claimed_by.rsplit(":", 1)[1] in worker_pids


def make_app(test_database, **overrides):
    config = {"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": test_database.url}
    config.update(overrides)
    return create_app(config)


def test_init_jobs_registers_the_job_when_enabled(test_database):
    app = make_app(test_database, SCHEDULER_ENABLED=True, NO_SHOW_INTERVAL_MINUTES=7)
    job = app.apscheduler.get_job(NO_SHOW_JOB)
    assert job is not None
    assert job.trigger.interval == dt.timedelta(minutes=7)
    assert job.args == (app,)
    assert not app.apscheduler.running  # never started under TESTING


def test_init_jobs_does_nothing_when_disabled(test_database):
    app = make_app(test_database, SCHEDULER_ENABLED=False)
    assert not hasattr(app, "apscheduler")


@pytest.mark.parametrize("debug, run_main, started", [
    (False, None, True),
    (True, None, False),
    (True, "true", True),
], ids=["no-reloader", "reloader-parent", "reloader-child"])
def test_scheduler_starts_outside_tests_except_in_the_reloader_parent(
        test_database, monkeypatch, debug, run_main, started):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    if run_main:
        monkeypatch.setenv("WERKZEUG_RUN_MAIN", run_main)
    else:
        monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    # A daily interval: the job cannot fire during the few milliseconds the test runs.
    app = make_app(test_database, SCHEDULER_ENABLED=True, TESTING=False, DEBUG=debug,
                   NO_SHOW_INTERVAL_MINUTES=24 * 60)
    try:
        assert app.apscheduler.running is started
        assert app.apscheduler.get_job(NO_SHOW_JOB) is not None
    finally:
        if app.apscheduler.running:
            app.apscheduler.shutdown(wait=False)


def test_a_flask_cli_task_does_not_start_the_scheduler(test_database, monkeypatch):
    # `flask --app app db current` (as `db upgrade` would): FlaskGroup builds the app to find
    # the command; a migration must not run jobs meanwhile.
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    built = []

    def create():
        built.append(make_app(test_database, SCHEDULER_ENABLED=True, TESTING=False,
                              NO_SHOW_INTERVAL_MINUTES=24 * 60))
        return built[-1]

    result = CliRunner().invoke(FlaskGroup(create_app=create), ["db", "current"])
    assert result.exit_code == 0, result.output
    (app,) = built
    assert app.apscheduler.get_job(NO_SHOW_JOB) is not None
    assert not app.apscheduler.running


@pytest.mark.parametrize("command, started", [("run", True), ("shell", False)])
def test_flask_run_starts_the_scheduler_other_commands_do_not(test_database, monkeypatch,
                                                              command, started):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    with click.Context(click.Command(command), info_name=command):
        app = make_app(test_database, SCHEDULER_ENABLED=True, TESTING=False,
                       NO_SHOW_INTERVAL_MINUTES=24 * 60)
    try:
        assert app.apscheduler.running is started
    finally:
        if app.apscheduler.running:
            app.apscheduler.shutdown(wait=False)
