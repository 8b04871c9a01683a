"""Residents signing in with a code sent to their email address, and their own account.

This module owns ``auth_resident_accounts`` and ``auth_one_time_codes``. Signing in takes two
steps in one browser:

1. ``send_sign_in_code``: a random six-digit code is kept (as a keyed hash) with a random
   challenge token for the browser's cookie, then emailed. Codes last 10 minutes; at most
   ``TOWNHALL_ONE_TIME_CODES_PER_HOUR`` go to one address in an hour, whoever asks.
2. ``sign_in_with_code``: the code must come back from the browser holding the challenge, within
   ``TOWNHALL_ONE_TIME_CODE_ATTEMPTS`` guesses. The first right code makes the account (the address
   is then verified) and starts a session, in one unit of work.

A code typed into another browser is useless, so a code seen over someone's shoulder or in a
forwarded email cannot sign a stranger in without the victim's browser.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from townhall.errors import NotFound
from townhall.platform.auth.changes import record_change
from townhall.platform.auth.session_store import (
    SessionPolicy,
    StartedSession,
    start_session,
)
from townhall.platform.auth.sign_in_errors import (
    CodeExpired,
    CodeNotSent,
    SignInRefused,
    TooManyCodes,
    WrongCode,
)
from townhall.platform.auth.sign_in_keys import SignInKeys, token_digest
from townhall.platform.auth.sign_in_models import (
    OneTimeCode,
    ResidentAccount,
    SessionKind,
    SignInAttempt,
)
from townhall.platform.auth.staff import normalise_email
from townhall.platform.db import Database, aware
from townhall.platform.logging import get_logger
from townhall.platform.notifications import SIGN_IN_CODE, NotificationFailed, NotificationSender

CODE_LIFETIME = timedelta(minutes=10)
CODE_DIGITS = 6
TARGET_TYPE = "resident_account"

log = get_logger("townhall.sign_in")


@dataclass(frozen=True)
class CodePolicy:
    """How many guesses one code allows, and how many codes one address may be sent an hour."""

    attempts: int
    per_hour: int


@dataclass(frozen=True)
class PendingCode:
    """A code waiting to be typed in: where it went and until when it works."""

    email: str
    expires_at: datetime


@dataclass(frozen=True)
class ResidentMember:
    """A resident's own account, as the portal shows it to them."""

    id: str
    email: str
    verified_at: datetime | None
    resident_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class ResidentSignIn:
    """A successful sign-in: who, and the session started for them."""

    member: ResidentMember
    started: StartedSession


