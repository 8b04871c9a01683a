"""Who is signed in to the portal, and the page guards ``require_staff`` and ``require_resident``.

This module owns the HTTP side of portal sessions: reading the session cookie, finding the live
session behind it once per request (``identify_viewer``), and the dependencies pages use:

* ``member: Annotated[SignedInStaff, require_staff()]``, or ``require_staff(StaffRole.X, ...)``
  for some roles only: a live staff session of an enabled account (a ``StaffRequirement``);
* ``resident: Annotated[SignedInResident, require_resident()]``: a live resident session (a
  ``ResidentRequirement``). Resident pages take the account only from here, never from the URL.

Someone not signed in is sent to the sign-in page (``SignInRequired``); a member of staff without
the role gets a 403 page (``PageForbidden``). Both are answered by the portal, which renders them.
The services behind it are ``session_store``, ``staff`` and ``residents``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from townhall.platform.auth.cookies import SESSION_COOKIE, read_cookie
from townhall.platform.auth.dependencies import Access, mark_access
from townhall.platform.auth.residents import CodePolicy, ResidentMember, find_resident_member
from townhall.platform.auth.session_store import PortalSessionView, SessionPolicy, find_session
from townhall.platform.auth.sign_in_keys import SignInKeys
from townhall.platform.auth.sign_in_models import SessionKind, StaffRole
from townhall.platform.auth.staff import LockoutPolicy, StaffMember, find_staff_member
from townhall.platform.db import Database
from townhall.platform.notifications import NotificationSender, build_sender
from townhall.settings import Settings

SIGN_IN_STATE = "townhall_sign_in"
VIEWER_STATE_KEY = "townhall_viewer"
# The SignedInStaff or SignedInResident a page guard admitted (who the audit trail records).
SIGNED_IN_STATE_KEY = "townhall_signed_in"
STAFF_SIGN_IN_PATH = "/staff/sign-in"
RESIDENT_SIGN_IN_PATH = "/account/sign-in"


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass
class SignInContext:
    """What signing in needs, built once per app; tests replace ``clock`` and ``sender``."""

    settings: Settings
    database: Database
    keys: SignInKeys
    sender: NotificationSender | None
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def build(cls, settings: Settings, database: Database) -> SignInContext:
        """The context for an app with ``settings`` and ``database``."""
        return cls(
            settings=settings,
            database=database,
            keys=SignInKeys(settings, database),
            sender=build_sender(settings),
        )

    @property
    def sessions(self) -> SessionPolicy:
        """How long sessions last."""
        return SessionPolicy.from_settings(self.settings)

    @property
    def lockout(self) -> LockoutPolicy:
        """When wrong passwords lock a staff account."""
        return LockoutPolicy(
            attempts=self.settings.staff_lockout_attempts,
            duration=timedelta(minutes=self.settings.staff_lockout_minutes),
        )

    @property
    def codes(self) -> CodePolicy:
        """How emailed codes are limited."""
        return CodePolicy(
            attempts=self.settings.one_time_code_attempts,
            per_hour=self.settings.one_time_codes_per_hour,
        )


def sign_in_context(request: Request) -> SignInContext:
    """The sign-in context of the app answering ``request``."""
    context = getattr(request.app.state, SIGN_IN_STATE, None)
    if not isinstance(context, SignInContext):
        msg = "the portal's sign-in is not installed on this app"
        raise RuntimeError(msg)
    return context


@dataclass(frozen=True)
class Viewer:
    """The live session of the browser making a request."""

    session: PortalSessionView

    @property
    def kind(self) -> SessionKind:
        """Staff or resident."""
        return self.session.kind

    @property
    def csrf_token(self) -> str:
        """The token this session's forms carry (the synchronizer token)."""
        return self.session.csrf_secret

    @property
    def sign_out_path(self) -> str:
        """Where this session's sign-out form posts."""
        return "/staff/sign-out" if self.kind == SessionKind.STAFF else "/account/sign-out"


def session_token(request: Request) -> str | None:
    """The session token in the request's cookie, if any (whether or not it is still live)."""
    context = sign_in_context(request)
    return read_cookie(request, context.settings, SESSION_COOKIE)


