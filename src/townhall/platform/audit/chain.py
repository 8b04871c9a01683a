"""The hash chain: each audit record's hash covers its fields and the hash before it.

``record_hash`` is the one definition of what a record's hash covers, used when a record is
written and when ``townhall audit verify`` recomputes it. The fields are serialised as canonical
JSON (sorted keys, no spaces, times in UTC to the microsecond), so the hash does not depend on
the database, the driver or the order columns come back in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# The "previous hash" of the first record of a chain that has never been purged.
GENESIS_HASH = "0" * 64

# Every column of an audit record the hash covers: all of them but the hash itself.
HASHED_FIELDS = (
    "position",
    "id",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_role",
    "consumer_id",
    "purpose",
    "action",
    "service",
    "data_kind",
    "resident_id",
    "subject",
    "request_id",
    "details",
    "previous_hash",
)


def canonical_time(moment: datetime) -> str:
    """A time as the chain writes it: UTC, microseconds, ``Z``."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(fields: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of a record's ``HASHED_FIELDS``, ``previous_hash`` among them."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["occurred_at"] = canonical_time(payload["occurred_at"])
    encoded = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()
    return hashlib.sha256(encoded).hexdigest()