def new_code() -> str:
    """Six random digits, leading zeros kept."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def send_sign_in_code(
    database: Database,
    keys: SignInKeys,
    sender: NotificationSender,
    *,
    email: str,
    policy: CodePolicy,
    now: datetime,
) -> str:
    """Email a new code to ``email`` (already checked); return the challenge token for the cookie.

    Raises TooManyCodes past the hourly limit, and CodeNotSent when the email could not be sent.
    """
    email = normalise_email(email)
    subject_key = keys.mac("resident-email", email)
    code = new_code()
    token = secrets.token_urlsafe(32)
    challenge_id = token_digest(token)
    with database.write() as session:
        sent = session.scalar(
            select(func.count())
            .select_from(SignInAttempt)
            .where(
                SignInAttempt.subject_key == subject_key,
                SignInAttempt.outcome == "code_sent",
                SignInAttempt.attempted_at > now - timedelta(hours=1),
            )
        )
        if (sent or 0) >= policy.per_hour:
            refused = True
        else:
            refused = False
            session.add(
                OneTimeCode(
                    id=challenge_id,
                    email=email,
                    code_hash=keys.mac("one-time-code", f"{challenge_id}:{code}"),
                    created_at=now,
                    expires_at=now + CODE_LIFETIME,
                    attempts=0,
                    used_at=None,
                )
            )
        session.add(
            SignInAttempt(
                kind=SessionKind.RESIDENT.value,
                account_id=None,
                subject_key=subject_key,
                outcome="codes_refused" if refused else "code_sent",
                attempted_at=now,
            )
        )
    if refused:
        log.info("resident_code_refused", reason="too_many_codes")
        raise TooManyCodes
    # Sent after the commit: a code is never emailed that the database does not know.
    try:
        sender.send_email(email, SIGN_IN_CODE, {"code": code})
    except NotificationFailed as exc:
        raise CodeNotSent from exc
    log.info("resident_code_sent")
    return token


def pending_code(database: Database, token: str, *, now: datetime) -> PendingCode | None:
    """The unused, unexpired code a challenge token stands for, or None."""
    with database.read() as session:
        row = session.get(OneTimeCode, token_digest(token))
        if row is None or row.used_at is not None or aware(row.expires_at) <= now:
            return None
        return PendingCode(email=row.email, expires_at=aware(row.expires_at))


def sign_in_with_code(
    database: Database,
    keys: SignInKeys,
    *,
    token: str,
    code: str,
    policy: CodePolicy,
    sessions: SessionPolicy,
    now: datetime,
    replacing: str | None = None,
) -> ResidentSignIn:
    """Check ``code`` against the challenge ``token`` and start a session, or raise a refusal."""
    challenge_id = token_digest(token)
    code = "".join(code.split())  # people type "123 456"
    signed_in: ResidentSignIn | None = None
    refused_account: str | None = None
    with database.write() as session:
        row = session.get(OneTimeCode, challenge_id)
        refusal = _check_code(
            session,
            keys=keys,
            row=row,
            challenge_id=challenge_id,
            code=code,
            policy=policy,
            now=now,
        )
        if refusal is not None or row is None:
            # The account the code was for, if the address has one: logged and recorded by id.
            refused_account = (
                session.scalar(select(ResidentAccount.id).where(ResidentAccount.email == row.email))
                if row is not None
                else None
            )
            # Recorded in this unit of work, which must commit: the guess has to count.
            _add_attempt(
                session,
                email=row.email if row else "",
                keys=keys,
                outcome="wrong_code",
                account_id=refused_account,
                now=now,
            )
        else:
            row.used_at = now
            account = _find_or_create_account(session, row.email, now)
            _add_attempt(
                session,
                email=row.email,
                keys=keys,
                outcome="succeeded",
                account_id=account.id,
                now=now,
            )
            started = start_session(
                session,
                kind=SessionKind.RESIDENT,
                account_id=account.id,
                policy=sessions,
                now=now,
                replacing=replacing,
            )
            signed_in = ResidentSignIn(member=_member(account), started=started)
    if signed_in is None:
        log.info(
            "resident_sign_in_failed", account_id=refused_account, reason=type(refusal).__name__
        )
        raise refusal or CodeExpired()
    log.info("resident_signed_in", account_id=signed_in.member.id)
    return signed_in


def _check_code(
    session: Session,
    *,
    keys: SignInKeys,
    row: OneTimeCode | None,
    challenge_id: str,
    code: str,
    policy: CodePolicy,
    now: datetime,
) -> SignInRefused | None:
    """Why the code cannot sign in, or None when it is right; counts a wrong guess."""
    if row is None or row.used_at is not None or aware(row.expires_at) <= now:
        return CodeExpired()
    if row.attempts >= policy.attempts:
        return CodeExpired("The code was entered wrongly too many times.")
    if keys.matches("one-time-code", f"{challenge_id}:{code}", row.code_hash):
        return None
    remaining = policy.attempts - (row.attempts + 1)
    # Incremented in SQL, so two guesses at once both count (this also updates ``row``).
    session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == challenge_id)
        .values(attempts=OneTimeCode.attempts + 1)
    )
    if remaining <= 0:
        return CodeExpired("The code was entered wrongly too many times.")
    return WrongCode(remaining)


def find_resident_member(database: Database, account_id: str) -> ResidentMember | None:
    """The resident account with ``account_id``, or None."""
    with database.read() as session:
        account = session.get(ResidentAccount, account_id)
        return _member(account) if account is not None else None


def link_resident(
    database: Database, account_id: str, resident_id: str | None, *, actor: str
) -> ResidentMember:
    """Match an account to the people domain's resident it is (None undoes the match).

    Recorded in the change log: who an account is decides whose records its holder sees.
    """
    with database.write() as session:
        account = session.get(ResidentAccount, account_id)
        if account is None:
            raise NotFound(f"There is no resident account {account_id}.")
        account.resident_id = resident_id
        record_change(
            session,
            actor=actor,
            action="resident_account.linked" if resident_id else "resident_account.unlinked",
            target_type=TARGET_TYPE,
            target_id=account.id,
            details={"resident_id": resident_id},
        )
        return _member(account)


def note_connection_refused(database: Database, account_id: str) -> None:
    """Log an attempt to connect an account to council records whose details did not match.

    The change log keeps who tried, never what they typed: a run of these is how guessing at
    someone else's records shows.
    """
    with database.write() as session:
        record_change(
            session,
            actor=f"resident_account:{account_id}",
            action="resident_account.connection_refused",
            target_type=TARGET_TYPE,
            target_id=account_id,
        )


def _find_or_create_account(session: Session, email: str, now: datetime) -> ResidentAccount:
    account = session.scalar(select(ResidentAccount).where(ResidentAccount.email == email))
    if account is not None:
        if account.verified_at is None:
            account.verified_at = now
        return account
    account = ResidentAccount(
        id="res_" + secrets.token_hex(8),
        email=email,
        verified_at=now,
        resident_id=None,
        created_at=now,
    )
    session.add(account)
    record_change(
        session,
        actor=f"resident_account:{account.id}",
        action="resident_account.created",
        target_type=TARGET_TYPE,
        target_id=account.id,
        details={"verified_by": "email_code"},
    )
    return account


def _add_attempt(
    session: Session,
    *,
    email: str,
    keys: SignInKeys,
    outcome: str,
    account_id: str | None,
    now: datetime,
) -> None:
    session.add(
        SignInAttempt(
            kind=SessionKind.RESIDENT.value,
            account_id=account_id,
            subject_key=keys.mac("resident-email", email),
            outcome=outcome,
            attempted_at=now,
        )
    )


def _member(account: ResidentAccount) -> ResidentMember:
    return ResidentMember(
        id=account.id,
        email=account.email,
        verified_at=aware(account.verified_at) if account.verified_at else None,
        resident_id=account.resident_id,
        created_at=aware(account.created_at),
    )
