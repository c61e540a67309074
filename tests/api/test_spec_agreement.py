"""The Swagger spec states the rules the server applies (what .ci/fuzz relies on)."""
from __future__ import annotations

import re

import pytest

from app.schemas.doctors import DOCTOR_CREATE
from app.schemas.schedules import SCHEDULE_CREATE
from app.schemas.users import LOGIN, USER_CREATE
from tests.assertions import assert_error

# --- input patterns: the documented pattern accepts exactly what validation accepts -----------

CASES = [
    ("phone", USER_CREATE["phone_number"], [
        "12345", " 12345 ", "+86 (10) 6552-8000", "1234 ", "     ", " 1234", "\x1f12345",
        "12345\n", "1" * 20, "1" * 21, " " + "1" * 20 + " ", "1   5", "１２３４５", "12a45",
    ]),
    ("username", USER_CREATE["username"], [
        "abc", " abc ", "ab", "a b c", "zhang.san-1", "\u3000abc", "abc\x1c", "a" * 64,
        "a" * 65, "abc!",
    ]),
    ("email", DOCTOR_CREATE["email"], [
        "li@hospital.example", " li@hospital.example\t", "li@hospital", "li @hospital.example",
        "li@-hospital.example",
    ]),
    ("doctor-name", DOCTOR_CREATE["name"], [
        "李", " 李 ", "", " ", "\x1f", "\x85", "\u3000", "\ufeff", "a b",
    ]),
    ("login-username", LOGIN["username"], ["x", "\t", "\x1d\x1e", " x "]),
    ("time", SCHEDULE_CREATE["start_time"], [
        "08:00", "08:00:30", " 08:00 ", "24:00", "23:59:59", "23:60", "8:00", "٠٨:٠٠",
        "08:00:60", "08-00",
    ]),
]


def accepted(spec_field, value: str) -> bool:
    try:
        spec_field.clean(value)
    except ValueError:
        return False
    return True


def documented(spec_field, value: str, flags: int) -> bool:
    schema = spec_field.restx_field().__schema__
    pattern = schema.get("pattern")
    if pattern and pattern.endswith("$"):  # JSON Schema's $ is the end of the string
        pattern = pattern[:-1] + r"\Z"
    if pattern and not re.search(pattern, value, flags):
        return False
    return schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))


@pytest.mark.parametrize("flags", [0, re.ASCII], ids=["unicode-re", "ascii-re"])
@pytest.mark.parametrize("name,spec_field,values", CASES, ids=[c[0] for c in CASES])
def test_documented_pattern_matches_validation(name, spec_field, values, flags):
    for value in values:
        assert documented(spec_field, value, flags) == accepted(spec_field, value), (name, value)


# --- search bodies take JSON types; null means the default ---------------------------------

@pytest.mark.parametrize("extra,field", [
    ({"page": "2"}, "page"), ({"per_page": "5"}, "per_page"), ({"page": ""}, "page"),
    ({"reverse": 1}, "reverse"), ({"reverse": "true"}, "reverse"), ({"sort": ""}, "sort"),
    ({"page": 1_000_000_001}, "page"), ({"page": 10**40}, "page"),
], ids=["page-text", "per-page-text", "page-empty", "reverse-int", "reverse-text", "sort-empty",
        "page-over-max", "page-huge"])
def test_search_body_wrong_types_are_400(client, admin_headers, extra, field):
    r = client.post("/departments/search", json={"query": "x", **extra}, headers=admin_headers)
    assert_error(r, 400, "validation_error")
    assert field in r.json["errors"]


def test_search_body_null_means_default(client, factory, admin_headers):
    factory.department("x-ray")
    r = client.post("/departments/search", headers=admin_headers, json={
        "query": "x", "page": None, "per_page": None, "sort": None, "reverse": None})
    assert r.status_code == 200
    assert (r.json["page"], r.json["per_page"], r.json["count"]) == (1, 10, 1)


@pytest.mark.parametrize("query,status", [
    ("page=", 200), ("page=1000000000", 200), ("page=1000000001", 400),
    ("page=99999999999999999999", 400), ("per_page=&sort=&reverse=", 200),
], ids=["page-empty", "page-max", "page-over-max", "page-huge", "all-empty"])
def test_query_list_params_bounds(client, admin_headers, query, status):
    r = client.get(f"/departments/?{query}", headers=admin_headers)
    assert r.status_code == status
    if status == 200:
        assert r.json["per_page"] == 10


# --- the spec documents what the server does -----------------------------------------------

@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/swagger.json").json


@pytest.mark.parametrize("model,field", [
    ("User", "bio"), ("User", "doctor_id"), ("Doctor", "description"),
    ("Department", "description"), ("Registration", "notes"), ("RegistrationStats", "date_from"),
    ("RegistrationStats", "date_to"), ("UserUpdate", "bio"), ("RegistrationCreate", "notes"),
])
def test_nullable_fields_say_so(spec, model, field):
    assert spec["definitions"][model]["properties"][field].get("x-nullable") is True


def test_list_params_document_bounds_and_empty_values(spec):
    params = {p["name"]: p for p in spec["paths"]["/departments/"]["get"]["parameters"]}
    assert (params["page"]["minimum"], params["page"]["maximum"]) == (1, 1_000_000_000)
    assert (params["per_page"]["minimum"], params["per_page"]["maximum"]) == (1, 100)
    assert all(params[name]["allowEmptyValue"] for name in ("page", "per_page", "sort",
                                                            "reverse"))


def test_put_me_documents_no_doctor_link(spec):
    body = next(p for p in spec["paths"]["/users/me"]["put"]["parameters"] if p["in"] == "body")
    model = body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "doctor_id" not in spec["definitions"][model]["properties"]


def test_status_path_parameter_is_an_enum(spec):
    params = spec["paths"]["/registrations/status/{status}"]["parameters"]
    assert set(params[0]["enum"]) == {"scheduled", "checked_in", "completed", "cancelled",
                                      "no_show"}


def test_every_operation_documents_503_and_every_get_its_etag(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            assert "503" in op["responses"], (method, path)
            if method == "get":
                assert "304" in op["responses"], path
                assert "ETag" in op["responses"]["200"]["headers"], path
                names = [p["name"] for p in op["parameters"]]
                assert names.count("If-None-Match") == 1, path


def test_if_none_match_star_is_a_304(client, admin_headers):
    r = client.get("/departments/", headers={**admin_headers, "If-None-Match": "*"})
    assert r.status_code == 304
    assert r.data == b""
