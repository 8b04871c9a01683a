"""The AsyncAPI 3.0.0 document of an instance's events, generated from the event registry.

This module owns ``asyncapi_document``: what a consumer needs to receive Townhall's events,
described once from the same declarations the outbox writes by (``EventType``), so the document
cannot drift from what is sent. It knows no domain: it takes the registry and the settings.

Three channels carry the same CloudEvents envelopes, each a message per event type:

- ``webhooks``: the instance sends each event to the target URL of every subscription that
  selects it, signed with the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature``);
- ``redisStream``: the instance appends each event to a Redis stream (when
  ``TOWNHALL_EVENTS_REDIS_STREAM`` is set), the envelope's JSON in the entry's field ``event``;
- ``changeFeed``: the instance answers ``GET /api/v1/events?after=POSITION`` with pages of them.

Each envelope's schema fixes its ``type``, gives ``data`` its pydantic model's JSON Schema (under
``components.schemas``, so references resolve in the document), and describes ``subject`` and
the extensions ``sequence``, ``correlationid`` and ``consumerid``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from townhall import __version__
from townhall.platform.auth.dependencies import public
from townhall.platform.events.envelope import CONTENT_TYPE, SEQUENCE_DIGITS, source_of
from townhall.platform.events.registry import EventRegistry, EventType
from townhall.platform.http.dependencies import app_context
from townhall.platform.http.routing import townhall_router
from townhall.settings import Settings

ASYNCAPI_VERSION = "3.0.0"
_SCHEMAS = "#/components/schemas/"
_WEBHOOK_HEADERS = "WebhookHeaders"


def asyncapi_document(registry: EventRegistry, settings: Settings) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every event type in ``registry``, as a JSON object."""
    schemas: dict[str, Any] = {_WEBHOOK_HEADERS: _webhook_headers()}
    messages: dict[str, Any] = {}
    for event_type in registry:
        envelope_name = _envelope_name(event_type)
        schemas[envelope_name] = _envelope_schema(event_type, settings.council_code, schemas)
        messages[event_type.name] = _message(event_type, envelope_name)
    channels = {
        "webhooks": _channel(
            None,
            "webhooks",
            "Each subscription's target URL (`POST /api/v1/subscriptions`): one POST per event, "
            "the envelope as the body, signed with the subscription's secret.",
            messages,
            webhook=True,
        ),
        "redisStream": _channel(
            settings.events_redis_stream,
            "redis",
            "The Redis stream every event is appended to, once, with its position as the entry "
            "id; the envelope's JSON is the entry's field `event`. Read it with a consumer "
            "group (XREADGROUP).",
            messages,
        ),
        "changeFeed": _channel(
            "/api/v1/events",
            "api",
            "The change feed: `GET /api/v1/events?after=POSITION` (scope `events:read`) "
            "answers a page of envelopes and `next_after`; pass it back to read on.",
            messages,
        ),
    }
    operations = {
        "sendWebhook": _operation(
            "webhooks", "POST each event to every subscription that selects it.", messages
        ),
        "appendToRedisStream": _operation(
            "redisStream", "Append each event to the Redis stream.", messages
        ),
        "serveChangeFeed": _operation(
            "changeFeed", "Give each event to consumers reading the change feed.", messages
        ),
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": f"urn:townhall:{settings.council_code.lower()}:events",
        "info": {
            "title": f"Townhall events: {settings.council_name}",
            "version": __version__,
            "description": (
                "Every change to a record, as a CloudEvents 1.0 envelope (structured JSON), "
                "committed with the change and told to subscribers within a fraction of a "
                "second. Each event's `id` is stable across deliveries (de-duplicate on it); "
                "`sequence` is its position in the instance's log, the order of commit."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(settings),
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas},
    }


_DOCUMENT_STATE = "townhall_asyncapi_document"


def build_asyncapi_router() -> APIRouter:
    """``GET /asyncapi.json``: the document, public like ``/openapi.json``."""
    router = townhall_router()

    @router.get("/asyncapi.json", dependencies=[public()], include_in_schema=False)
    def asyncapi(request: Request) -> JSONResponse:
        # Built on first use and kept by the app, not the router: one router serves many apps.
        document: dict[str, Any] | None = getattr(request.app.state, _DOCUMENT_STATE, None)
        if document is None:
            context = app_context(request)
            document = asyncapi_document(context.event_types, context.settings)
            setattr(request.app.state, _DOCUMENT_STATE, document)
        return JSONResponse(document)

    return router


def _servers(settings: Settings) -> dict[str, Any]:
    redis_host = "localhost:6379"
    if settings.redis_url is not None:
        parsed = urlsplit(settings.redis_url.get_secret_value())
        # Host and port only: the URL may carry a password.
        redis_host = f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"
    return {
        "webhooks": {
            "host": "{subscriberHost}",
            "protocol": "https",
            "description": "The host of a subscription's target URL, chosen by the subscriber.",
            "variables": {"subscriberHost": {"description": "Host (and port) of the target."}},
        },
        "redis": {
            "host": redis_host,
            "protocol": "redis",
            "description": "The Redis server the instance appends events to (TOWNHALL_REDIS_URL).",
        },
        "api": {
            "host": "{instanceHost}",
            "protocol": "https",
            "description": "This Townhall instance's API.",
            "variables": {"instanceHost": {"description": "The instance's host (and port)."}},
        },
    }


def _channel(
    address: str | None,
    server: str,
    description: str,
    messages: dict[str, Any],
    *,
    webhook: bool = False,
) -> dict[str, Any]:
    channel_messages: dict[str, Any] = {}
    for key, message in messages.items():
        if webhook:
            channel_messages[key] = {**message, "headers": {"$ref": _SCHEMAS + _WEBHOOK_HEADERS}}
        else:
            channel_messages[key] = message
    return {
        # null: the address is the subscriber's, or unset until configured.
        "address": address,
        "description": description,
        "servers": [{"$ref": f"#/servers/{server}"}],
        "messages": channel_messages,
    }


def _operation(channel: str, summary: str, messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{key}"} for key in messages],
    }


def _message(event_type: EventType, envelope_name: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": event_type.type,
        "title": event_type.name,
        "summary": event_type.summary,
        "contentType": CONTENT_TYPE,
        "payload": {"$ref": _SCHEMAS + envelope_name},
    }
    if event_type.example:
        message["examples"] = [
            {
                "name": event_type.name.replace(".", "-"),
                "summary": f"A {event_type.name} event.",
                "payload": _example_envelope(event_type),
            }
        ]
    return message


def _envelope_name(event_type: EventType) -> str:
    words = event_type.name.replace("-", ".").split(".")
    return "".join(word.capitalize() for word in words) + "Event"


def _envelope_schema(
    event_type: EventType, council_code: str, schemas: dict[str, Any]
) -> dict[str, Any]:
    data = event_type.data.model_json_schema(ref_template=_SCHEMAS + "{model}")
    schemas.update(data.pop("$defs", {}))
    data_name = event_type.data.__name__
    schemas[data_name] = data
    optional_text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": f"{event_type.summary} Subject: {event_type.subject}",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "data",
            "sequence",
        ],
        "properties": {
            "specversion": {"const": "1.0", "description": "CloudEvents 1.0."},
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "The event's id, the same on every delivery: de-duplicate on it.",
            },
            "source": {
                "const": source_of(council_code, event_type.domain),
                "description": "The council's instance and the domain that emitted the event.",
            },
            "type": {"const": event_type.type},
            "subject": {"type": "string", "description": event_type.subject},
            "time": {
                "type": "string",
                "format": "date-time",
                "description": "When the change was made (UTC).",
            },
            "datacontenttype": {"const": "application/json"},
            "data": {"$ref": _SCHEMAS + data_name},
            "sequence": {
                "type": "string",
                "pattern": f"^[0-9]{{{SEQUENCE_DIGITS}}}$",
                "description": (
                    "The event's position in the instance's log (the order of commit), "
                    "zero-padded so it sorts as text; the change feed's `after`."
                ),
            },
            "correlationid": {
                **optional_text,
                "description": "The request or import that caused the change, when known.",
            },
            "consumerid": {
                **optional_text,
                "description": "The client id of the API consumer whose call caused the change.",
            },
        },
    }


def _example_envelope(event_type: EventType) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "0b6f1b7e-3c1a-4e25-9d3e-5a1f2c7d8e90",
        "source": source_of("e09000012", event_type.domain),
        "type": event_type.type,
        "subject": "100021045723",
        "time": "2025-07-01T10:00:00.123456Z",
        "datacontenttype": "application/json",
        "data": event_type.example,
        "sequence": "1".zfill(SEQUENCE_DIGITS),
        "correlationid": "4f1c2a9e-6d0b-4f7e-9a51-0d3c9a1e2b77",
    }


def _webhook_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Standard Webhooks signature headers, on every webhook request.",
        "required": ["webhook-id", "webhook-timestamp", "webhook-signature"],
        "properties": {
            "webhook-id": {
                "type": "string",
                "description": "The event's id: the same on every retry (de-duplicate on it).",
            },
            "webhook-timestamp": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "When this attempt was signed, in seconds since 1970 (UTC).",
            },
            "webhook-signature": {
                "type": "string",
                "description": (
                    "`v1,` then base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}."
                    "{body}` keyed with the subscription's secret (the part after `whsec_`, "
                    "base64-decoded)."
                ),
            },
        },
    }
