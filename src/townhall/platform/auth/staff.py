"""Staff accounts: creating, listing and disabling them, and signing in with a password.

This module owns the rules for ``auth_staff_accounts``: one account per email address (kept in
lower case), a role from ``StaffRole``, passwords of at least 12 characters hashed with argon2id,
and the lockout: ``TOWNHALL_STAFF_LOCKOUT_ATTEMPTS`` wrong passwords in a row lock the account for
``TOWNHALL_STAFF_LOCKOUT_MINUTES``. Every change to an account is recorded in the administrative
change log in the same unit of work; failed sign-ins and lockouts are logged with the account id,
never the email address or the password.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from townhall.errors import Conflict, FieldError, NotFound, ValidationFailed
from townhall.platform.auth.changes import record_change
from townhall.platform.auth.passwords import (
    hash_password,
    needs_rehash,
    password_matches,
    password_problem,
    spend_verification_time,
)
from townhall.platform.auth.session_store import (
    SessionPolicy,
    StartedSession,
    revoke_sessions_of,
    start_session,
)
from townhall.platform.auth.sign_in_errors import AccountDisabled, AccountLocked, WrongCredentials
from townhall.platform.auth.sign_in_keys import SignInKeys
from townhall.platform.auth.sign_in_models import (
    SessionKind,
    SignInAttempt,
    StaffAccount,
    StaffRole,
)
from townhall.platform.db import Database, aware
from townhall.platform.logging import get_logger

TARGET_TYPE = "staff_account"
# Deliberately loose: the address is checked by the person who receives mail at it, not by us.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254

log = get_logger("townhall.sign_in")


@dataclass(frozen=True)
class LockoutPolicy:
    """How many wrong passwords lock an account, and for how long."""

    attempts: int
    duration: timedelta


@dataclass(frozen=True)
class StaffMember:
    """A staff account as the portal and the CLI show it (never its password hash)."""

    id: str
    email: str
    display_name: str
    role: StaffRole
    enabled: bool
    created_at: datetime
    last_signed_in_at: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True)
class StaffSignIn:
    """A successful sign-in: who, and the session started for them."""

    member: StaffMember
    started: StartedSession


def normalise_email(email: str) -> str:
    """An email address as accounts are kept: trimmed and in lower case."""
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """Why ``email`` (already normalised) is not an email address, or None."""
    if not email:
        return "Enter an email address"
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        return "Enter an email address in the correct format, like name@example.com"
    return None


def create_staff_account(
    database: Database,
    *,
    email: str,
    display_name: str,
    role: str,
    password: str,
    actor: str,
    now: datetime,
) -> StaffMember:
    """Create an enabled staff account; ValidationFailed or Conflict when it cannot be."""
    email = normalise_email(email)
    display_name = display_name.strip()
    problems = []
    if (problem := email_problem(email)) is not None:
        problems.append(FieldError("email", problem))
    if not display_name or len(display_name) > 200:
        problems.append(FieldError("name", "Enter a name of 1 to 200 characters"))
    if role not in {member.value for member in StaffRole}:
        known = ", ".join(member.value for member in StaffRole)
        problems.append(FieldError("role", f"Choose one of: {known}"))
    if (problem := password_problem(password)) is not None:
        problems.append(FieldError("password", problem))
    if problems:
        raise ValidationFailed(problems)
    # Hashed before the write unit of work opens: it takes a while, and SQLite has one writer.
    password_hash = hash_password(password)
    with database.write() as session:
        if session.scalar(select(StaffAccount.id).where(StaffAccount.email == email)):
            raise Conflict("A staff account with this email address already exists.")
        account = StaffAccount(
            id="stf_" + secrets.token_hex(8),
            email=email,
            display_name=display_name,
            role=role,
            password_hash=password_hash,
            enabled=True,
            failed_attempts=0,
            locked_until=None,
            created_at=now,
            last_signed_in_at=None,
        )
        session.add(account)
        record_change(
            session,
            actor=actor,
            action="staff_account.created",
            target_type=TARGET_TYPE,
            target_id=account.id,
            details={"role": role},
        )
        return _member(account)


def list_staff_accounts(database: Database) -> list[StaffMember]:
    """Every staff account, by email address."""
    with database.read() as session:
        accounts = session.scalars(select(StaffAccount).order_by(StaffAccount.email))
        return [_member(account) for account in accounts]


def find_staff_member(database: Database, account_id: str) -> StaffMember | None:
    """The staff account with ``account_id``, or None."""
    with database.read() as session:
        account = session.get(StaffAccount, account_id)
        return _member(account) if account is not None else None


def disable_staff_account(
    database: Database, *, email: str, actor: str, now: datetime
) -> StaffMember:
    """Stop an account signing in and end its sessions; NotFound when there is no such account."""
    email = normalise_email(email)
    with database.write() as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.email == email))
        if account is None:
            raise NotFound("There is no staff account with this email address.")
        ended = revoke_sessions_of(session, kind=SessionKind.STAFF, account_id=account.id, now=now)
        if account.enabled:
            account.enabled = False
            record_change(
                session,
                actor=actor,
                action="staff_account.disabled",
                target_type=TARGET_TYPE,
                target_id=account.id,
                details={"sessions_ended": ended},
            )
        return _member(account)


def sign_in_staff(
    database: Database,
    keys: SignInKeys,
    *,
    email: str,
    password: str,
    lockout: LockoutPolicy,
    sessions: SessionPolicy,
    now: datetime,
    replacing: str | None = None,
) -> StaffSignIn:
    """Check an email address and password and start a session, or raise a SignInRefused.

    ``replacing`` is the token of the browser's current session, if any: it is revoked.
    """
    email = normalise_email(email)
    subject_key = keys.mac("staff-email", email)
    with database.read() as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.email == email))
        found = _member(account) if account is not None else None
        password_hash = account.password_hash if account is not None else None
    if found is None or password_hash is None:
        spend_verification_time(password)
        _record_attempt(database, None, subject_key, "unknown_account", now)
        log.info("staff_sign_in_failed", account_id=None, reason="unknown_account")
        raise WrongCredentials
    if found.locked_until is not None and found.locked_until > now:
        # Not even checked: guesses while locked must not count, nor be confirmed.
        _record_attempt(database, found.id, subject_key, "locked", now)
        log.info("staff_sign_in_failed", account_id=found.id, reason="locked")
        raise AccountLocked(found.locked_until)
    # Checked outside any write unit of work: it takes tens of milliseconds.
    if not password_matches(password_hash, password):
        _count_wrong_password(database, found.id, subject_key, lockout, now)
    if not found.enabled:
        _record_attempt(database, found.id, subject_key, "disabled", now)
        log.info("staff_sign_in_failed", account_id=found.id, reason="disabled")
        raise AccountDisabled
    rehashed = hash_password(password) if needs_rehash(password_hash) else None
    with database.write() as session:
        values: dict[str, object] = {
            "failed_attempts": 0,
            "locked_until": None,
            "last_signed_in_at": now,
        }
        if rehashed is not None:
            values["password_hash"] = rehashed
        session.execute(update(StaffAccount).where(StaffAccount.id == found.id).values(**values))
        _add_attempt(session, found.id, subject_key, "succeeded", now)
        started = start_session(
            session,
            kind=SessionKind.STAFF,
            account_id=found.id,
            policy=sessions,
            now=now,
            replacing=replacing,
        )
    log.info("staff_signed_in", account_id=found.id)
    member = replace(found, last_signed_in_at=now, locked_until=None)
    return StaffSignIn(member=member, started=started)


def _count_wrong_password(
    database: Database, account_id: str, subject_key: str, lockout: LockoutPolicy, now: datetime
) -> None:
    """Count a wrong password, lock the account when it is one too many, and refuse."""
    with database.write() as session:
        # Incremented in SQL, so two wrong passwords at once both count.
        session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == account_id)
            .values(failed_attempts=StaffAccount.failed_attempts + 1)
        )
        failures = session.scalar(
            select(StaffAccount.failed_attempts).where(StaffAccount.id == account_id)
        )
        if failures is not None and failures >= lockout.attempts:
            until = now + lockout.duration
            # The count starts again, so the lock ends with a fresh allowance of attempts.
            session.execute(
                update(StaffAccount)
                .where(StaffAccount.id == account_id)
                .values(failed_attempts=0, locked_until=until)
            )
            _add_attempt(session, account_id, subject_key, "locked_out", now)
            record_change(
                session,
                actor="sign-in",
                action="staff_account.locked",
                target_type=TARGET_TYPE,
                target_id=account_id,
                details={"failed_attempts": failures, "locked_until": until.isoformat()},
            )
            locked_until: datetime | None = until
        else:
            _add_attempt(session, account_id, subject_key, "wrong_password", now)
            locked_until = None
    if locked_until is not None:
        log.warning(
            "staff_account_locked",
            account_id=account_id,
            failed_attempts=failures,
            locked_until=locked_until.isoformat(),
        )
        raise AccountLocked(locked_until)
    log.info(
        "staff_sign_in_failed",
        account_id=account_id,
        reason="wrong_password",
        failed_attempts=failures,
    )
    raise WrongCredentials


def _record_attempt(
    database: Database, account_id: str | None, subject_key: str, outcome: str, now: datetime
) -> None:
    with database.write() as session:
        _add_attempt(session, account_id, subject_key, outcome, now)


def _add_attempt(
    session: Session, account_id: str | None, subject_key: str, outcome: str, now: datetime
) -> None:
    session.add(
        SignInAttempt(
            kind=SessionKind.STAFF.value,
            account_id=account_id,
            subject_key=subject_key,
            outcome=outcome,
            attempted_at=now,
        )
    )


def staff_attempt_count(database: Database, *, account_id: str) -> int:
    """How many sign-in attempts were made on one account (for tests and administrators)."""
    with database.read() as session:
        count = session.scalar(
            select(func.count())
            .select_from(SignInAttempt)
            .where(SignInAttempt.account_id == account_id)
        )
        return int(count or 0)


def _member(account: StaffAccount) -> StaffMember:
    return StaffMember(
        id=account.id,
        email=account.email,
        display_name=account.display_name,
        role=StaffRole(account.role),
        enabled=account.enabled,
        created_at=aware(account.created_at),
        last_signed_in_at=aware(account.last_signed_in_at) if account.last_signed_in_at else None,
        locked_until=aware(account.locked_until) if account.locked_until else None,
    )
