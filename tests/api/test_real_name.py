"""Real-name patients (实名制): resident ID numbers, their masking and privacy."""
from __future__ import annotations

import datetime as dt
import logging

import pytest

from app.services.id_numbers import make_number
from tests.assertions import assert_error

BIRTHDAY = dt.date(2018, 5, 1)
BOY = make_number("440305", BIRTHDAY, 123)  # 17th digit odd: male
GIRL = make_number("440305", BIRTHDAY, 124)


def new_patient(client, headers, **fields):
    body = {"name": fields.pop("name", "张小明"), "gender": "male",
            "birthday": BIRTHDAY.isoformat(), "phone_number": "138 0013 8000", **fields}
    return client.post("/patients/", headers=headers, json=body)


def set_policy(client, headers, **changes):
    r = client.put("/settings/booking", headers=headers, json=changes)
    assert r.status_code == 200, r.json


def test_a_patient_with_an_id_number_shows_only_its_mask(client, owner_headers):
    r = new_patient(client, owner_headers, id_number=BOY)
    assert r.status_code == 201, r.json
    assert r.json["id_number_masked"] == BOY[:6] + "********" + BOY[-4:]
    assert BOY not in r.get_data(as_text=True)
    shown = client.get(f"/patients/{r.json['id']}", headers=owner_headers)
    assert shown.json["id_number_masked"] == r.json["id_number_masked"]
    assert "id_number" not in shown.json
    assert BOY not in shown.get_data(as_text=True)


def test_a_lower_case_x_is_shown_upper_case(client, owner_headers):
    born = dt.date(1949, 12, 31)
    r = new_patient(client, owner_headers, id_number="11010519491231002x", gender="female",
                    birthday=born.isoformat())
    assert r.status_code == 201, r.json
    assert r.json["id_number_masked"] == "110105********002X"


def test_without_a_number_the_mask_is_null(client, owner_headers):
    r = new_patient(client, owner_headers)
    assert (r.status_code, r.json["id_number_masked"]) == (201, None)


@pytest.mark.parametrize(("number", "extra", "problem"), [
    (BOY[:17], {}, "must be 18 characters: 17 digits and a digit or X"),
    (BOY[:17] + ("0" if BOY[17] != "0" else "1"), {}, "has a wrong check character"),
    (BOY, {"birthday": "2018-05-02"}, "does not match the birthday"),
    (BOY, {"gender": "female"}, "does not match the gender"),
    (GIRL, {}, "does not match the gender"),
])
def test_a_wrong_number_is_a_400_that_never_repeats_it(client, owner_headers, caplog, number,
                                                       extra, problem):
    with caplog.at_level(logging.DEBUG):
        r = new_patient(client, owner_headers, id_number=number, **extra)
    body = assert_error(r, 400, "validation_error")
    assert body["errors"] == {"id_number": problem}
    assert number not in r.get_data(as_text=True)
    assert number not in caplog.text


def test_no_log_line_holds_a_number(client, owner_headers, caplog):
    with caplog.at_level(logging.DEBUG):
        pid = new_patient(client, owner_headers, id_number=BOY).json["id"]
        client.put(f"/patients/{pid}", headers=owner_headers, json={"id_number": BOY})
        new_patient(client, owner_headers, name="twin", id_number=BOY)  # 409
    assert BOY not in caplog.text


def test_one_account_holds_a_number_once(client, owner_headers, user_headers):
    assert new_patient(client, owner_headers, id_number=BOY).status_code == 201
    body = assert_error(new_patient(client, owner_headers, name="again", id_number=BOY), 409,
                        "duplicate_id_number")
    assert "id_number" in body["errors"]
    # Another account may add the same person (a relative's account).
    assert new_patient(client, user_headers, id_number=BOY).status_code == 201


def test_the_number_is_checked_again_when_birthday_or_gender_change(client, owner_headers):
    pid = new_patient(client, owner_headers, id_number=BOY).json["id"]
    body = assert_error(client.put(f"/patients/{pid}", headers=owner_headers,
                                   json={"birthday": "2018-05-02"}), 400, "validation_error")
    assert set(body["errors"]) == {"id_number"}
    other = make_number("440305", dt.date(2018, 5, 2), 123)
    r = client.put(f"/patients/{pid}", headers=owner_headers,
                   json={"birthday": "2018-05-02", "id_number": other})
    assert r.status_code == 200, r.json
    assert r.json["id_number_masked"] == other[:6] + "********" + other[-4:]
    # A whole object sent back (with the mask, unchanged values) changes nothing.
    again = client.put(f"/patients/{pid}", headers=owner_headers, json=r.json)
    assert (again.status_code, again.json["id_number_masked"]) == (200,
                                                                   r.json["id_number_masked"])


def test_the_number_can_be_replaced_but_not_removed(client, owner_headers):
    pid = new_patient(client, owner_headers, id_number=BOY).json["id"]
    body = assert_error(client.put(f"/patients/{pid}", headers=owner_headers,
                                   json={"id_number": None}), 400, "validation_error")
    assert body["errors"] == {"id_number": "can be replaced but not removed"}
    assert client.get(f"/patients/{pid}", headers=owner_headers).json["id_number_masked"]
    # A patient without a number may send null back (a whole object): nothing changes.
    bare = new_patient(client, owner_headers, name="无号").json["id"]
    r = client.put(f"/patients/{bare}", headers=owner_headers, json={"id_number": None})
    assert (r.status_code, r.json["id_number_masked"]) == (200, None)


def test_require_id_number_refuses_patients_and_bookings_without_one(
        client, admin_headers, owner_headers, factory, owner):
    bare = factory.patient(owner)
    schedule = factory.schedule()
    set_policy(client, admin_headers, require_id_number=True)
    body = assert_error(new_patient(client, owner_headers), 400, "validation_error")
    assert body["errors"] == {"id_number": "is required"}
    assert_error(client.post("/registrations/", headers=owner_headers,
                             json={"patient_id": bare.id, "schedule_id": schedule.id}), 409,
                 "id_number_required")
    # Admins too: the rule is not one the registration counter is exempt from.
    assert_error(client.post("/registrations/", headers=admin_headers,
                             json={"patient_id": bare.id, "schedule_id": schedule.id}), 409,
                 "id_number_required")
    pid = new_patient(client, owner_headers, name="实名", id_number=BOY).json["id"]
    r = client.post("/registrations/", headers=owner_headers,
                    json={"patient_id": pid, "schedule_id": schedule.id})
    assert r.status_code == 201, r.json


def test_the_database_keeps_no_number(client, owner_headers, db_session):
    from sqlalchemy import text
    new_patient(client, owner_headers, id_number=BOY)
    dump = " ".join(str(row) for row in db_session.execute(text(
        "SELECT p.*, pe.* FROM patients p JOIN persons pe ON pe.id = p.person_id")))
    assert BOY not in dump and BOY[6:14] + BOY[14:17] not in dump
