"""The per-process cache of callers' rows, and the database generations that invalidate it."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text, update

from app.database.generations import Generations, generations
from app.extensions import db
from app.identity.callers import CallerCache, caller_cache
from app.models import User
from tests.assertions import assert_error
from tests.sqlcount import count_statements

# --- the cache itself -----------------------------------------------------------------------

def test_an_entry_is_kept_for_its_lifetime_only(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("app.identity.callers.time.monotonic", lambda: clock[0])
    cache = CallerCache(ttl=2)
    cache.put(1, "row", generation=7)
    assert cache.get(1, 7) == "row"
    clock[0] = 101.9
    assert cache.get(1, 7) == "row"
    clock[0] = 102.1
    assert cache.get(1, 7) is None


def test_an_entry_is_only_used_under_the_generation_it_was_read_in():
    cache = CallerCache(ttl=60)
    cache.put(1, "row", generation=7)
    assert cache.get(1, 8) is None
    assert cache.get(1, 7) == "row"


def test_size_is_bounded_oldest_first():
    cache = CallerCache(ttl=60, size=3)
    for user_id in range(1, 6):
        cache.put(user_id, user_id, 0)
    assert [cache.get(i, 0) for i in range(1, 6)] == [None, None, 3, 4, 5]


def test_a_zero_lifetime_keeps_nothing():
    cache = CallerCache(ttl=0)
    assert not cache.enabled
    cache.put(1, "row", 0)
    assert cache.get(1, 0) is None


def test_concurrent_puts_do_not_break_it():
    cache = CallerCache(ttl=60, size=50)
    errors = []

    def writer(offset):
        try:
            for i in range(2000):
                cache.put(offset + i % 100, i, i % 3)
                cache.get(offset + i % 100, i % 3)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache._entries) <= 50


# --- the generations' schedule ----------------------------------------------------------------

class FakeReads:
    def __init__(self):
        self.count = 0
        self.value = 1

    def __call__(self, statement, params):
        self.count += 1
        return (42, self.value, self.value, self.value)


@pytest.fixture()
def fake_reads(monkeypatch):
    reads = FakeReads()
    clock = [1000.0]
    monkeypatch.setattr("app.database.generations.run_alone", reads)
    monkeypatch.setattr("app.database.generations.time.monotonic", lambda: clock[0])
    return reads, clock


def test_generations_are_read_at_most_once_per_interval(fake_reads):
    reads, clock = fake_reads
    gens = Generations(interval=1.0)
    assert gens.current()["catalogue"] == 1
    reads.value = 2
    clock[0] += 0.5
    assert gens.current()["catalogue"] == 1 and reads.count == 1
    clock[0] += 0.6
    assert gens.current()["catalogue"] == 2 and reads.count == 2


def test_a_write_served_here_makes_the_next_reading_due_at_once(fake_reads):
    reads, _clock = fake_reads
    gens = Generations(interval=60.0)
    gens.current()
    reads.value = 5
    gens.note_write()
    assert gens.current()["slots"] == 5 and reads.count == 2
    assert gens.current()["slots"] == 5 and reads.count == 2


def test_a_write_is_due_only_for_the_scopes_it_changed(fake_reads):
    reads, _clock = fake_reads
    gens = Generations(interval=60.0)
    gens.current()
    gens.note_write(("slots",))  # a booking
    assert gens.current(("callers",)) is not None and reads.count == 1
    gens.current(("catalogue", "slots"))
    assert reads.count == 2


def test_unreadable_generations_turn_the_caches_off(fake_reads, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def fail(statement, params):
        raise OperationalError("SELECT", {}, Exception("down"))

    monkeypatch.setattr("app.database.generations.run_alone", fail)
    assert Generations(interval=1.0).current() is None


# --- in the service -------------------------------------------------------------------------

def lookups(log) -> int:
    return sum(1 for s in log.statements if s.startswith("SELECT id, is_admin, doctor_id"))


def callers_generation() -> int:
    return generations().current()["callers"]


def test_a_second_request_does_not_read_the_callers_row_again(client, factory):
    user = factory.user()
    headers = factory.headers(user)
    with count_statements() as first:
        assert client.get("/departments/", headers=headers).status_code == 200
    with count_statements() as second:
        assert client.get("/departments/", headers=headers).status_code == 200
    assert lookups(first) == 1
    assert lookups(second) == 0


def test_logout_takes_effect_at_once_with_a_warm_cache(client, factory):
    user = factory.user()
    headers = factory.headers(user)
    assert client.get("/users/me", headers=headers).status_code == 200
    assert caller_cache().get(user.id, callers_generation()) is not None
    assert client.post("/users/logout", headers=headers).status_code == 204
    r = client.get("/users/me", headers=headers)
    assert_error(r, 401, "invalid_token")


def test_losing_admin_rights_takes_effect_at_once_with_a_warm_cache(client, factory):
    boss, other = factory.admin(), factory.admin()
    other_headers = factory.headers(other)
    assert client.get("/users/", headers=other_headers).status_code == 200
    boss.is_admin = True
    other.is_admin = False
    db.session.commit()
    assert_error(client.get("/users/", headers=other_headers), 403, "admin_required")


@pytest.mark.parametrize("how", ["orm", "bulk", "textual"])
def test_any_write_to_users_moves_the_callers_generation(client, factory, how):
    user = factory.user()
    headers = factory.headers(user)
    assert client.get("/users/me", headers=headers).status_code == 200
    before = callers_generation()
    if how == "orm":
        user.token_version += 1
        db.session.flush()
    elif how == "bulk":
        db.session.execute(update(User).where(User.id == user.id).values(token_version=5))
    else:
        db.session.execute(text("UPDATE users SET token_version = token_version + 1 "
                                "WHERE id = :id"), {"id": user.id})
    assert callers_generation() > before
    assert caller_cache().get(user.id, callers_generation()) is None
    with count_statements() as log:
        assert_error(client.get("/users/me", headers=headers), 401, "invalid_token")
    assert lookups(log) == 1


def test_deleting_a_doctor_moves_the_callers_generation(client, factory):
    doctor = factory.doctor()
    user = factory.user()
    user.doctor_id = doctor.id
    db.session.commit()
    headers = factory.headers(user)
    assert client.get("/users/me", headers=headers).get_json()["doctor_id"] == doctor.id
    before = callers_generation()
    db.session.delete(doctor)
    db.session.flush()
    assert callers_generation() > before
    assert client.get("/users/me", headers=headers).get_json()["doctor_id"] is None


@pytest.fixture()
def no_caller_cache(app):
    cache = caller_cache()
    ttl, cache.ttl = cache.ttl, 0
    yield
    cache.ttl = ttl


def test_a_zero_lifetime_reads_the_row_on_every_request(client, factory, no_caller_cache):
    headers = factory.headers(factory.user())
    for _ in range(2):
        with count_statements() as log:
            assert client.get("/departments/", headers=headers).status_code == 200
        assert lookups(log) == 1
