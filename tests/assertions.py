"""Assertions the API tests share."""
from __future__ import annotations

ERROR_KEYS = {"message", "code", "errors", "request_id"}


def assert_error(response, status: int, code: str) -> dict:
    """The response is the contract's error shape with this status and code."""
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= ERROR_KEYS, body
    return body
