"""Tables of people signing in to the portal: staff and resident accounts, sessions, codes.

This module owns ``auth_staff_accounts``, ``auth_resident_accounts``, ``auth_sessions``,
``auth_one_time_codes`` and ``auth_sign_in_attempts``. Only the sign-in services in
``townhall.platform.auth`` (``staff``, ``residents``, ``session_store``) write them.

Accounts that signed in through OpenID Connect also keep the provider's issuer and subject,
unique together, which is how they are found the next time.

Nothing here can give a secret back: passwords are argon2id hashes, and session tokens, challenge
tokens and one-time codes are kept only as keyed hashes, so a copy of the database lets nobody
sign in as anyone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base


class StaffRole(StrEnum):
    """What a member of staff does, which decides what the portal lets them do."""

    ADMINISTRATOR = "administrator"
    DEVELOPER = "developer"
    PRODUCT_OWNER = "product_owner"
    HOUSING_OFFICER = "housing_officer"
    PARKING_OFFICER = "parking_officer"
    DATA_PROTECTION_OFFICER = "data_protection_officer"
    # Keeps residents' records correctly joined: the review queue, unlinking, undoing (ADR 35).
    DATA_STEWARD = "data_steward"

    @property
    def label(self) -> str:
        """The role as a person reads it: ``Housing officer``."""
        return self.value.replace("_", " ").capitalize()


class SessionKind(StrEnum):
    """Who a session belongs to."""

    STAFF = "staff"
    RESIDENT = "resident"


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(member.value) for member in values)})"


class StaffAccount(Base):
    """A member of the council's staff who signs in with an email address and a password."""

    __tablename__ = "auth_staff_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Kept lower-case, so one person cannot have two accounts that differ only in case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # A StaffRole value; checked by the service (a CHECK listing the roles would be rewritten,
    # with a migration, each time a role is added).
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # Wrong passwords since the last right one; reaching the limit sets locked_until.
    failed_attempts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_signed_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who the account is at the council's identity provider, once it has signed in through it:
    # the subject is stable there, unlike an email address, so it is what the account is found by.
    oidc_issuer: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"),)


class ResidentAccount(Base):
    """A resident who signs in with a code sent to their email address."""

    __tablename__ = "auth_resident_accounts"
    # Residents' personal data: a route reading it must declare it (contract tests).
    __table_args__ = (
        UniqueConstraint("oidc_issuer", "oidc_subject"),
        {"info": {"personal_data": True}},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # Set when the resident first proves they read the address (by entering a code sent to it).
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The people domain's resident this account is, once residency is verified (a later issue).
    resident_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Who the resident is at GOV.UK One Login (or another provider), once they signed in there.
    oidc_issuer: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))


class PortalSession(Base):
    """A signed-in browser: the cookie holds a random token, this row only its hash."""

    __tablename__ = "auth_sessions"

    # SHA-256 of the cookie's token, in hex: the token itself is never stored.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The absolute end; the idle end is last_seen_at plus TOWNHALL_SESSION_IDLE_MINUTES.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Forms of this session carry a token derived from it (the synchronizer token).
    csrf_secret: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(_one_of("kind", SessionKind), name="kind_known"),
        Index(None, "kind", "account_id"),
    )


class OneTimeCode(Base):
    """A 6-digit code emailed to a resident, usable from the browser that asked for it."""

    __tablename__ = "auth_one_time_codes"

    # SHA-256 of the challenge token in the asking browser's cookie.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The address the code was sent to: the account is found or made for it once the code is right.
    email: Mapped[str] = mapped_column(String(254))
    # HMAC-SHA256 of the code under an instance key: six digits alone are trivially reversed.
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInAttempt(Base):
    """One attempt to sign in or to be sent a code, for throttling and for the security log."""

    __tablename__ = "auth_sign_in_attempts"

    # SQLite only auto-increments an INTEGER primary key.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str | None] = mapped_column(String(32))
    # HMAC of the email address typed: counts attempts per address without storing it.
    subject_key: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_one_of("kind", SessionKind), name="kind_known"),
        Index(None, "subject_key", "attempted_at"),
    )
