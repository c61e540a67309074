"""Idempotency-Key on POST /registrations/: retries get the first answer, never a 2nd booking."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import IdempotencyKey, Registration
from tests.assertions import assert_error


@pytest.fixture()
def patient(factory, owner):
    return factory.patient(owner)


@pytest.fixture()
def schedule(factory):
    return factory.schedule(max_appointments=5)


def book(client, headers, key, body):
    return client.post("/registrations/", json=body,
                       headers={**headers, "Idempotency-Key": key})


def registration_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Registration))


def test_same_key_same_body_replays_the_first_response(client, owner_headers, patient, schedule):
    body = {"patient_id": patient.id, "schedule_id": schedule.id, "notes": "retry me"}
    first = book(client, owner_headers, "abc-123", body)
    assert first.status_code == 201, first.json
    assert "Idempotent-Replayed" not in first.headers
    second = book(client, owner_headers, "abc-123", body)
    assert second.status_code == 201
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert registration_count() == 1


def test_replay_survives_later_changes(client, owner_headers, patient, schedule):
    body = {"patient_id": patient.id, "schedule_id": schedule.id}
    first = book(client, owner_headers, "k", body).json
    client.put(f"/registrations/{first['id']}/cancel", headers=owner_headers)
    again = book(client, owner_headers, "k", body)
    assert again.status_code == 201
    assert again.json == first  # the first response, not a new booking
    assert registration_count() == 1


def test_same_key_different_body_is_409(client, factory, owner, owner_headers, patient, schedule):
    book(client, owner_headers, "k1", {"patient_id": patient.id, "schedule_id": schedule.id})
    other = factory.patient(owner)
    r = book(client, owner_headers, "k1", {"patient_id": other.id, "schedule_id": schedule.id})
    assert_error(r, 409, "idempotency_key_reused")
    r = book(client, owner_headers, "k1", {"patient_id": patient.id,
                                           "schedule_id": schedule.id, "notes": "changed"})
    assert_error(r, 409, "idempotency_key_reused")
    assert registration_count() == 1


def test_keys_are_per_user(client, factory, owner_headers, patient, schedule):
    book(client, owner_headers, "shared", {"patient_id": patient.id, "schedule_id": schedule.id})
    someone = factory.user()
    their_patient = factory.patient(someone)
    r = book(client, factory.headers(someone), "shared",
             {"patient_id": their_patient.id, "schedule_id": schedule.id})
    assert r.status_code == 201
    assert r.json["patient_id"] == their_patient.id
    assert registration_count() == 2


def test_a_failed_attempt_does_not_use_up_the_key(client, factory, owner, owner_headers, patient):
    full = factory.schedule(max_appointments=1)
    factory.registration(factory.patient(owner), full)
    body = {"patient_id": patient.id, "schedule_id": full.id}
    r = book(client, owner_headers, "try", body)
    assert_error(r, 409, "schedule_full")
    open_schedule = factory.schedule()
    r = book(client, owner_headers, "try",
             {"patient_id": patient.id, "schedule_id": open_schedule.id})
    assert r.status_code == 201, r.json


def test_a_key_older_than_a_day_is_forgotten(client, owner, owner_headers, patient, schedule):
    body = {"patient_id": patient.id, "schedule_id": schedule.id}
    first = book(client, owner_headers, "old", body).json
    db.session.execute(update(IdempotencyKey).values(
        created_at=func.now() - func.make_interval(0, 0, 0, 0, 25)))
    db.session.commit()
    client.put(f"/registrations/{first['id']}/cancel", headers=owner_headers)
    again = book(client, owner_headers, "old", body)
    assert again.status_code == 201
    assert again.json["id"] != first["id"]
    assert registration_count() == 2


def test_a_key_a_day_old_is_still_honoured(client, owner_headers, patient, schedule):
    body = {"patient_id": patient.id, "schedule_id": schedule.id}
    first = book(client, owner_headers, "recent", body).json
    db.session.execute(update(IdempotencyKey).values(
        created_at=func.now() - func.make_interval(0, 0, 0, 0, 23)))
    db.session.commit()
    again = book(client, owner_headers, "recent", body)
    assert again.json == first


def test_without_a_key_a_retry_is_a_duplicate(client, owner_headers, patient, schedule):
    body = {"patient_id": patient.id, "schedule_id": schedule.id}
    assert client.post("/registrations/", json=body, headers=owner_headers).status_code == 201
    r = client.post("/registrations/", json=body, headers=owner_headers)
    assert_error(r, 409, "duplicate_registration")


@pytest.mark.parametrize("key", ["", "   ", "k" * 256], ids=["empty", "blank", "too-long"])
def test_invalid_keys_are_400(client, owner_headers, patient, schedule, key):
    r = book(client, owner_headers, key, {"patient_id": patient.id, "schedule_id": schedule.id})
    assert_error(r, 400, "invalid_idempotency_key")
    assert registration_count() == 0


def test_a_key_of_255_characters_is_fine(client, owner_headers, patient, schedule):
    r = book(client, owner_headers, "k" * 255,
             {"patient_id": patient.id, "schedule_id": schedule.id})
    assert r.status_code == 201, r.json


def test_a_key_does_not_skip_authentication(client, patient, schedule):
    r = client.post("/registrations/", json={"patient_id": patient.id,
                                             "schedule_id": schedule.id},
                    headers={"Idempotency-Key": "x"})
    assert_error(r, 401, "invalid_token")


# --- rate limit ---------------------------------------------------------------------------

@pytest.fixture()
def limited_client(test_database, app, committing_db, monkeypatch):
    """A client of an app with booking limited to 2 a minute, and a committed user's headers."""
    from app.web.ratelimit import limiter
    from tests.conftest import build_app

    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    headers = committing_db.headers(committing_db.user())
    limited = build_app(test_database, RATELIMIT_ENABLED=True, RATELIMIT_BOOKING="2 per minute")
    return limited.test_client(), headers


def test_booking_is_rate_limited_per_account(limited_client):
    client, headers = limited_client
    for _ in range(2):
        r = client.post("/registrations/", json={}, headers=headers)
        assert_error(r, 400, "validation_error")
    r = client.post("/registrations/", json={}, headers=headers)
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0
