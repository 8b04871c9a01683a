"""Accounts of people who signed in through OpenID Connect, and the sessions started for them.

This module owns turning a verified login (``townhall.platform.auth.oidc``) into an account and a
session, in one write unit of work, so a refusal leaves nobody half signed in:

* staff: the account is found by (issuer, subject); failing that, an account with the same email
  address that has never signed in through a provider is linked (the council's provider is the
  authority on council addresses); failing that, one is made. Its role is the first group in
  ``TOWNHALL_STAFF_OIDC_ROLES_FROM_GROUPS`` the person belongs to, set again at every sign-in, so
  moving someone between groups at the provider moves them here. Nobody in a mapped group is
  refused (``NoMappedGroup``), and a disabled account stays disabled.
* residents: found by (issuer, subject); failing that, by the email address the provider says it
  verified; failing that, made. An address the provider has not verified is refused.

Every account made, linked or given a new role is recorded with ``record_change``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.platform.auth.changes import record_change
from townhall.platform.auth.oidc import VerifiedLogin
from townhall.platform.auth.session_store import SessionPolicy, StartedSession, start_session
from townhall.platform.auth.sign_in_models import (
    ResidentAccount,
    SessionKind,
    StaffAccount,
    StaffRole,
)
from townhall.platform.auth.staff import email_problem, normalise_email
from townhall.platform.db import Database
from townhall.platform.logging import get_logger

# Stored in place of a password hash for accounts made by a provider: it is not an argon2 hash,
# so no password ever matches it.
NO_PASSWORD = "!oidc"  # noqa: S105 (a marker, not a password)

log = get_logger("townhall.sign_in")


class OidcRefused(Exception):
    """The provider vouched for the person, but Townhall will not sign them in."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class OidcSignIn:
    """A successful sign-in: the account and the session started for it."""

    account_id: str
    started: StartedSession


def role_for_groups(groups: object, mapping: Mapping[str, str]) -> StaffRole | None:
    """The role of the first mapped group the person is in, or None."""
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return None
    held = {group for group in groups if isinstance(group, str)}
    for group, role in mapping.items():
        if group in held:
            return StaffRole(role)
    return None


def sign_in_staff_with_oidc(
    database: Database,
    login: VerifiedLogin,
    *,
    roles_from_groups: Mapping[str, str],
    groups_claim: str,
    sessions: SessionPolicy,
    now: datetime,
    replacing: str | None = None,
) -> OidcSignIn:
    """Find, link or make the staff account ``login`` vouches for, and start its session."""
    claims = login.claims
    role = role_for_groups(claims.get(groups_claim), roles_from_groups)
    if role is None:
        log.info("staff_oidc_refused", reason="no_mapped_group")
        raise OidcRefused(
            "Your account is not in any group that may use Townhall. Ask an administrator to "
            "add you to one.",
            reason="no_mapped_group",
        )
    email = normalise_email(str(claims.get("email") or ""))
    if email_problem(email) is not None:
        raise OidcRefused("The sign-in service did not give your email address.", reason="no_email")
    name = str(claims.get("name") or email)[:200]
    with database.write() as session:
        account = _find_staff(session, login, email)
        if account is None:
            account = StaffAccount(
                id="stf_" + secrets.token_hex(8),
                email=email,
                display_name=name,
                role=role.value,
                password_hash=NO_PASSWORD,
                enabled=True,
                failed_attempts=0,
                locked_until=None,
                created_at=now,
                last_signed_in_at=now,
                oidc_issuer=login.issuer,
                oidc_subject=login.subject,
            )
            session.add(account)
            _record(session, account.id, "staff_account.created", {"role": role.value})
        else:
            _update_staff(session, account, login, role)
        account_id = account.id
        if not account.enabled:
            refused = account_id
        else:
            refused = None
            account.last_signed_in_at = now
            started = start_session(
                session,
                kind=SessionKind.STAFF,
                account_id=account.id,
                policy=sessions,
                now=now,
                replacing=replacing,
            )
    if refused is not None:
        # The write above committed only the provider's view of the account, not a session.
        log.info("staff_oidc_refused", account_id=refused, reason="disabled")
        raise OidcRefused(
            "Your staff account has been disabled. Ask an administrator.", reason="disabled"
        )
    log.info("staff_signed_in", account_id=account_id, method="oidc")
    return OidcSignIn(account_id=account_id, started=started)


