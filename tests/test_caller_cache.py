"""The per-process cache of callers' rows: what it keeps, and what drops entries from it."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text, update

from app.extensions import db
from app.identity.callers import ALL, CallerCache, caller_cache
from app.models import User
from tests.sqlcount import count_statements

# --- the cache itself -----------------------------------------------------------------------

def test_an_entry_is_kept_for_its_lifetime_only(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("app.identity.callers.time.monotonic", lambda: clock[0])
    cache = CallerCache(ttl=2)
    cache.put(1, "row", cache.epoch())
    assert cache.get(1) == "row"
    clock[0] = 101.9
    assert cache.get(1) == "row"
    clock[0] = 102.1
    assert cache.get(1) is None


def test_a_row_read_during_an_invalidation_is_not_kept():
    cache = CallerCache(ttl=60)
    epoch = cache.epoch()  # a request starts reading user 1 ...
    cache.invalidate({1})  # ... while a change to user 1 commits
    cache.put(1, "old row", epoch)
    assert cache.get(1) is None
    cache.put(1, "new row", cache.epoch())
    assert cache.get(1) == "new row"


def test_invalidate_some_or_all():
    cache = CallerCache(ttl=60)
    for user_id in (1, 2, 3):
        cache.put(user_id, f"row {user_id}", cache.epoch())
    cache.invalidate([2])
    assert [cache.get(i) for i in (1, 2, 3)] == ["row 1", None, "row 3"]
    cache.invalidate(ALL)
    assert [cache.get(i) for i in (1, 2, 3)] == [None, None, None]


def test_size_is_bounded_oldest_first():
    cache = CallerCache(ttl=60, size=3)
    for user_id in range(1, 6):
        cache.put(user_id, user_id, cache.epoch())
    assert [cache.get(i) for i in range(1, 6)] == [None, None, 3, 4, 5]


def test_a_zero_lifetime_keeps_nothing():
    cache = CallerCache(ttl=0)
    assert not cache.enabled
    cache.put(1, "row", cache.epoch())
    assert cache.get(1) is None


def test_concurrent_puts_and_invalidations_do_not_break_it():
    cache = CallerCache(ttl=60, size=50)
    errors = []

    def writer(offset):
        try:
            for i in range(2000):
                cache.put(offset + i % 100, i, cache.epoch())
                if i % 7 == 0:
                    cache.invalidate({offset + i % 100})
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache._entries) <= 50


# --- in the service -------------------------------------------------------------------------

def lookups(log) -> int:
    return sum(1 for s in log.statements if s.startswith("SELECT id, is_admin, doctor_id"))


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
    assert caller_cache().get(user.id) is not None
    assert client.post("/users/logout", headers=headers).status_code == 204
    r = client.get("/users/me", headers=headers)
    assert r.status_code == 401


def test_losing_admin_rights_takes_effect_at_once_with_a_warm_cache(client, factory):
    boss, other = factory.admin(), factory.admin()
    other_headers = factory.headers(other)
    assert client.get("/users/", headers=other_headers).status_code == 200
    boss.is_admin = True
    other.is_admin = False
    db.session.commit()
    assert client.get("/users/", headers=other_headers).status_code == 403


def test_a_flushed_change_drops_the_row_before_the_commit(client, factory):
    user = factory.user()
    headers = factory.headers(user)
    assert client.get("/users/me", headers=headers).status_code == 200
    user.token_version += 1
    db.session.flush()
    assert caller_cache().get(user.id) is None


def test_a_bulk_update_of_users_drops_every_row(client, factory):
    user = factory.user()
    assert client.get("/users/me", headers=factory.headers(user)).status_code == 200
    db.session.execute(update(User).where(User.id == user.id).values(token_version=5))
    assert caller_cache().get(user.id) is None


def test_textual_writes_drop_every_row(client, factory):
    user = factory.user()
    assert client.get("/users/me", headers=factory.headers(user)).status_code == 200
    db.session.execute(text("UPDATE users SET bio = 'x' WHERE id = :id"), {"id": user.id})
    assert caller_cache().get(user.id) is None


def test_deleting_a_doctor_drops_every_row(client, factory):
    doctor = factory.doctor()
    user = factory.user()
    user.doctor_id = doctor.id
    db.session.commit()
    assert client.get("/users/me", headers=factory.headers(user)).status_code == 200
    assert caller_cache().get(user.id).doctor_id == doctor.id
    db.session.delete(doctor)
    db.session.flush()
    assert caller_cache().get(user.id) is None


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
