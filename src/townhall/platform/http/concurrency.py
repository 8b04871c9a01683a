"""Optimistic concurrency: ETags on mutable resources, and ``If-Match`` on every change.

This module owns the rules of RFC 9110 section 13 as Townhall applies them. A mutable
resource's representation carries a strong ETag (``etag_of``). PATCH, PUT and DELETE need
``If-Match`` (428 without it); the service compares it with the resource's current ETag inside
its write unit of work (``Precondition.check``), so a change made since the caller read the
resource is a 412, never a silent overwrite. A POST action that changes one versioned resource
(a merge into a resident) takes ``If-Match`` when sent (``optional_if_match``): POST is a create
with its ``Idempotency-Key``, so the standard does not make it a 428. GETs honour
``If-None-Match`` with a 304.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from townhall.errors import InvalidHeader, PreconditionFailed, PreconditionRequired

# One or more quoted entity tags separated by commas, or `*` (RFC 9110 section 13.1.1).
ENTITY_TAG_LIST = r'^\s*(\*|(W/)?"[^"\x00]*"(\s*,\s*(W/)?"[^"\x00]*")*)\s*$'


def etag_of(representation: BaseModel) -> str:
    """A strong ETag for a resource's representation: it changes whenever any field does."""
    digest = hashlib.sha256(representation.model_dump_json().encode()).digest()[:12]
    return '"' + base64.urlsafe_b64encode(digest).decode("ascii") + '"'


def _parse_entity_tags(value: str) -> list[str]:
    """The entity tags of an ``If-Match``/``If-None-Match`` value (``*`` stays ``*``)."""
    tags = [part.strip() for part in value.split(",") if part.strip()]
    for tag in tags:
        opaque = tag.removeprefix("W/")
        if tag != "*" and not (len(opaque) >= 2 and opaque[0] == opaque[-1] == '"'):
            raise InvalidHeader(f'{tag!r} is not an entity tag: ETags are quoted, like "abc".')
    return tags


@dataclass(frozen=True)
class Precondition:
    """What the caller said the resource must still be (the entity tags of ``If-Match``)."""

    tags: tuple[str, ...]

    def check(self, current_etag: str) -> None:
        """Raise PreconditionFailed unless ``current_etag`` is one the caller named."""
        if "*" in self.tags:
            return
        # If-Match uses the strong comparison: a weak tag never matches.
        if current_etag not in self.tags:
            raise PreconditionFailed(
                "The resource has changed since you read it. Read it again for its new ETag, "
                "re-apply your change, and send that ETag in If-Match.",
                headers={"ETag": current_etag},
            )


def _if_match_header(description: str) -> Any:
    """The ``If-Match`` header as an operation documents it: one or more entity tags, or ``*``."""
    return Header(
        alias="If-Match", description=description, max_length=1024, pattern=ENTITY_TAG_LIST
    )


def _precondition(if_match: str | None) -> Precondition | None:
    if if_match is None or not if_match.strip():
        return None
    return Precondition(tags=tuple(_parse_entity_tags(if_match)))


async def require_if_match(
    if_match: Annotated[
        str | None,
        _if_match_header("The ETag of the resource as you last read it (or `*`)."),
    ] = None,
) -> Precondition:
    """Read ``If-Match``; its absence is a 428, since changes without it could overwrite others'.

    Async, though it only parses a header, so FastAPI does not send it to the threadpool.
    """
    precondition = _precondition(if_match)
    if precondition is None:
        raise PreconditionRequired(
            "Send If-Match with the ETag you last read, so no one else's change is overwritten."
        )
    return precondition


IfMatchDep = Annotated[Precondition, Depends(require_if_match)]


async def optional_if_match(
    if_match: Annotated[
        str | None,
        _if_match_header(
            "The ETag of the resource as you last read it (or `*`). Optional: without it the "
            "change applies to the resource as it is now; with it, a change made since you "
            "read it is a 412."
        ),
    ] = None,
) -> Precondition | None:
    """Read ``If-Match`` where a change may be made without it (None when absent)."""
    return _precondition(if_match)


OptionalIfMatchDep = Annotated[Precondition | None, Depends(optional_if_match)]


def answer_not_modified(request: Request, etag: str) -> bool:
    """True when the caller's ``If-None-Match`` already names ``etag`` (weak comparison)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = _parse_entity_tags(header)
    return "*" in tags or etag.removeprefix("W/") in {t.removeprefix("W/") for t in tags}


def with_etag(response: Response, etag: str) -> None:
    """Set the ``ETag`` of a response."""
    response.headers["ETag"] = etag


def answer_with_etag(request: Request, response: Response, etag: str, body: Any) -> Any:
    """A GET's answer: ``body`` with its ETag, or an empty 304 when If-None-Match names it."""
    if answer_not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    with_etag(response, etag)
    return body
