"""Account uniqueness under real concurrency: one username (in any case) and one phone number
per account, held by unique indexes however many sign-ups arrive at once."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from tests.api.test_booking_concurrency import http, run_together


def signup(base: str, username: str, phone: str):
    return lambda: http(base, "POST", "/users/register", body={
        "username": username, "phone_number": phone, "password": "password123"})


def test_twenty_sign_ups_of_one_name_in_any_case_make_one_account(live_server, committing_db):
    names = ["Wang" + "Fang" if i % 2 else "wangFANG" for i in range(20)]
    replies = run_together([signup(live_server, name, f"1370000{i:04d}")
                            for i, name in enumerate(names)])
    assert Counter(r.status for r in replies) == {201: 1, 409: 19}, [r.body for r in replies]
    assert {r.code for r in replies if r.status == 409} == {"duplicate_username"}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User).where(
        func.lower(User.username) == "wangfang")) == 1


def test_twenty_sign_ups_with_one_phone_number_make_one_account(live_server, committing_db):
    replies = run_together([signup(live_server, f"family{i}", "13711112222") for i in range(20)])
    assert Counter(r.status for r in replies) == {201: 1, 409: 19}, [r.body for r in replies]
    assert {r.code for r in replies if r.status == 409} == {"duplicate_phone_number"}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User).where(
        User.phone_number == "13711112222")) == 1
