"""The AsyncAPI document: valid AsyncAPI 3.0.0, every registered event type in it, served public."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr

from townhall.app import create_app
from townhall.event_types import ALL_EVENT_TYPES, event_registry
from townhall.platform.events.asyncapi import asyncapi_document
from townhall.platform.events.registry import EventRegistry, EventType
from townhall.settings import Settings

# The official JSON Schema of AsyncAPI 3.0.0, from the @asyncapi/specs package (package.json);
# the "without $id" form has every definition inline, so nothing is fetched to resolve it.
SPEC = Path(__file__).parents[3] / "node_modules/@asyncapi/specs/schemas/3.0.0-without-$id.json"


@pytest.fixture(scope="module")
def official_schema() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.fail(f"{SPEC} is missing: run `npm install` (it is a devDependency)")
    schema: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return schema


def errors_of(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_the_document_is_valid_asyncapi_3(
    settings: Settings, official_schema: dict[str, Any]
) -> None:
    document = asyncapi_document(event_registry(), settings)
    assert document["asyncapi"] == "3.0.0"
    assert errors_of(document, official_schema) == []


def test_the_official_schema_refuses_a_broken_document(
    settings: Settings, official_schema: dict[str, Any]
) -> None:
    document = asyncapi_document(event_registry(), settings)
    del document["info"]["version"]
    document["channels"]["webhooks"]["messages"]["address.updated"]["contentType"] = 7
    assert len(errors_of(document, official_schema)) >= 1


def test_every_registered_event_type_is_a_message_on_every_channel(settings: Settings) -> None:
    document = asyncapi_document(event_registry(), settings)
    assert ALL_EVENT_TYPES
    for channel in ("webhooks", "redisStream", "changeFeed"):
        names = {m["name"] for m in document["channels"][channel]["messages"].values()}
        missing = {t.type for t in ALL_EVENT_TYPES} - names
        assert not missing, f"{channel} lacks {sorted(missing)}"
        refs = [m["$ref"] for op in document["operations"].values() for m in op["messages"]]
        assert len([r for r in refs if r.startswith(f"#/channels/{channel}/")]) == len(
            ALL_EVENT_TYPES
        )


def test_a_message_describes_its_envelope_and_data(settings: Settings) -> None:
    document = asyncapi_document(event_registry(), settings)
    message = document["channels"]["webhooks"]["messages"]["address.updated"]
    assert message["contentType"] == "application/cloudevents+json"
    schemas = document["components"]["schemas"]
    assert message["headers"] == {"$ref": "#/components/schemas/WebhookHeaders"}
    assert set(schemas["WebhookHeaders"]["required"]) == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    envelope = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]
    properties = envelope["properties"]
    assert properties["type"] == {"const": "uk.gov.townhall.address.updated"}
    assert properties["source"] == {
        "const": "urn:townhall:e09000012:addresses",
        "description": properties["source"]["description"],
    }
    assert "LPI key" in properties["subject"]["description"]
    assert {"sequence", "correlationid", "consumerid"} <= set(properties)
    data = schemas[properties["data"]["$ref"].rsplit("/", 1)[1]]
    assert set(data["properties"]) == {"uprn", "import_id", "changes"}
    # The example validates against the envelope's own schema, data included.
    [example] = message["examples"]
    resolver_document = {"components": document["components"], **envelope}
    jsonschema.Draft7Validator(resolver_document).validate(example["payload"])


def test_a_missing_event_type_is_noticed(settings: Settings) -> None:
    class _Data(BaseModel):
        n: int

    extra = EventType(name="note.made", domain="notes", summary="A note.", subject="Its id.",
                      data=_Data, example={"n": 1})  # fmt: skip
    document = asyncapi_document(EventRegistry([*ALL_EVENT_TYPES, extra]), settings)
    names = {m["name"] for m in document["channels"]["changeFeed"]["messages"].values()}
    assert "uk.gov.townhall.note.made" in names
    without = asyncapi_document(event_registry(), settings)
    assert "uk.gov.townhall.note.made" not in {
        m["name"] for m in without["channels"]["changeFeed"]["messages"].values()
    }


def test_the_document_is_served_to_anyone(client: TestClient, settings: Settings) -> None:
    response = client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.json() == asyncapi_document(event_registry(), settings)
    assert response.json()["info"]["title"] == "Townhall events: London Borough of Hackney"


def test_apps_sharing_the_api_routers_serve_each_their_own_document(settings: Settings) -> None:
    # One process builds the API's routers once (townhall.app.api_routers); the document they
    # serve must still be each app's own.
    camden = settings.model_copy(
        update={
            "council_name": "London Borough of Camden",
            "redis_url": SecretStr("redis://camden:6380/0"),
        }
    )
    with TestClient(create_app(settings)) as hackney_client:
        hackney = hackney_client.get("/asyncapi.json").json()
    with TestClient(create_app(camden)) as camden_client:
        served = camden_client.get("/asyncapi.json").json()
    assert hackney["info"]["title"] == "Townhall events: London Borough of Hackney"
    assert served["info"]["title"] == "Townhall events: London Borough of Camden"
    assert served["servers"]["redis"]["host"] == "camden:6380"
