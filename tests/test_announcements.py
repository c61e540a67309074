"""Announcements between processes: a write counted before its answer is seen by the next
request of every other process, with no wait (two Announcements objects on one Redis stand for
two processes)."""
from __future__ import annotations

import uuid

import pytest

from app.database.announcements import Announcements
from app.database.generations import Generations
from tests.test_two_processes import REDIS_URL, redis_reachable

pytestmark = pytest.mark.skipif(not redis_reachable(), reason=f"Redis not reachable at {REDIS_URL}")
SCOPES = ("catalogue", "slots", "callers")


def deployment() -> tuple[Announcements, Announcements]:
    config = {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
              "REDIS_RETRY_SECONDS": 5, "REDIS_TIMEOUT_SECONDS": 0.25}
    return Announcements(config), Announcements(config)


def heard(announcements: Announcements) -> set[str]:
    noted: set[str] = set()
    announcements.heard(SCOPES, noted.update)
    return noted


def test_the_first_reading_assumes_everything_changed_then_only_what_was_counted():
    writer, reader = deployment()
    assert heard(reader) == set(SCOPES)
    assert heard(reader) == set()
    writer.publish(("slots",))
    assert heard(reader) == {"slots"}
    assert heard(reader) == set()


def test_every_counted_write_is_seen_by_the_very_next_reading():
    # With pub/sub messages some of these were missed: a message reaches the subscriber's
    # socket after the publisher's reply, and nothing here waits for it.
    writer, reader = deployment()
    heard(reader)
    missed = 0
    for i in range(300):
        scope = SCOPES[i % 3]
        writer.publish((scope,))
        if heard(reader) != {scope}:
            missed += 1
    assert missed == 0


def test_a_request_reads_the_counters_once_and_the_next_request_again(app, db_session,
                                                                       monkeypatch):
    # The caller lookup and the cache both consult the generations: one HGETALL serves
    # both, and a write counted by another process before the next request starts is seen
    # by that request.
    writer, announcements = deployment()
    generations = Generations(3600.0, announcements)
    reads = []
    real = announcements.client.hgetall
    monkeypatch.setattr(announcements.client, "hgetall",
                        lambda key: reads.append(key) or real(key))
    with app.test_request_context("/schedules/"):
        generations.current(("callers",))
        generations.current(("catalogue", "slots"))
        assert generations.settled("slots")
    assert len(reads) == 1
    writer.publish(("slots",))
    with app.test_request_context("/schedules/"):
        generations.current(("callers",))
        assert not generations.settled("slots")  # heard: the counters are read afresh
        generations.current(("catalogue", "slots"))
        assert generations.settled("slots")
    assert len(reads) == 2
    with app.app_context():  # outside a request (a job): every call reads
        generations.current()
        generations.current()
    assert len(reads) == 4
