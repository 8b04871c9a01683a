"""The sign-in services on their own: staff accounts, passwords, sessions and keyed hashes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import select

from tests.sign_in import PASSWORD, START, make_staff
from townhall.errors import Conflict, ValidationFailed
from townhall.platform.auth.passwords import needs_rehash, password_problem
from townhall.platform.auth.session_store import (
    SessionPolicy,
    find_session,
    revoke_session,
    start_session,
)
from townhall.platform.auth.sign_in_errors import WrongCredentials
from townhall.platform.auth.sign_in_keys import SignInKeys, token_digest
from townhall.platform.auth.sign_in_models import PortalSession, SessionKind, StaffAccount
from townhall.platform.auth.staff import (
    LockoutPolicy,
    create_staff_account,
    sign_in_staff,
    staff_attempt_count,
)
from townhall.platform.db import Database
from townhall.settings import Settings

POLICY = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
LOCKOUT = LockoutPolicy(attempts=5, duration=timedelta(minutes=15))


@pytest.fixture
def keys(settings: Settings, database: Database) -> SignInKeys:
    return SignInKeys(settings, database)


def test_a_new_account_is_checked_field_by_field(database: Database) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create_staff_account(
            database,
            email="not-an-address",
            display_name=" ",
            role="mayor",
            password="short",
            actor="test",
            now=START,
        )
    assert [error.field for error in caught.value.errors] == ["email", "name", "role", "password"]


def test_one_account_per_address_whatever_its_case(database: Database) -> None:
    make_staff(database, "Officer@Hackney.gov.uk")
    with pytest.raises(Conflict):
        make_staff(database, "officer@hackney.GOV.uk ")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("eleven char", "Password must be 12 characters or more"),
        (" " * 12, "Password must not be only spaces"),
        ("x" * 257, "Password must be 256 characters or fewer"),
        ("twelve chars", None),
    ],
)
def test_password_rules_are_length_only(password: str, problem: str | None) -> None:
    assert password_problem(password) == problem


def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(
    database: Database, keys: SignInKeys
) -> None:
    member = make_staff(database)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with database.write() as session:
        account = session.get(StaffAccount, member.id)
        assert account is not None
        account.password_hash = weak
    assert needs_rehash(weak)
    sign_in_staff(
        database,
        keys,
        email=member.email,
        password=PASSWORD,
        lockout=LOCKOUT,
        sessions=POLICY,
        now=START,
    )
    with database.read() as session:
        upgraded = session.scalar(
            select(StaffAccount.password_hash).where(StaffAccount.id == member.id)
        )
    assert upgraded is not None
    assert upgraded != weak
    assert not needs_rehash(upgraded)


def test_every_attempt_is_recorded(database: Database, keys: SignInKeys) -> None:
    member = make_staff(database)
    with pytest.raises(WrongCredentials):
        sign_in_staff(
            database,
            keys,
            email=member.email,
            password="wrong wrong wrong",
            lockout=LOCKOUT,
            sessions=POLICY,
            now=START,
        )
    sign_in_staff(
        database,
        keys,
        email=member.email,
        password=PASSWORD,
        lockout=LOCKOUT,
        sessions=POLICY,
        now=START,
    )
    assert staff_attempt_count(database, account_id=member.id) == 2


def test_only_a_hash_of_the_session_token_is_stored(database: Database) -> None:
    with database.write() as session:
        started = start_session(
            session, kind=SessionKind.STAFF, account_id="stf_1", policy=POLICY, now=START
        )
    with database.read() as session:
        ids = list(session.scalars(select(PortalSession.id)))
    assert ids == [token_digest(started.token)]
    assert started.token not in ids


def test_last_use_is_written_at_most_once_a_minute(database: Database) -> None:
    with database.write() as session:
        token = start_session(
            session, kind=SessionKind.RESIDENT, account_id="res_1", policy=POLICY, now=START
        ).token
    seen = find_session(database, token, policy=POLICY, now=START + timedelta(seconds=30))
    assert seen is not None
    assert seen.last_seen_at == START
    seen = find_session(database, token, policy=POLICY, now=START + timedelta(seconds=61))
    again = find_session(database, token, policy=POLICY, now=START + timedelta(seconds=62))
    assert again is not None
    assert again.last_seen_at == START + timedelta(seconds=61)
    revoke_session(database, token, now=START + timedelta(minutes=2))
    assert find_session(database, token, policy=POLICY, now=START + timedelta(minutes=2)) is None


def test_keyed_hashes_depend_on_the_purpose_and_the_key(
    database: Database, settings: Settings
) -> None:
    from_database = SignInKeys(settings, database)
    assert from_database.mac("a", "x") == SignInKeys(settings, database).mac("a", "x")
    assert from_database.mac("a", "x") != from_database.mac("b", "x")
    configured = SignInKeys(
        settings.model_copy(update={"secret_key": SecretStr("s" * 40)}), database
    )
    assert configured.mac("a", "x") != from_database.mac("a", "x")
    assert configured.matches("a", "x", configured.mac("a", "x"))
