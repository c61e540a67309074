"""/users/{id}/patients[/search] and /users/{id}/registrations[/search]."""
from __future__ import annotations

import pytest

from app.identity.callers import caller_cache
from tests.assertions import assert_error
from tests.sqlcount import count_statements


@pytest.fixture()
def alice(factory):
    return factory.user()


@pytest.fixture()
def alice_headers(factory, alice):
    return factory.headers(alice)


@pytest.fixture()
def bob(factory):
    return factory.user()


@pytest.fixture()
def family(factory, alice, bob):
    """Alice has three patients with registrations; Bob has one."""
    dept = factory.department(name="Cardiology")
    doctor = factory.doctor(name="Dr. Zhou")
    heart = factory.schedule(doctor, dept, max_appointments=10)
    other = factory.schedule(max_appointments=10)
    mum = factory.patient(alice, name="Mum Chen", phone_number="13511112222")
    son = factory.patient(alice, name="Son Chen", phone_number="13511113333")
    factory.patient(alice, name="Grandpa", phone_number="13599990000")
    bobs = factory.patient(bob, name="Bob Chen", phone_number="13511114444")
    return {
        "mum_heart": factory.registration(mum, heart, notes="chest pain"),
        "son_other": factory.registration(son, other, status="cancelled"),
        "bob_heart": factory.registration(bobs, heart),
    }


def paths(user_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", f"/users/{user_id}/patients", None),
        ("post", f"/users/{user_id}/patients/search", {"query": "chen"}),
        ("get", f"/users/{user_id}/registrations", None),
        ("post", f"/users/{user_id}/registrations/search", {"query": "chen"}),
    ]


PATH_IDS = ["patients", "patients-search", "registrations", "registrations-search"]


def call(client, method, path, body, headers=None):
    return getattr(client, method)(path, json=body, headers=headers or {})


def test_user_lists_own_patients(client, alice, alice_headers, family):
    r = client.get(f"/users/{alice.id}/patients?sort=name", headers=alice_headers)
    assert r.status_code == 200, r.json
    assert r.json["count"] == 3
    assert [p["name"] for p in r.json["results"]] == ["Grandpa", "Mum Chen", "Son Chen"]
    assert {p["user_id"] for p in r.json["results"]} == {alice.id}


def test_user_searches_own_patients(client, alice, alice_headers, family):
    r = client.post(f"/users/{alice.id}/patients/search", headers=alice_headers,
                    json={"query": "chen"})
    assert r.status_code == 200
    assert {p["name"] for p in r.json["results"]} == {"Mum Chen", "Son Chen"}
    r = client.post(f"/users/{alice.id}/patients/search", headers=alice_headers,
                    json={"query": "9999"})
    assert [p["name"] for p in r.json["results"]] == ["Grandpa"]


def test_user_lists_own_registrations(client, alice, alice_headers, family):
    r = client.get(f"/users/{alice.id}/registrations?sort=status", headers=alice_headers)
    assert r.status_code == 200
    assert r.json["count"] == 2
    assert [x["id"] for x in r.json["results"]] == [family["son_other"].id,
                                                    family["mum_heart"].id]


@pytest.mark.parametrize("query,expected", [
    ("zhou", {"mum_heart"}),
    ("CARDIO", {"mum_heart"}),
    ("chest", {"mum_heart"}),
    ("chen", {"mum_heart", "son_other"}),
    ("cancelled", {"son_other"}),
    ("bob", set()),
], ids=["doctor", "department", "notes", "patient", "status", "other-users-patient"])
def test_user_searches_own_registrations(client, alice, alice_headers, family, query,
                                         expected):
    r = client.post(f"/users/{alice.id}/registrations/search", headers=alice_headers,
                    json={"query": query})
    assert r.status_code == 200, r.json
    assert {x["id"] for x in r.json["results"]} == {family[k].id for k in expected}


@pytest.mark.parametrize("method,suffix,body", [
    ("get", "patients", None), ("post", "patients/search", {"query": "chen"}),
    ("get", "registrations", None), ("post", "registrations/search", {"query": "chen"}),
], ids=PATH_IDS)
def test_admin_sees_any_users_lists(client, bob, admin_headers, family, method, suffix, body):
    r = call(client, method, f"/users/{bob.id}/{suffix}", body, admin_headers)
    assert r.status_code == 200, r.json
    assert r.json["count"] == 1


@pytest.mark.parametrize("index", range(4), ids=PATH_IDS)
def test_another_user_gets_403(client, bob, alice_headers, family, index):
    method, path, body = paths(bob.id)[index]
    r = call(client, method, path, body, alice_headers)
    assert_error(r, 403, "not_self")


@pytest.mark.parametrize("index", range(4), ids=PATH_IDS)
def test_unknown_user_is_404(client, alice_headers, admin_headers, index):
    method, path, body = paths(2**31 - 1)[index]
    for headers in (alice_headers, admin_headers):
        r = call(client, method, path, body, headers)
        assert_error(r, 404, "user_not_found")


@pytest.mark.parametrize("index", range(4), ids=PATH_IDS)
def test_lists_need_a_token(client, alice, index):
    method, path, body = paths(alice.id)[index]
    assert_error(call(client, method, path, body), 401, "invalid_token")


@pytest.mark.parametrize("suffix", ["patients?sort=phone_number", "registrations?per_page=0"],
                         ids=["patients-bad-sort", "registrations-bad-per-page"])
def test_list_params_are_validated(client, alice, alice_headers, suffix):
    r = client.get(f"/users/{alice.id}/{suffix}", headers=alice_headers)
    assert_error(r, 400, "validation_error")


@pytest.mark.parametrize("suffix", ["patients/search", "registrations/search"])
def test_search_needs_a_query(client, alice, alice_headers, suffix):
    r = client.post(f"/users/{alice.id}/{suffix}", headers=alice_headers, json={})
    assert_error(r, 400, "validation_error")
    assert "query" in r.json["errors"]


@pytest.mark.parametrize("index", range(4), ids=PATH_IDS)
def test_lists_are_a_constant_number_of_statements(client, alice, alice_headers, family, index):
    method, path, body = paths(alice.id)[index]
    counts = []
    for per_page in (1, 100):
        caller_cache().clear()  # count the caller lookup every time
        if body is None:
            with count_statements() as log:
                r = call(client, method, f"{path}?per_page={per_page}", None, alice_headers)
        else:
            with count_statements() as log:
                r = call(client, method, path, {**body, "per_page": per_page}, alice_headers)
        assert r.status_code == 200
        counts.append(log.count)
    assert counts[0] == counts[1] <= 3, counts
