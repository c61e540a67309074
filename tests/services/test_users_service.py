"""Account rules without HTTP: hashing, uniqueness, last admin, token versions, search."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.errors import ApiError, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.extensions import db
from app.identity.actor import Actor
from app.models import User
from app.services import users as service
from app.web.pagination import ListParams
from tests.factories import PASSWORD


def actor(user: User) -> Actor:
    return Actor(id=user.id, is_admin=user.is_admin, doctor_id=user.doctor_id)


def test_create_user_stores_only_a_hash(app, db_session):
    user = service.create_user(username="hashy", phone_number="13500000001",
                               password="password123")
    assert user.password_hash != "password123"
    assert user.password_hash.startswith(app.config["PASSWORD_HASH_METHOD"].split(":")[0])
    assert user.is_admin is False
    assert user.token_version == 0
    assert user.created_at.tzinfo is not None


def test_hash_password_follows_the_configured_method(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "scrypt")
    assert service.hash_password("password123").startswith("scrypt:")


def test_each_user_gets_its_own_timestamp(db_session, factory):
    first = factory.user()
    second = factory.user()
    assert second.created_at > first.created_at


@pytest.mark.parametrize("existing, candidate", [
    ("alice", "ALICE"), ("Zoë", "zoË"), ("İlker", "ilker"), ("ÄRZTE", "ärzte"),
], ids=["ascii", "accent", "dotted-i", "umlaut"])
def test_usernames_are_unique_regardless_of_case(db_session, factory, existing, candidate):
    factory.user(username=existing)
    with pytest.raises(Conflict) as info:
        service.create_user(username=candidate, phone_number="13500000002",
                            password="password123")
    assert info.value.code == "duplicate_username"
    assert set(info.value.errors) == {"username"}


def test_duplicate_phone_number(db_session, factory):
    user = factory.user()
    with pytest.raises(Conflict) as info:
        service.create_user(username="fresh", phone_number=user.phone_number,
                            password="password123")
    assert info.value.code == "duplicate_phone_number"


def test_constraint_backs_the_precheck(db_session, factory, monkeypatch):
    factory.user(username="racer")
    monkeypatch.setattr(service, "_check_unique", lambda *args, **kwargs: None)
    with pytest.raises(Conflict) as info:
        service.create_user(username="Racer", phone_number="13500000003",
                            password="password123")
    assert info.value.code == "duplicate_username"
    assert info.value.errors == {"username": "Username is already taken"}
    # The session was rolled back and is usable.
    assert db_session.scalar(select(User).where(User.username == "racer")) is not None


def test_authenticate(db_session, factory):
    user = factory.user(username="Known")
    assert service.authenticate("known", PASSWORD).id == user.id
    assert service.authenticate("KNOWN", PASSWORD).id == user.id


@pytest.mark.parametrize("username, password", [("Known", "wrong-password"),
                                                ("unknown", PASSWORD)],
                         ids=["wrong-password", "unknown-user"])
def test_authenticate_failures_look_the_same(db_session, factory, username, password):
    factory.user(username="Known")
    with pytest.raises(Unauthorized) as info:
        service.authenticate(username, password)
    assert (info.value.code, info.value.message) == ("invalid_credentials",
                                                     "Invalid username or password")


def test_get_user_unknown(db_session):
    with pytest.raises(NotFound) as info:
        service.get_user(2147483647)
    assert info.value.code == "user_not_found"


def test_update_user_applies_only_known_fields(db_session, factory):
    user = factory.user()
    updated = service.update_user(user.id, {"bio": "b", "is_admin": True, "token_version": 7})
    assert (updated.bio, updated.is_admin, updated.token_version) == ("b", False, 0)


def test_change_password_bumps_the_token_version(db_session, factory):
    user = factory.user()
    admin = factory.admin()
    service.change_password(actor(admin), user.id, "changed-by-admin", None)
    assert user.token_version == 1
    assert service.authenticate(user.username, "changed-by-admin").id == user.id
    service.change_password(actor(user), user.id, "changed-by-self", "changed-by-admin")
    assert user.token_version == 2


def test_change_own_password_rules(db_session, factory):
    user = factory.user()
    with pytest.raises(ValidationFailed) as info:
        service.change_password(actor(user), user.id, "new-password", None)
    assert set(info.value.errors) == {"old_password"}
    with pytest.raises(ValidationFailed) as info:
        service.change_password(actor(user), user.id, "new-password", "wrong-password")
    assert info.value.code == "wrong_password"
    assert user.token_version == 0


def test_logout_bumps_the_token_version(db_session, factory):
    user = factory.user()
    service.logout(user.id)
    service.logout(user.id)
    db_session.refresh(user)
    assert user.token_version == 2


def test_last_admin_cannot_be_deleted_or_revoked(db_session, factory):
    admin = factory.admin()
    with pytest.raises(Conflict) as info:
        service.delete_user(admin.id)
    assert info.value.code == "last_admin"
    with pytest.raises(Conflict) as info:
        service.revoke_admin(actor(admin), admin.id, PASSWORD)
    assert info.value.code == "last_admin"
    db_session.expire_all()
    assert db_session.get(User, admin.id).is_admin is True


def test_plain_users_can_always_be_deleted(db_session, factory):
    factory.admin()
    user = factory.user()
    service.delete_user(user.id)
    assert db_session.get(User, user.id) is None


def test_grant_and_revoke_check_the_acting_admins_password(db_session, factory):
    admin = factory.admin()
    user = factory.user(password="users-password")
    with pytest.raises(Forbidden) as info:
        service.grant_admin(actor(admin), user.id, "users-password")
    assert info.value.code == "wrong_admin_password"
    assert service.grant_admin(actor(admin), user.id, PASSWORD).is_admin is True
    assert service.revoke_admin(actor(admin), user.id, PASSWORD).is_admin is False


def test_search_escapes_like_wildcards(db_session, factory):
    factory.user(username="a_b")
    factory.user(username="axb")
    page = service.search_users(ListParams(query="a_b"))
    assert [u.username for u in page.items] == ["a_b"]
    assert service.search_users(ListParams(query="%")).count == 0


def test_list_users_counts_everything(db_session, factory):
    for _ in range(3):
        factory.user()
    page = service.list_users(ListParams(per_page=2))
    assert (page.count, len(page.items), page.more) == (3, 2, True)


def _remove_concurrently(app, action: str, a: int, b: int) -> list[str]:
    """a removes b while b removes a, in two transactions started at the same moment."""
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def remove(acting: int, target: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                if action == "revoke":
                    service.revoke_admin(Actor(id=acting, is_admin=True), target, PASSWORD)
                else:
                    service.delete_user(target)
                outcomes[acting] = "ok"
            except ApiError as exc:
                outcomes[acting] = exc.code
            finally:
                db.session.remove()

    threads = [threading.Thread(target=remove, args=(a, b)),
               threading.Thread(target=remove, args=(b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes.values())


@pytest.mark.parametrize("action", ["revoke", "delete"])
def test_two_admins_removing_each_other_at_once_leave_one(app, committing_db, action):
    """Really concurrent transactions: the last-admin rule must hold under the race."""
    for _ in range(5):
        a, b = committing_db.admin(), committing_db.admin()
        assert _remove_concurrently(app, action, a.id, b.id) == ["last_admin", "ok"]
        db.session.expire_all()
        remaining = db.session.scalars(select(User.id).where(User.is_admin.is_(True))).all()
        assert len(remaining) == 1
        # Start the next round from no admin at all.
        db.session.execute(User.__table__.delete())
        db.session.commit()
