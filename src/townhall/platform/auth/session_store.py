"""Portal sessions kept on the server: started at sign-in, checked on each request, revoked.

This module owns ``auth_sessions``. The browser holds a random 256-bit token; the table holds its
SHA-256, so the table alone cannot be replayed. A session ends at whichever comes first: its
absolute end (``TOWNHALL_SESSION_ABSOLUTE_HOURS`` after sign-in), going unused for
``TOWNHALL_SESSION_IDLE_MINUTES``, or being revoked (signing out, the account being disabled).
Every sign-in starts a new session with a new token, so a token planted in a browser before
sign-in (session fixation) is worth nothing after it.

It knows nothing of HTTP: ``townhall.platform.auth.sessions`` reads and writes the cookies.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from townhall.platform.auth.sign_in_keys import token_digest
from townhall.platform.auth.sign_in_models import PortalSession, SessionKind
from townhall.platform.db import Database, aware
from townhall.settings import Settings

# last_seen_at is written at most this often: a write per page view would queue every reader
# behind SQLite's one writer, and the idle timeout is counted in minutes anyway.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions last."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        """The policy ``settings`` describe."""
        return cls(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
        )


@dataclass(frozen=True)
class PortalSessionView:
    """A live session, as the request that presented its token may use it."""

    id: str
    kind: SessionKind
    account_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    csrf_secret: str


@dataclass(frozen=True)
class StartedSession:
    """A session just started: the token goes into the cookie, and nowhere else."""

    token: str
    view: PortalSessionView


def start_session(
    session: Session,
    *,
    kind: SessionKind,
    account_id: str,
    policy: SessionPolicy,
    now: datetime,
    replacing: str | None = None,
) -> StartedSession:
    """Start a session in the caller's write unit of work, revoking the one it replaces."""
    if replacing is not None:
        _revoke(session, token_digest(replacing), now)
    token = secrets.token_urlsafe(32)
    row = PortalSession(
        id=token_digest(token),
        kind=kind.value,
        account_id=account_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        revoked_at=None,
        csrf_secret=secrets.token_urlsafe(32),
    )
    session.add(row)
    return StartedSession(token=token, view=_view(row))


def find_session(
    database: Database, token: str, *, policy: SessionPolicy, now: datetime
) -> PortalSessionView | None:
    """The live session ``token`` belongs to, or None when it is unknown, revoked or expired.

    Marks the session as used now (at most once a minute), which keeps it from going idle.
    """
    session_id = token_digest(token)
    with database.read() as session:
        row = session.get(PortalSession, session_id)
        if row is None:
            return None
        view = _view(row)
        revoked = row.revoked_at is not None
    if revoked or now >= view.expires_at or now >= view.last_seen_at + policy.idle:
        return None
    if now - view.last_seen_at >= TOUCH_INTERVAL:
        with database.write() as session:
            session.execute(
                update(PortalSession)
                .where(PortalSession.id == session_id, PortalSession.revoked_at.is_(None))
                .values(last_seen_at=now)
            )
    return view


def revoke_session(database: Database, token: str, *, now: datetime) -> None:
    """End the session ``token`` belongs to (signing out); nothing happens if there is none."""
    with database.write() as session:
        _revoke(session, token_digest(token), now)


def revoke_sessions_of(
    session: Session, *, kind: SessionKind, account_id: str, now: datetime
) -> int:
    """End every session of one account in the caller's unit of work; return how many ended."""
    result = session.execute(
        update(PortalSession)
        .where(
            PortalSession.kind == kind.value,
            PortalSession.account_id == account_id,
            PortalSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_session_count(database: Database, *, kind: SessionKind, account_id: str) -> int:
    """How many unrevoked sessions an account has (for tests and administrators)."""
    with database.read() as session:
        found = session.scalars(
            select(PortalSession.id).where(
                PortalSession.kind == kind.value,
                PortalSession.account_id == account_id,
                PortalSession.revoked_at.is_(None),
            )
        )
        return len(list(found))


def _revoke(session: Session, session_id: str, now: datetime) -> None:
    session.execute(
        update(PortalSession)
        .where(PortalSession.id == session_id, PortalSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _view(row: PortalSession) -> PortalSessionView:
    return PortalSessionView(
        id=row.id,
        kind=SessionKind(row.kind),
        account_id=row.account_id,
        created_at=aware(row.created_at),
        last_seen_at=aware(row.last_seen_at),
        expires_at=aware(row.expires_at),
        csrf_secret=row.csrf_secret,
    )