def _find_staff(session: Session, login: VerifiedLogin, email: str) -> StaffAccount | None:
    account = session.scalar(
        select(StaffAccount).where(
            StaffAccount.oidc_issuer == login.issuer, StaffAccount.oidc_subject == login.subject
        )
    )
    if account is not None:
        return account
    return session.scalar(
        select(StaffAccount).where(StaffAccount.email == email, StaffAccount.oidc_issuer.is_(None))
    )


def _update_staff(
    session: Session, account: StaffAccount, login: VerifiedLogin, role: StaffRole
) -> None:
    if account.oidc_issuer is None:
        account.oidc_issuer = login.issuer
        account.oidc_subject = login.subject
        _record(session, account.id, "staff_account.linked", {"issuer": login.issuer})
    if account.role != role.value:
        _record(
            session,
            account.id,
            "staff_account.role_changed",
            {"from": account.role, "to": role.value, "by": "identity_provider_groups"},
        )
        account.role = role.value


def _record(session: Session, account_id: str, action: str, details: dict[str, Any]) -> None:
    record_change(
        session,
        actor="identity-provider",
        action=action,
        target_type="staff_account",
        target_id=account_id,
        details=details,
    )


def sign_in_resident_with_oidc(
    database: Database,
    login: VerifiedLogin,
    *,
    accepted_vots: list[str],
    sessions: SessionPolicy,
    now: datetime,
    replacing: str | None = None,
) -> OidcSignIn:
    """Find, link or make the resident account ``login`` vouches for, and start its session."""
    claims = login.claims
    email = normalise_email(str(claims.get("email") or ""))
    if email_problem(email) is not None or claims.get("email_verified") is not True:
        log.info("resident_oidc_refused", reason="email_not_verified")
        raise OidcRefused(
            "The sign-in service did not confirm your email address, so you were not signed in.",
            reason="email_not_verified",
        )
    if accepted_vots and claims.get("vot") not in accepted_vots:
        # GOV.UK One Login says in ``vot`` how strongly it authenticated the person.
        log.info("resident_oidc_refused", reason="vot_too_low")
        raise OidcRefused(
            "The sign-in service did not confirm who you are strongly enough.", reason="vot"
        )
    with database.write() as session:
        account = session.scalar(
            select(ResidentAccount).where(
                ResidentAccount.oidc_issuer == login.issuer,
                ResidentAccount.oidc_subject == login.subject,
            )
        )
        if account is None:
            account = session.scalar(
                select(ResidentAccount).where(
                    ResidentAccount.email == email, ResidentAccount.oidc_issuer.is_(None)
                )
            )
            if account is not None:
                account.oidc_issuer, account.oidc_subject = login.issuer, login.subject
                action = "resident_account.linked"
            else:
                account = ResidentAccount(
                    id="res_" + secrets.token_hex(8),
                    email=email,
                    verified_at=now,
                    resident_id=None,
                    created_at=now,
                    oidc_issuer=login.issuer,
                    oidc_subject=login.subject,
                )
                session.add(account)
                action = "resident_account.created"
            record_change(
                session,
                actor=f"resident_account:{account.id}",
                action=action,
                target_type="resident_account",
                target_id=account.id,
                details={"verified_by": "openid_connect", "issuer": login.issuer},
            )
        elif account.email != email and session.scalar(
            select(ResidentAccount.id).where(ResidentAccount.email == email)
        ):
            # The address moved at the provider to one another account here holds: keep ours.
            pass
        else:
            account.email = email
        if account.verified_at is None:
            account.verified_at = now
        started = start_session(
            session,
            kind=SessionKind.RESIDENT,
            account_id=account.id,
            policy=sessions,
            now=now,
            replacing=replacing,
        )
        account_id = account.id
    log.info("resident_signed_in", account_id=account_id, method="oidc")
    return OidcSignIn(account_id=account_id, started=started)
