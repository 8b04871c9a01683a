"""How a route records its use of personal data: ``personal_data(...)`` and ``DataUses``.

A route that reads or writes a resident's personal data declares it::

    uses: Annotated[DataUses, personal_data(PEOPLE, SOURCE_RECORD)]

and records each use through ``uses``: ``await uses.record(uses.of(resident_id))`` after reading
(batched and committed before the answer, see ``recorder``), or ``uses.write(session, ...)`` in
the unit of work of a change. Who acted comes from the route's guard, never from the route: the
consumer behind a verified token (with the purpose of its grant), or the member of staff or
resident signed in to the portal (with the purpose the route declares for people on pages).

The declaration marks the route, so a contract test can find every personal-data route and
check that calling it records a use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.orm import Session

from townhall.platform.audit.recorder import UseRecorder
from townhall.platform.audit.uses import Actor, DataUse, current_request_id, record_uses
from townhall.platform.audit.vocabulary import Action, ActorKind, DataKind, Service
from townhall.platform.auth.dependencies import PRINCIPAL_STATE
from townhall.platform.auth.principal import Principal
from townhall.platform.auth.sessions import SIGNED_IN_STATE_KEY, SignedInResident, SignedInStaff

PERSONAL_DATA_ATTRIBUTE = "__townhall_personal_data__"
# What a resident using their own data is recorded as doing it for.
OWN_REQUEST = "At your own request"


@dataclass(frozen=True)
class PersonalData:
    """What a route declares: the service it belongs to, the kind of data, and the purpose of
    people who use it on a page (consumers' purpose is their grant's)."""

    service: Service
    data_kind: DataKind
    purpose: str | None = None


class DataUses:
    """The uses one request makes of personal data, recorded for whoever made the request."""

    def __init__(self, request: Request, declared: PersonalData, recorder: UseRecorder) -> None:
        self.request = request
        self.declared = declared
        self.recorder = recorder

    @property
    def actor(self) -> Actor:
        """Who is using the data and why, from what the route's guard admitted."""
        return actor_of_request(self.request, self.declared.purpose)

    def of(
        self,
        resident_id: str | None,
        *,
        action: Action = Action.VIEWED,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
        data_kind: DataKind | None = None,
    ) -> DataUse:
        """One use by this request's actor (the route's declared kind of data by default)."""
        return DataUse(
            actor=self.actor,
            action=action,
            service=self.declared.service,
            data_kind=data_kind or self.declared.data_kind,
            resident_id=resident_id,
            subject=subject,
            details=dict(details or {}),
            request_id=current_request_id(),
        )

    async def record(self, *uses: DataUse) -> None:
        """Record reads; returns once committed (``DataUseNotRecorded``, a 503, otherwise)."""
        await self.recorder.record(uses)

    def record_now(self, *uses: DataUse) -> None:
        """``record`` for a route that is not async."""
        self.recorder.record_now(uses)

    def write(self, session: Session, *uses: DataUse) -> None:
        """Record uses in the unit of work of the change they describe."""
        record_uses(session, uses)


def actor_of_request(request: Request, page_purpose: str | None) -> Actor:
    """The actor a guard admitted: a consumer's token, or a member of staff or a resident."""
    state = request.scope.get("state", {})
    principal = state.get(PRINCIPAL_STATE)
    if isinstance(principal, Principal):
        return Actor(
            kind=ActorKind.CONSUMER, purpose=principal.purpose, consumer_id=principal.consumer_id
        )
    signed_in = state.get(SIGNED_IN_STATE_KEY)
    if isinstance(signed_in, SignedInStaff):
        if page_purpose is None:
            msg = "a staff page using personal data must declare its purpose"
            raise RuntimeError(msg)
        member = signed_in.member
        return Actor(
            kind=ActorKind.STAFF, purpose=page_purpose, id=member.id, role=member.role.value
        )
    if isinstance(signed_in, SignedInResident):
        return Actor(
            kind=ActorKind.RESIDENT, purpose=page_purpose or OWN_REQUEST, id=signed_in.member.id
        )
    # A route using personal data without a guard is a bug: refuse rather than record no one.
    msg = "a personal-data route was reached without a guard saying who is calling"
    raise RuntimeError(msg)


def personal_data(service: Service, data_kind: DataKind, *, purpose: str | None = None) -> Any:
    """A dependency giving the request's ``DataUses``; marks the route as using personal data.

    ``purpose`` is what staff (and residents) on a page use the data for; consumers calling with
    a token use it for the purpose of their grant.
    """
    declared = PersonalData(service, data_kind, purpose)

    # Async, so FastAPI calls it on the event loop instead of hopping to a worker thread.
    async def data_uses(request: Request) -> DataUses:
        return DataUses(request, declared, request.app.state.townhall.audit)

    setattr(data_uses, PERSONAL_DATA_ATTRIBUTE, declared)
    return Depends(data_uses)


def route_personal_data(route: object) -> PersonalData | None:
    """What ``route`` declares about the personal data it uses, if it declares anything."""
    dependant = getattr(route, "dependant", None)
    if not isinstance(dependant, Dependant):
        return None
    for sub in _walk(dependant):
        found = getattr(sub.call, PERSONAL_DATA_ATTRIBUTE, None)
        if isinstance(found, PersonalData):
            return found
    return None


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)
