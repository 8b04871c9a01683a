"""The principal: who a verified access token says is calling, and with which scopes.

This module owns only the value handed to a protected route. ``require(scope)`` in
``townhall.platform.auth.dependencies`` builds it once the token's signature, lifetime and the
consumer's current grants have all been checked, so a route that receives one may trust it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Principal:
    """A consumer calling with a verified token.

    ``scopes`` are the token's scopes that are still granted now (a grant revoked after the token
    was issued is gone from here within ``TOWNHALL_ACCESS_CACHE_SECONDS``).
    """

    consumer_id: str
    client_id: str
    scopes: frozenset[str]
    purpose: str
    token_id: str
    expires_at: datetime
