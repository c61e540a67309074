"""GET /users/ and POST /users/search: the list envelope, parameters, ordering and search."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.assertions import assert_error

ENVELOPE = {"results", "more", "count", "page", "per_page"}



@pytest.fixture()
def admin(factory):
    return factory.admin(username="boss")  # listed among the users the tests create


def make_users(factory, names):
    return [factory.user(username=name) for name in names]


def all_ids(client, headers, **params) -> list[int]:
    """Walk every page of GET /users/ and return the ids in order."""
    ids: list[int] = []
    page = 1
    while True:
        r = client.get("/users/", headers=headers, query_string=dict(params, page=page))
        assert r.status_code == 200, r.json
        ids += [u["id"] for u in r.json["results"]]
        if not r.json["more"]:
            return ids
        page += 1


# --- GET /users/ ----------------------------------------------------------------------------

def test_list_envelope_and_defaults(client, factory, admin_headers):
    make_users(factory, [f"member{i:02d}" for i in range(11)])
    r = client.get("/users/", headers=admin_headers)
    assert r.status_code == 200, r.json
    assert set(r.json) == ENVELOPE
    assert (r.json["count"], r.json["page"], r.json["per_page"], r.json["more"]) == (
        12, 1, 10, True)
    assert len(r.json["results"]) == 10
    ids = [u["id"] for u in r.json["results"]]
    assert ids == sorted(ids)
    assert "password" not in r.get_data(as_text=True)


def test_list_pages(client, factory, admin_headers):
    make_users(factory, [f"member{i:02d}" for i in range(11)])
    r = client.get("/users/?page=3&per_page=5", headers=admin_headers)
    assert r.status_code == 200, r.json
    assert (r.json["count"], r.json["page"], r.json["per_page"], r.json["more"]) == (
        12, 3, 5, False)
    assert len(r.json["results"]) == 2
    second = client.get("/users/?page=2&per_page=5", headers=admin_headers).json
    assert second["more"] is True
    assert len(second["results"]) == 5
    assert second["results"][-1]["id"] < r.json["results"][0]["id"]


def test_page_past_the_end_is_empty(client, factory, admin_headers):
    make_users(factory, ["one1", "two2"])
    r = client.get("/users/?page=50&per_page=10", headers=admin_headers)
    assert r.status_code == 200, r.json
    assert r.json == {"results": [], "more": False, "count": 3, "page": 50, "per_page": 10}


def test_per_page_limits_are_inclusive(client, factory, admin_headers):
    for per_page in (1, 100):
        r = client.get(f"/users/?per_page={per_page}", headers=admin_headers)
        assert r.status_code == 200, r.json
        assert r.json["per_page"] == per_page


@pytest.mark.parametrize("query, field", [
    ("per_page=0", "per_page"),
    ("per_page=101", "per_page"),
    ("per_page=-1", "per_page"),
    ("per_page=ten", "per_page"),
    ("per_page=1.5", "per_page"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("page=--5", "page"),
    ("page=%C2%B2", "page"),
    ("page=%D9%A3", "page"),
    ("sort=password_hash", "sort"),
    ("sort=phone_number", "sort"),
    ("sort=bogus", "sort"),
    ("reverse=maybe", "reverse"),
    ("reverse=2", "reverse"),
], ids=["per-page-0", "per-page-101", "per-page-negative", "per-page-word", "per-page-float",
        "page-0", "page-negative", "page-word", "page-double-minus", "page-superscript-two",
        "page-arabic-digit", "sort-password-hash", "sort-unsortable", "sort-bogus",
        "reverse-maybe", "reverse-2"])
def test_bad_list_parameters_are_400(client, admin_headers, query, field):
    err = assert_error(client.get(f"/users/?{query}", headers=admin_headers),
                       400, "validation_error")
    assert set(err["errors"]) == {field}


@pytest.mark.parametrize("word, descending", [("true", True), ("1", True), ("false", False),
                                              ("0", False), ("TRUE", True)])
def test_reverse_words(client, factory, admin_headers, word, descending):
    make_users(factory, ["aaa1", "bbb2"])
    r = client.get(f"/users/?reverse={word}", headers=admin_headers)
    assert r.status_code == 200, r.json
    ids = [u["id"] for u in r.json["results"]]
    assert ids == sorted(ids, reverse=descending)


def test_sort_by_username(client, factory, admin_headers):
    make_users(factory, ["delta", "alpha", "charlie", "bravo"])
    r = client.get("/users/?sort=username", headers=admin_headers)
    names = [u["username"] for u in r.json["results"]]
    assert names == ["alpha", "boss", "bravo", "charlie", "delta"]
    r = client.get("/users/?sort=username&reverse=true", headers=admin_headers)
    assert [u["username"] for u in r.json["results"]] == names[::-1]


@pytest.mark.parametrize("reverse", [False, True], ids=["ascending", "descending"])
def test_ties_are_broken_by_id_so_pages_never_repeat(client, factory, admin_headers,
                                                     db_session, reverse):
    make_users(factory, [f"tied{i}" for i in range(9)])
    # Every row gets the same created_at: the sort key alone would leave the order undefined.
    db_session.execute(text("UPDATE users SET created_at = '2026-01-01T00:00:00+00:00'"))
    db_session.commit()
    ids = all_ids(client, admin_headers, sort="created_at", per_page=2,
                  reverse=str(reverse).lower())
    assert len(ids) == 10
    assert ids == sorted(ids, reverse=reverse)


def test_sort_by_updated_at(client, factory, admin_headers):
    first, second = make_users(factory, ["first1", "second2"])
    # Touch the first user last.
    r = client.put(f"/users/{first.id}", headers=admin_headers, json={"bio": "touched"})
    assert r.status_code == 200
    r = client.get("/users/?sort=updated_at&reverse=1", headers=admin_headers)
    assert r.json["results"][0]["id"] == first.id


def test_list_with_and_without_trailing_slash(client, admin_headers):
    for path in ("/users", "/users/"):
        r = client.get(path, headers=admin_headers)
        assert r.status_code == 200, (path, r.status_code)
        assert set(r.json) == ENVELOPE


# --- POST /users/search ---------------------------------------------------------------------

def search(client, headers, **body):
    return client.post("/users/search", headers=headers, json=body)


def names_of(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [u["username"] for u in response.json["results"]]


def test_search_username_case_insensitive_substring(client, factory, admin_headers):
    make_users(factory, ["Alice", "malice", "bob"])
    r = search(client, admin_headers, query="ALI")
    assert set(r.json) == ENVELOPE
    assert names_of(r) == ["Alice", "malice"]
    assert r.json["count"] == 2


def test_search_phone_number(client, factory, admin_headers):
    factory.user(username="phoned", phone_number="+86 138-0013-8000")
    factory.user(username="other", phone_number="13912345678")
    assert names_of(search(client, admin_headers, query="0013-8")) == ["phoned"]


def test_search_cjk(client, factory, admin_headers):
    make_users(factory, ["张三丰", "李四"])
    assert names_of(search(client, admin_headers, query="三")) == ["张三丰"]


@pytest.mark.parametrize("query, expected", [
    ("t_o", ["lit_one"]),
    ("%", []),
    ("_", ["lit_one"]),
    ("\\", []),
    ("lit%one", []),
], ids=["underscore-in-middle", "percent-alone", "underscore-alone", "backslash",
        "percent-in-middle"])
def test_search_matches_like_wildcards_literally(client, factory, admin_headers, query,
                                                 expected):
    make_users(factory, ["lit_one", "litxone", "littone"])
    assert names_of(search(client, admin_headers, query=query)) == expected


def test_search_pages_and_sorts(client, factory, admin_headers):
    make_users(factory, [f"match{i}" for i in range(5)] + ["nomatch"])
    r = search(client, admin_headers, query="match", per_page=2, page=2, sort="username",
               reverse=True)
    assert r.status_code == 200, r.json
    assert (r.json["count"], r.json["page"], r.json["per_page"], r.json["more"]) == (
        6, 2, 2, True)
    assert names_of(r) == ["match3", "match2"]


def test_search_past_the_end(client, factory, admin_headers):
    make_users(factory, ["match1"])
    r = search(client, admin_headers, query="match", page=3)
    assert r.json == {"results": [], "more": False, "count": 1, "page": 3, "per_page": 10}


@pytest.mark.parametrize("body, field", [
    ({}, "query"),
    ({"query": ""}, "query"),
    ({"query": "   "}, "query"),
    ({"query": 5}, "query"),
    ({"query": None}, "query"),
    ({"query": "x" * 201}, "query"),
    ({"query": "a", "per_page": 0}, "per_page"),
    ({"query": "a", "per_page": 101}, "per_page"),
    ({"query": "a", "page": 0}, "page"),
    ({"query": "a", "page": True}, "page"),
    ({"query": "a", "sort": "password_hash"}, "sort"),
    ({"query": "a", "sort": 3}, "sort"),
    ({"query": "a", "reverse": "maybe"}, "reverse"),
], ids=["missing", "empty", "blank", "int", "null", "too-long", "per-page-0", "per-page-101",
        "page-0", "page-bool", "sort-password-hash", "sort-int", "reverse-maybe"])
def test_search_body_validation(client, admin_headers, body, field):
    err = assert_error(search(client, admin_headers, **body), 400, "validation_error")
    assert set(err["errors"]) == {field}


def test_search_needs_a_json_object(client, admin_headers):
    assert_error(client.post("/users/search", headers=admin_headers), 400, "invalid_json")
    assert_error(client.post("/users/search", headers=admin_headers, json=["a"]),
                 400, "invalid_json")
