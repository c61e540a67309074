"""The Swagger UI at / and the spec at /swagger.json."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

USERS_OPERATIONS = {
    ("post", "/users/register"), ("post", "/users/login"), ("post", "/users/refresh"),
    ("post", "/users/logout"), ("get", "/users/me"), ("put", "/users/me"),
    ("delete", "/users/me"), ("post", "/users/me/change_password"), ("get", "/users/"),
    ("post", "/users/"), ("post", "/users/search"), ("post", "/users/grant_admin"),
    ("post", "/users/revoke_admin"), ("get", "/users/{user_id}"), ("put", "/users/{user_id}"),
    ("delete", "/users/{user_id}"), ("post", "/users/{user_id}/change_password"),
    ("get", "/users/{user_id}/patients"), ("post", "/users/{user_id}/patients/search"),
    ("get", "/users/{user_id}/registrations"), ("post", "/users/{user_id}/registrations/search"),
}
PUBLIC = {("post", "/users/register"), ("post", "/users/login"), ("get", "/health")}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def spec(app):
    r = app.test_client().get("/swagger.json")
    assert r.status_code == 200
    return r.json


def operations(spec, prefix: str = "/"):
    for path, item in spec["paths"].items():
        if not path.startswith(prefix):
            continue
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield method, path, op


def test_swagger_ui_is_served_at_the_root(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    assert "swagger-ui" in r.get_data(as_text=True)


def test_swagger_ui_assets_are_local(client):
    html = client.get("/", base_url="http://api.internal").get_data(as_text=True)
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    urls = [m for tag in tags for m in re.findall(r'(?:src|href)="([^"]+)"', tag)]
    assert any(u.endswith(".js") for u in urls)
    assert any(u.endswith(".css") for u in urls)
    for url in urls:
        parts = urlsplit(url)
        assert parts.netloc in ("", "api.internal"), url
        assert not url.startswith("//"), url
        asset = client.get(parts.path)
        assert asset.status_code == 200, url


def test_spec_lists_every_users_operation(spec):
    found = {(m, p) for m, p, _ in operations(spec, "/users")}
    assert USERS_OPERATIONS <= found, USERS_OPERATIONS - found


def test_spec_has_a_bearer_security_definition(spec):
    bearer = spec["securityDefinitions"]["Bearer"]
    assert bearer["type"] == "apiKey"
    assert bearer["in"] == "header"
    assert bearer["name"] == "Authorization"
    assert spec["security"] == [{"Bearer": []}]


def test_public_operations_need_no_token_in_the_spec(spec):
    for method, path, op in operations(spec):
        if (method, path) in PUBLIC:
            assert op.get("security") == [], (method, path)
        else:
            assert op.get("security") in (None, [{"Bearer": []}]), (method, path)


def test_every_operation_documents_a_client_error(spec):
    missing = [(m, p) for m, p, op in operations(spec)
               if (m, p) not in PUBLIC - {("post", "/users/register"), ("post", "/users/login")}
               and not any(code.startswith("4") for code in op["responses"])]
    assert missing == []


def test_every_protected_operation_documents_401(spec):
    missing = [(m, p) for m, p, op in operations(spec)
               if (m, p) not in PUBLIC and "401" not in op["responses"]]
    assert missing == []


def test_users_operations_have_summaries_and_error_models(spec):
    for method, path, op in operations(spec, "/users"):
        assert op.get("summary"), (method, path)
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")):
                assert response["schema"]["$ref"] == "#/definitions/Error", (method, path, code)


def test_users_body_operations_document_their_input_and_413(spec):
    with_body = [(m, p, op) for m, p, op in operations(spec, "/users")
                 if any(param["in"] == "body" for param in op.get("parameters", []))]
    assert len(with_body) >= 10
    for method, path, op in with_body:
        assert "413" in op["responses"], (method, path)
        assert "400" in op["responses"], (method, path)


def test_users_responses_never_document_a_password(spec):
    for name in ("User", "LoginResult"):
        text = str(spec["definitions"][name])
        assert "password" not in text
    for name in ("UserCreate", "Login", "ChangePassword", "ChangeOwnPassword", "AdminChange"):
        assert name in spec["definitions"]


def test_list_operations_document_the_list_parameters(spec):
    op = spec["paths"]["/users/"]["get"]
    names = {param["name"] for param in op["parameters"]}
    assert {"page", "per_page", "sort", "reverse"} <= names
    sort = next(param for param in op["parameters"] if param["name"] == "sort")
    assert set(sort["enum"]) == {"id", "username", "created_at", "updated_at"}
