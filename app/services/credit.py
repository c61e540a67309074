"""No-show credit (爽约): how many missed visits count against a person, and pardons.

The rule is the database function person_no_show_credit (migration 0007), which the
booking function asks too, so the answer here and a booking's refusal always agree.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, text, update

from app.extensions import db
from app.identity.actor import Actor
from app.models import CreditPardon, Patient, Person, Registration
from app.services.common import commit
from app.services.patients import get_patient
from app.services.policy import get_policy
from app.services.schedule_rules import hospital_today

CREDIT = text("SELECT no_shows, suspended_until FROM person_no_show_credit(:person, :today)")


@dataclass(frozen=True)
class Credit:
    """A person's standing: counted no-shows, the policy's limit and window, the suspension."""

    no_shows: int
    limit: int
    window_days: int
    suspended_until: dt.date | None


def credit_of(person_id: int) -> Credit:
    """The person's credit today (hospital time)."""
    no_shows, until = db.session.execute(
        CREDIT, {"person": person_id, "today": hospital_today()}).one()
    policy = get_policy()
    return Credit(no_shows, policy.no_show_limit, policy.no_show_window_days, until)


def patient_credit(actor: Actor, patient_id: int) -> Credit:
    """The credit of the person a patient is (owner or admin)."""
    return credit_of(get_patient(actor, patient_id).person_id)


def pardon(actor: Actor, patient_id: int, reason: str) -> Credit:
    """Stop every no-show of the person so far from counting (they stay no_show)."""
    patient = get_patient(actor, patient_id)
    # The person row's lock orders this against the person's bookings.
    db.session.execute(select(Person.id).where(Person.id == patient.person_id)
                       .with_for_update(key_share=True))
    pardoned = db.session.execute(
        update(Registration)
        .where(Registration.patient_id.in_(
            select(Patient.id).where(Patient.person_id == patient.person_id)),
            Registration.status == "no_show", Registration.no_show_pardoned.is_(False))
        .values(no_show_pardoned=True)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Its event (credit.pardoned, written by the database) names the patient asked for.
    db.session.execute(text("SELECT set_config('hospital.patient_id', :patient_id, true)"),
                       {"patient_id": str(patient.id)})
    db.session.add(CreditPardon(person_id=patient.person_id, pardoned_by=actor.id,
                                reason=reason, no_shows=pardoned))
    commit()
    return credit_of(patient.person_id)
