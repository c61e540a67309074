"""Schedule rules under real concurrency: two committing requests at the same instant."""
from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from typing import Any, NamedTuple

from app.services.schedule_rules import hospital_today
from tests.assertions import assert_error, wire_response


class Reply(NamedTuple):
    status: int
    body: Any
    headers: dict[str, str]


def _request(method: str, url: str, headers: dict[str, str], body: dict | None = None) -> Reply:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            raw = resp.read()
            return Reply(resp.status, json.loads(raw) if raw else None, dict(resp.headers))
    except urllib.error.HTTPError as err:
        return Reply(err.code, json.loads(err.read()), dict(err.headers))


def _race(calls):
    """Run the calls in threads released together by a barrier; return their results."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_overlapping_schedules_created_at_once(live_server, committing_db):
    factory = committing_db
    headers = factory.headers(factory.admin())
    doctor, department = factory.doctor(), factory.department()
    factory.affiliation(doctor, department)
    day = (hospital_today() + dt.timedelta(days=7)).isoformat()

    for attempt in range(5):
        start = 8 + attempt * 3  # a fresh pair of slots each round
        bodies = [
            {"doctor_id": doctor.id, "department_id": department.id, "date": day,
             "start_time": f"{start:02d}:00", "end_time": f"{start + 2:02d}:00",
             "max_appointments": 10},
            {"doctor_id": doctor.id, "department_id": department.id, "date": day,
             "start_time": f"{start + 1:02d}:00", "end_time": f"{start + 3:02d}:00",
             "max_appointments": 10},
        ]
        results = _race([
            lambda b=b: _request("POST", f"{live_server}/schedules/", headers, b)
            for b in bodies
        ])
        statuses = sorted(reply.status for reply in results)
        assert statuses == [201, 409], results
        loser = next(reply for reply in results if reply.status == 409)
        assert_error(wire_response(*loser), 409, "schedule_overlap")

    status, page, _ = _request(
        "GET", f"{live_server}/doctors/{doctor.id}/schedules?per_page=100", headers)
    assert status == 200
    assert page["count"] == 5


def test_affiliation_delete_races_schedule_create(live_server, committing_db):
    """Never both: a schedule in a department its doctor has just left."""
    factory = committing_db
    headers = factory.headers(factory.admin())
    doctor, department = factory.doctor(), factory.department()
    day = (hospital_today() + dt.timedelta(days=3)).isoformat()

    for attempt in range(4):
        factory.affiliation(doctor, department)
        body = {"doctor_id": doctor.id, "department_id": department.id, "date": day,
                "start_time": f"{8 + attempt * 2:02d}:00",
                "end_time": f"{9 + attempt * 2:02d}:00", "max_appointments": 5}
        create, delete = _race([
            lambda body=body: _request("POST", f"{live_server}/schedules/", headers, body),
            lambda: _request("DELETE",
                             f"{live_server}/affiliations/{doctor.id}/{department.id}",
                             headers),
        ])
        outcome = (create[0], delete[0])
        assert outcome in {(201, 409), (409, 204)}, (create, delete)
        if outcome == (201, 409):
            assert_error(wire_response(*delete), 409, "future_schedules")
            status = _request("DELETE", f"{live_server}/schedules/{create.body['id']}",
                              headers).status
            assert status == 204
            status = _request(
                "DELETE", f"{live_server}/affiliations/{doctor.id}/{department.id}",
                headers).status
            assert status == 204
        else:
            assert_error(wire_response(*create), 409, "not_affiliated")
