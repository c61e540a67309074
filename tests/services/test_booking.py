"""Booking rules without HTTP: the clock, the status machine and idempotency keys."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.identity.actor import Actor
from app.models import IdempotencyKey, Registration, Schedule
from app.schemas.registrations import registration_to_dict
from app.services import booking, idempotency, registration_status


def actor_for(user) -> Actor:
    return Actor(id=user.id, is_admin=user.is_admin)


@pytest.fixture()
def patient(factory, owner):
    return factory.patient(owner)


def book(actor, patient, schedule, **kwargs):
    return booking.book_registration(actor, patient_id=patient.id, schedule_id=schedule.id,
                                     render=registration_to_dict, **kwargs)


def freeze(monkeypatch, moment: dt.datetime) -> None:
    """Make the hospital clock read `moment` (naive hospital wall-clock time)."""
    monkeypatch.setattr(booking, "hospital_now", lambda: moment)


START = dt.datetime(2030, 5, 20, 9, 0)


@pytest.fixture()
def nine_oclock(factory):
    return factory.schedule(date=START.date(), start=START.time(), end=dt.time(11, 0))


@pytest.mark.parametrize("now,started", [
    (START - dt.timedelta(seconds=1), False),
    (START, True),
    (START + dt.timedelta(hours=3), True),
    (START - dt.timedelta(days=1), False),
], ids=["one-second-before", "at-the-start", "during", "day-before"])
def test_schedule_started(monkeypatch, nine_oclock, now, started):
    freeze(monkeypatch, now)
    assert booking.schedule_started(nine_oclock) is started


def test_started_is_judged_in_the_hospital_timezone(app, factory, monkeypatch):
    """A schedule at the current UTC wall-clock time has started in UTC+14, not in UTC-11."""
    utc_now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    start = (utc_now + dt.timedelta(minutes=30)).replace(second=0)
    end = min(dt.datetime.combine(start.date(), dt.time(23, 59)), start + dt.timedelta(hours=1))
    if end <= start:
        pytest.skip("too close to midnight UTC for a one-date schedule")
    schedule = factory.schedule(date=start.date(), start=start.time(), end=end.time())
    monkeypatch.setitem(app.config, "HOSPITAL_TIMEZONE", "Pacific/Kiritimati")
    assert booking.schedule_started(schedule) is True
    monkeypatch.setitem(app.config, "HOSPITAL_TIMEZONE", "Pacific/Pago_Pago")
    assert booking.schedule_started(schedule) is False
    assert dt.datetime.now(ZoneInfo("Pacific/Pago_Pago")).date() <= start.date()


def test_booking_just_before_and_at_the_start(monkeypatch, owner, patient, nine_oclock):
    freeze(monkeypatch, START)
    with pytest.raises(Conflict) as info:
        book(actor_for(owner), patient, nine_oclock)
    assert info.value.code == "schedule_started"
    freeze(monkeypatch, START - dt.timedelta(seconds=1))
    outcome = book(actor_for(owner), patient, nine_oclock)
    assert outcome.status == 201 and not outcome.replayed
    assert outcome.body["queue_number"] == 1


def test_owner_cancel_boundary(monkeypatch, factory, owner, patient, nine_oclock):
    reg = factory.registration(patient, nine_oclock)
    freeze(monkeypatch, START)
    with pytest.raises(Conflict) as info:
        registration_status.cancel_registration(actor_for(owner), reg.id)
    assert info.value.code == "schedule_started"
    freeze(monkeypatch, START - dt.timedelta(seconds=1))
    assert registration_status.cancel_registration(actor_for(owner), reg.id).status == \
        "cancelled"


def test_booking_returns_the_rendered_registration(owner, patient, factory):
    schedule = factory.schedule()
    outcome = book(actor_for(owner), patient, schedule, notes="n")
    stored = db.session.get(Registration, outcome.body["id"])
    assert outcome.body == registration_to_dict(stored)
    assert outcome.body["notes"] == "n"


def test_booking_someone_elses_patient(factory, patient):
    stranger = factory.user()
    with pytest.raises(NotFound) as info:
        book(actor_for(stranger), patient, factory.schedule())
    assert info.value.code == "patient_not_found"


def test_only_admins_make_non_cancel_status_changes(factory, owner, patient):
    reg = factory.registration(patient, factory.schedule())
    with pytest.raises(Forbidden):
        registration_status.complete_registration(actor_for(owner), reg.id)
    # An owner's status is ignored like any read-only field.
    registration_status.update_registration(actor_for(owner), reg.id, {"status": "no_show"})
    assert db.session.get(Registration, reg.id).status == "scheduled"


# The status machine as the README (Roles, Decisions) and the contract describe it: an admin
# cancels, completes or marks no_show a scheduled registration and reinstates a cancelled one,
# at any time; completed and no_show are final. The schedule's doctor may only ask for
# completed or no_show (once the schedule has started); anyone else's status is ignored like
# any read-only field. Asking for the current status is no change.
STATUSES = ("scheduled", "cancelled", "completed", "no_show")
ADMIN_MOVES = {("scheduled", "cancelled"), ("scheduled", "completed"), ("scheduled", "no_show"),
               ("cancelled", "scheduled")}
HOLDS_A_SLOT = {"scheduled", "completed"}
REFUSALS = {"invalid_status_transition": Conflict, "status_not_allowed": Forbidden}
PAIRS = [(old, new) for old in STATUSES for new in STATUSES]


def documented_outcome(role: str, old: str, new: str) -> tuple[str, str | None]:
    """(the status afterwards, the error code or None) when `role` asks for old -> new."""
    if old == new or role == "owner":
        return old, None
    if role == "doctor" and new not in ("completed", "no_show"):
        return old, "status_not_allowed"
    if (old, new) in ADMIN_MOVES:
        return new, None
    return old, "invalid_status_transition"


@pytest.mark.parametrize("role", ["admin", "doctor", "owner"])
@pytest.mark.parametrize("old,new", PAIRS, ids=[f"{o}-to-{n}" for o, n in PAIRS])
def test_transition_table_is_closed(factory, owner, patient, role, old, new):
    """Every (from, to) pair asked through the service ends as the documented rules say."""
    doctor = factory.doctor()
    started = factory.schedule(doctor, date=dt.date.today() - dt.timedelta(days=1),
                               max_appointments=2)  # so the doctor's clock rule is met
    reg = factory.registration(patient, started, status=old)
    actor = {"admin": Actor(id=factory.admin().id, is_admin=True),
             "doctor": Actor(id=factory.user().id, is_admin=False, doctor_id=doctor.id),
             "owner": actor_for(owner)}[role]
    status, code = documented_outcome(role, old, new)
    if code is None:
        registration_status.update_registration(actor, reg.id, {"status": new})
    else:
        with pytest.raises(REFUSALS[code]) as info:
            registration_status.update_registration(actor, reg.id, {"status": new})
        assert info.value.code == code
    db.session.expire_all()
    assert db.session.get(Registration, reg.id).status == status
    assert db.session.get(Schedule, started.id).booked_count == (status in HOLDS_A_SLOT)


def test_deleting_a_patient_frees_its_slots(factory, owner, patient):
    from app.services.patients import delete_patient

    schedules = [factory.schedule(max_appointments=1) for _ in range(2)]
    for schedule in schedules:
        factory.registration(patient, schedule)
    delete_patient(actor_for(owner), patient.id)
    db.session.expire_all()
    assert [db.session.get(Schedule, s.id).booked_count for s in schedules] == [0, 0]


# --- idempotency ----------------------------------------------------------------------------

def test_fingerprint_is_stable_and_sensitive():
    a = idempotency.fingerprint("op", {"x": 1, "y": None})
    assert a == idempotency.fingerprint("op", {"y": None, "x": 1})
    assert a != idempotency.fingerprint("op", {"x": 2, "y": None})
    assert a != idempotency.fingerprint("other", {"x": 1, "y": None})
    assert len(a) == 64


def test_claim_store_and_replay(owner):
    assert idempotency.claim_key(owner.id, "k", "h1") is None
    idempotency.store_response(owner.id, "k", 201, {"id": 5})
    db.session.commit()
    stored = idempotency.claim_key(owner.id, "k", "h1")
    assert stored == idempotency.StoredResponse(status=201, body={"id": 5})
    with pytest.raises(Conflict) as info:
        idempotency.claim_key(owner.id, "k", "h2")
    assert info.value.code == "idempotency_key_reused"


def test_a_claimed_key_without_a_response_is_in_progress(owner):
    assert idempotency.claim_key(owner.id, "k", "h") is None
    db.session.commit()
    with pytest.raises(Conflict) as info:
        idempotency.claim_key(owner.id, "k", "h")
    assert info.value.code == "idempotency_key_in_progress"


def test_replayed_booking_does_not_book_again(owner, patient, factory):
    schedule = factory.schedule()
    first = book(actor_for(owner), patient, schedule, idempotency_key="key")
    again = book(actor_for(owner), patient, schedule, idempotency_key="key")
    assert again.replayed and again.body == first.body and again.status == 201
    count = db.session.scalar(select(func.count()).select_from(Registration))
    assert count == 1


def test_purge_expired_keys(owner):
    for key in ("old", "new"):
        idempotency.claim_key(owner.id, key, "h")
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "old").values(
        created_at=func.now() - dt.timedelta(hours=25)))
    assert idempotency.purge_expired_keys() == 1
    assert db.session.scalars(select(IdempotencyKey.key)).all() == ["new"]
