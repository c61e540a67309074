"""The doctor role without HTTP: what an Actor with a doctor_id may see and do."""
from __future__ import annotations

import datetime as dt

import pytest

from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.identity.actor import Actor
from app.models import User
from app.services import registration_status, registrations, users
from app.services.common import commit
from app.services.patients import get_patient

YESTERDAY = dt.date.today() - dt.timedelta(days=1)


@pytest.fixture()
def setup(factory):
    doctor, other = factory.doctor(), factory.doctor()
    owner = factory.user()
    patient = factory.patient(owner)
    reg = factory.registration(patient, factory.schedule(doctor, date=YESTERDAY))
    return {"doctor": doctor, "other": other, "owner": owner, "patient": patient, "reg": reg}


def test_the_actors_doctor_id_is_what_counts(setup):
    """Services take plain values: an Actor naming the doctor is enough, no token, no row."""
    as_doctor = Actor(id=10**6, is_admin=False, doctor_id=setup["doctor"].id)
    as_other = Actor(id=10**6, is_admin=False, doctor_id=setup["other"].id)
    access = registrations.registration_access(as_doctor, setup["reg"].id)
    assert (access.owner, access.doctor) == (False, True)
    assert get_patient(as_doctor, setup["patient"].id, for_reading=True).id == setup["patient"].id
    with pytest.raises(NotFound):
        registrations.registration_access(as_other, setup["reg"].id)
    with pytest.raises(NotFound):
        get_patient(as_other, setup["patient"].id, for_reading=True)


def test_capacities_of_owner_admin_and_doctor(setup, factory):
    owner = Actor(id=setup["owner"].id, is_admin=False)
    owner_and_doctor = Actor(id=setup["owner"].id, is_admin=False, doctor_id=setup["doctor"].id)
    admin = Actor(id=factory.admin().id, is_admin=True)
    reg_id = setup["reg"].id
    assert (registrations.registration_access(owner, reg_id).owner,
            registrations.registration_access(owner, reg_id).doctor) == (True, False)
    both = registrations.registration_access(owner_and_doctor, reg_id)
    assert (both.owner, both.doctor) == (True, True)
    as_admin = registrations.registration_access(admin, reg_id)
    assert (as_admin.owner, as_admin.doctor) == (False, False)


def test_a_doctor_changes_a_patient_it_treats_only_with_403(setup):
    as_doctor = Actor(id=10**6, is_admin=False, doctor_id=setup["doctor"].id)
    with pytest.raises(Forbidden) as info:
        get_patient(as_doctor, setup["patient"].id)
    assert info.value.code == "owner_required"


def test_doctor_status_changes(setup):
    as_doctor = Actor(id=10**6, is_admin=False, doctor_id=setup["doctor"].id)
    with pytest.raises(Forbidden):
        registration_status.cancel_registration(as_doctor, setup["reg"].id)
    with pytest.raises(Forbidden):
        registration_status.update_registration(as_doctor, setup["reg"].id,
                                                {"status": "cancelled"})
    db.session.rollback()
    done = registration_status.update_registration(as_doctor, setup["reg"].id,
                                                   {"status": "no_show"})
    assert done.status == "no_show"


def test_link_checks(factory, setup):
    user = factory.user()
    with pytest.raises(NotFound) as info:
        users.update_user(user.id, {"doctor_id": 2**31 - 1})
    assert info.value.code == "doctor_not_found"
    users.update_user(user.id, {"doctor_id": setup["doctor"].id})
    with pytest.raises(Conflict) as info:
        users.update_user(factory.user().id, {"doctor_id": setup["doctor"].id})
    assert info.value.code == "doctor_already_linked"


def test_the_unique_constraint_answers_a_race(factory, setup):
    """Two writers that both passed the check: the database keeps one link per doctor."""
    first, second = factory.user(), factory.user()
    first.doctor_id = setup["doctor"].id
    commit()
    second.doctor_id = setup["doctor"].id
    with pytest.raises(Conflict) as info:
        commit()
    assert info.value.code == "doctor_already_linked"
    assert info.value.errors == {"doctor_id": "Doctor is linked to another account"}
    assert db.session.get(User, second.id).doctor_id is None
