"""The scopes a grant may name: ``domain:action``, each with what it allows.

This module owns the registry. A domain that adds an API adds its scopes here, with a
description a person approving a grant can understand; a grant naming any other scope is refused,
so a typing mistake cannot leave a consumer with a grant that silently allows nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from townhall.errors import UnprocessableContent

# Lower-case words joined by hyphens, a colon, then the action: "addresses:read".
SCOPE_SYNTAX = r"^[a-z][a-z0-9-]{0,30}:[a-z][a-z0-9-]{0,30}$"
_SCOPE_PATTERN = re.compile(SCOPE_SYNTAX)


@dataclass(frozen=True)
class Scope:
    """One scope, and what a token carrying it may do."""

    name: str
    description: str


KNOWN_SCOPES: tuple[Scope, ...] = (
    Scope(
        "addresses:read",
        "Read the council's gazetteer (streets, properties, addresses, cross-references) and "
        "match addresses to UPRNs. Reference data, not personal data.",
    ),
    Scope("consumers:read", "Read consumers, their grants and the log of changes to them."),
    Scope(
        "consumers:write",
        "Register consumers, rotate their secrets, grant and revoke scopes, disable consumers.",
    ),
    Scope(
        "events:subscribe",
        "Create and manage this consumer's webhook subscriptions, see their delivery log, "
        "replay and redrive.",
    ),
    Scope("events:read", "Read the change feed of every event (GET /api/v1/events)."),
    Scope(
        "people:read",
        "Read residents' records as the council's systems hold them. Personal data: every use "
        "is recorded with the grant's purpose and shown to the resident.",
    ),
    Scope(
        "people:write",
        "Decide who is who: merge residents, unlink a source record, accept or reject a possible "
        "match, undo a decision, change the golden record's rules. Every change is recorded.",
    ),
    Scope(
        "audit:read",
        "Search the audit trail of uses of personal data (data protection officers). Each "
        "search about a resident is itself recorded.",
    ),
    Scope(
        "audit:write",
        "Hide an investigation's uses of a resident's data from that resident until a date, "
        "and lift such a hold. Each is recorded.",
    ),
    Scope(
        "audit:export",
        "Export everything held about a resident, and every use of it (subject access "
        "requests). Each export is recorded.",
    ),
)


def scope_names() -> frozenset[str]:
    """The name of every known scope."""
    return frozenset(scope.name for scope in KNOWN_SCOPES)


def check_scope(scope: str) -> str:
    """``scope`` if it is well formed and known; UnprocessableContent otherwise."""
    if not _SCOPE_PATTERN.match(scope):
        msg = f"{scope!r} is not a scope: scopes look like domain:action, such as addresses:read."
        raise UnprocessableContent(msg)
    if scope not in scope_names():
        known = ", ".join(sorted(scope_names()))
        msg = f"{scope!r} is not a scope this instance knows. Known scopes: {known}."
        raise UnprocessableContent(msg)
    return scope
