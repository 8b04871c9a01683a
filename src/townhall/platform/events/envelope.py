"""The CloudEvents 1.0 envelope of an outbox event, in structured JSON mode.

This module owns turning an ``OutboxEvent`` row into what leaves Townhall, through the
CloudEvents SDK's ``cloudevents.core`` API, so every webhook, change-feed item and stream entry
carries the same bytes for the same event:

- ``id`` the event's UUID (stable, so receivers de-duplicate), ``source``
  ``urn:townhall:<council GSS code>:<domain>``, ``type`` the full type, ``subject`` the opaque id
  of the record, ``time`` when the change was committed;
- ``data`` only what changed, as JSON;
- extension attributes: ``sequence`` (the outbox position, zero-padded so it sorts as text, per
  the CloudEvents sequence extension), ``correlationid`` (the request or import that caused the
  change) and ``consumerid`` (the client id of the consumer that asked for it), when known.
"""

from __future__ import annotations

import json
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from townhall.platform.db import aware
from townhall.platform.events.models import OutboxEvent

CONTENT_TYPE = "application/cloudevents+json"
SEQUENCE_DIGITS = 20


def source_of(council_code: str, domain: str) -> str:
    """The CloudEvents ``source`` of a domain's events on one council's instance."""
    return f"urn:townhall:{council_code.lower()}:{domain}"


def sequence_of(position: int) -> str:
    """A position as the ``sequence`` extension: digits that sort as text as they do as numbers."""
    return str(position).zfill(SEQUENCE_DIGITS)


def to_cloudevent(event: OutboxEvent, *, council_code: str) -> CloudEvent:
    """The CloudEvent of an outbox row (validated by the SDK)."""
    attributes: dict[str, Any] = {
        "id": event.id,
        "source": source_of(council_code, event.domain),
        "type": event.type,
        "subject": event.subject,
        "time": aware(event.time),
        "datacontenttype": "application/json",
        "sequence": sequence_of(event.position),
    }
    if event.correlation_id:
        attributes["correlationid"] = event.correlation_id
    if event.consumer_id:
        attributes["consumerid"] = event.consumer_id
    return CloudEvent(attributes, dict(event.data))


def to_json_bytes(event: OutboxEvent, *, council_code: str) -> bytes:
    """The structured-mode JSON body of an event (``application/cloudevents+json``)."""
    return JSONFormat().write(to_cloudevent(event, council_code=council_code))


def to_dict(event: OutboxEvent, *, council_code: str) -> dict[str, Any]:
    """The envelope as a JSON object, exactly as ``to_json_bytes`` writes it."""
    parsed: dict[str, Any] = json.loads(to_json_bytes(event, council_code=council_code))
    return parsed
