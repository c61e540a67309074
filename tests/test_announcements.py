"""Announcements between processes: a write counted before its answer is seen by the next
request of every other process, with no wait (two Announcements objects on one Redis stand for
two processes)."""
from __future__ import annotations

import uuid

import pytest

from app.database.announcements import Announcements
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