def identify_viewer(request: Request) -> Viewer | None:
    """The live session behind the request's cookie, or None; looked up once per request."""
    state = request.scope.setdefault("state", {})
    if VIEWER_STATE_KEY in state:
        found: Viewer | None = state[VIEWER_STATE_KEY]
        return found
    token = session_token(request)
    viewer = None
    if token is not None:
        context = sign_in_context(request)
        view = find_session(context.database, token, policy=context.sessions, now=context.clock())
        viewer = Viewer(session=view) if view is not None else None
    state[VIEWER_STATE_KEY] = viewer
    return viewer


async def look_up_viewer(request: Request) -> None:
    """``identify_viewer`` as a router dependency: free without a session cookie, and off the
    event loop with one (the look-up reads the database)."""
    if session_token(request) is None:
        request.scope.setdefault("state", {})[VIEWER_STATE_KEY] = None
        return
    await run_in_threadpool(identify_viewer, request)


def forget_viewer(request: Request) -> None:
    """Drop the cached viewer (after signing in or out within the same request)."""
    request.scope.setdefault("state", {}).pop(VIEWER_STATE_KEY, None)


class SignInRequired(Exception):
    """The page needs someone signed in; the portal answers with a redirect to ``sign_in_path``."""

    def __init__(self, sign_in_path: str) -> None:
        super().__init__(sign_in_path)
        self.sign_in_path = sign_in_path


class PageForbidden(Exception):
    """The person is signed in but their role does not allow the page."""


@dataclass(frozen=True)
class SignedInStaff:
    """A member of staff on a page: their account and the session they are using."""

    member: StaffMember
    session: PortalSessionView


@dataclass(frozen=True)
class SignedInResident:
    """A resident on a page: their own account and the session they are using."""

    member: ResidentMember
    session: PortalSessionView


class StaffRequirement:
    """The guard of a staff page: a live staff session of an enabled account with a role in
    ``roles`` (any role when empty)."""

    def __init__(self, roles: tuple[StaffRole, ...]) -> None:
        self.roles = roles

    def __call__(self, request: Request) -> SignedInStaff:
        viewer = identify_viewer(request)
        if viewer is None or viewer.kind != SessionKind.STAFF:
            raise SignInRequired(STAFF_SIGN_IN_PATH)
        member = find_staff_member(sign_in_context(request).database, viewer.session.account_id)
        if member is None or not member.enabled:
            raise SignInRequired(STAFF_SIGN_IN_PATH)
        if self.roles and member.role not in self.roles:
            raise PageForbidden
        signed_in = SignedInStaff(member=member, session=viewer.session)
        request.scope.setdefault("state", {})[SIGNED_IN_STATE_KEY] = signed_in
        return signed_in


class ResidentRequirement:
    """The guard of a resident page: a live resident session; the account comes only from it."""

    def __call__(self, request: Request) -> SignedInResident:
        viewer = identify_viewer(request)
        if viewer is None or viewer.kind != SessionKind.RESIDENT:
            raise SignInRequired(RESIDENT_SIGN_IN_PATH)
        member = find_resident_member(sign_in_context(request).database, viewer.session.account_id)
        if member is None:
            raise SignInRequired(RESIDENT_SIGN_IN_PATH)
        signed_in = SignedInResident(member=member, session=viewer.session)
        request.scope.setdefault("state", {})[SIGNED_IN_STATE_KEY] = signed_in
        return signed_in


def require_staff(*roles: StaffRole) -> Any:
    """A page dependency giving the ``SignedInStaff``; ``roles`` narrows who may see the page.

    Use as ``staff: Annotated[SignedInStaff, require_staff()]``.
    """
    guard = StaffRequirement(tuple(roles))
    requirement = ",".join(role.value for role in roles) or None
    mark_access(guard, Access(kind="staff", requirement=requirement))
    return Depends(guard)


def require_resident() -> Any:
    """A page dependency giving the ``SignedInResident`` whose session made the request.

    Use as ``resident: Annotated[SignedInResident, require_resident()]``.
    """
    guard = ResidentRequirement()
    mark_access(guard, Access(kind="resident"))
    return Depends(guard)
