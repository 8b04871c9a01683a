"""The subscriptions API end to end: a real token, then every operation and each bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.platform.auth.factories import register_consumer
from tests.tokens import bearer, request_token
from townhall.app import create_app
from townhall.event_types import event_registry
from townhall.platform.db import Database
from townhall.platform.events.models import Delivery, DeliveryAttempt, OutboxEvent, Subscription
from townhall.platform.events.outbox import emit
from townhall.platform.events.signing_secrets import SecretSealer
from townhall.platform.events.wakeup import signal_for
from townhall.settings import Settings

ADDRESS_UPDATED = "uk.gov.townhall.address.updated"
# A public address given literally, so creating a subscription asks no DNS server.
TARGET = "https://93.184.215.14/townhall/events"
NEW = {
    "description": "Parking permits: addresses that change",
    "target_url": TARGET,
    "event_types": ["uk.gov.townhall.address.*"],
}


def _caller(client: TestClient, database: Database, name: str) -> dict[str, str]:
    registered = register_consumer(database, scopes=["events:subscribe"], name=name)
    return bearer(request_token(client, registered)["access_token"])


@pytest.fixture
def owner(client: TestClient, database: Database) -> dict[str, str]:
    return _caller(client, database, "Parking permits")


@pytest.fixture
def stranger(client: TestClient, database: Database) -> dict[str, str]:
    return _caller(client, database, "Council tax")


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/subscriptions", json={**NEW, **fields}, headers=headers)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _emit(database: Database, count: int, subject: str = "lpi-1") -> list[int]:
    event_type = event_registry().get(ADDRESS_UPDATED)
    with database.write() as session:
        for _ in range(count):
            emit(session, event_type, subject, {"changes": {"postcode": {"old": "A", "new": "B"}}})
    with database.read() as session:
        return list(
            session.scalars(
                select(OutboxEvent.position).order_by(OutboxEvent.position.desc()).limit(count)
            )
        )[::-1]


def _deliveries(
    database: Database, subscription_id: str, positions: list[int], status: str
) -> list[int]:
    now = datetime.now(UTC)
    ids = []
    with database.write() as session:
        for position in positions:
            delivery = Delivery(
                subscription_id=subscription_id,
                event_position=position,
                subject="lpi-1",
                status=status,
                attempts=3,
                next_attempt_at=now,
                created_at=now,
                completed_at=None if status == "pending" else now,
                last_status_code=500,
                last_error="HTTP 500",
                last_latency_ms=12.5,
            )
            session.add(delivery)
            session.flush()
            for outcome in ("retry", "retry", "dead" if status == "dead" else "delivered"):
                session.add(
                    DeliveryAttempt(
                        delivery_id=delivery.id,
                        attempted_at=now,
                        outcome=outcome,
                        status_code=500 if outcome != "delivered" else 204,
                        error=None,
                        latency_ms=12.5,
                    )
                )
            ids.append(delivery.id)
    return ids


def _row(database: Database, subscription_id: str) -> Subscription:
    with database.read() as session:
        row = session.get(Subscription, subscription_id)
        assert row is not None
        session.expunge(row)
        return row


# --- create -----------------------------------------------------------------------------------


def test_create_answers_201_with_the_secret_once_and_starts_at_the_outbox_end(
    client: TestClient, database: Database, settings: Settings, owner: dict[str, str]
) -> None:
    before = _emit(database, 2)
    answer = client.post("/api/v1/subscriptions", json=NEW, headers=owner)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["secret"].startswith("whsec_")
    assert body["status"] == "active"
    assert body["event_types"] == NEW["event_types"]
    assert answer.headers["Location"].endswith(f"/api/v1/subscriptions/{body['id']}")
    assert answer.headers["ETag"]
    row = _row(database, body["id"])
    # It receives what is committed after it exists, not the two events before it.
    assert row.position == before[-1]
    assert body["secret"] not in row.secret_sealed
    assert SecretSealer(database, settings).unseal(row.secret_sealed, body["id"]) == body["secret"]


def test_a_subscription_on_an_empty_outbox_starts_at_zero(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    created = _create(client, owner, status="paused")
    assert created["status"] == "paused"
    assert _row(database, created["id"]).position == 0


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"event_types": ["uk.gov.townhall.nothing.*"]}, "body.event_types.0", "selects no"),
        (
            {"event_types": [ADDRESS_UPDATED, "not a type"]},
            "body.event_types.1",
            "not an event type filter",
        ),
        ({"event_types": []}, "body.event_types", "at least 1"),
        ({"target_url": "ftp://93.184.215.14/x"}, "body.target_url", "https://"),
        ({"target_url": "https://user:pw@93.184.215.14/"}, "body.target_url", "password"),
        ({"target_url": "https://93.184.215.14/#x"}, "body.target_url", "fragment"),
        ({"target_url": "http://127.0.0.1:9/hook"}, "body.target_url", "loopback"),
        ({"target_url": "http://169.254.169.254/latest"}, "body.target_url", "link-local"),
        ({"target_url": "http://10.0.0.7/hook"}, "body.target_url", "private"),
        ({"target_url": "http://[::ffff:127.0.0.1]/"}, "body.target_url", "loopback"),
        ({"target_url": "http://localhost:8080/"}, "body.target_url", "loopback"),
        ({"description": "   "}, "body.description", "pattern"),
        ({"status": "deleted"}, "body.status", "active"),
        ({"secret": "whsec_mine"}, "body.secret", "Unknown property"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    *,
    client: TestClient,
    database: Database,
    owner: dict[str, str],
    fields: dict[str, Any],
    field: str,
    says: str,
) -> None:
    answer = client.post("/api/v1/subscriptions", json={**NEW, **fields}, headers=owner)
    assert answer.status_code == 422, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert says in errors[0]["message"]
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Subscription)) == 0


def test_private_targets_are_allowed_when_the_setting_says_so(
    settings: Settings, database: Database
) -> None:
    allowing = settings.model_copy(update={"events_allow_private_targets": True})
    with TestClient(create_app(allowing), raise_server_exceptions=False) as client:
        owner = _caller(client, database, "Parking permits")
        created = _create(client, owner, target_url="http://127.0.0.1:8080/hook")
        assert created["target_url"] == "http://127.0.0.1:8080/hook"


def test_a_retried_create_with_the_same_idempotency_key_makes_one_subscription(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    headers = {**owner, "Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/subscriptions", json=NEW, headers=headers)
    again = client.post("/api/v1/subscriptions", json=NEW, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    other = client.post(
        "/api/v1/subscriptions", json={**NEW, "description": "Another"}, headers=headers
    )
    assert other.status_code == 422
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Subscription)) == 1


# --- read, list, isolation --------------------------------------------------------------------


def test_the_secret_never_appears_again_nor_in_the_logs(
    client: TestClient, owner: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    created = _create(client, owner)
    rotated = client.post(
        f"/api/v1/subscriptions/{created['id']}/secret-rotations", headers=owner
    ).json()
    secrets = [created["secret"], rotated["secret"]]
    got = client.get(f"/api/v1/subscriptions/{created['id']}", headers=owner)
    listed = client.get("/api/v1/subscriptions", headers=owner)
    patched = client.patch(
        f"/api/v1/subscriptions/{created['id']}",
        json={"description": "Renamed"},
        headers={**owner, "If-Match": got.headers["ETag"]},
    )
    assert got.status_code == listed.status_code == patched.status_code == 200
    for answer in (got, listed, patched):
        assert "secret" not in answer.text
    logged = capfd.readouterr()
    for secret in secrets:
        assert secret not in logged.out + logged.err
        assert secret.removeprefix("whsec_") not in logged.out + logged.err


def test_each_consumer_sees_only_its_own_subscriptions(
    client: TestClient,
    database: Database,
    owner: dict[str, str],
    stranger: dict[str, str],
) -> None:
    mine = _create(client, owner)
    theirs = _create(client, stranger)
    listed = client.get("/api/v1/subscriptions", headers=owner).json()
    assert [s["id"] for s in listed["items"]] == [mine["id"]]
    base = f"/api/v1/subscriptions/{theirs['id']}"
    etag = client.get(base, headers=stranger).headers["ETag"]
    attempts = [
        client.get(base, headers=owner),
        client.patch(base, json={"status": "paused"}, headers={**owner, "If-Match": etag}),
        client.delete(base, headers={**owner, "If-Match": etag}),
        client.post(f"{base}/secret-rotations", headers=owner),
        client.get(f"{base}/deliveries", headers=owner),
        client.get(f"{base}/deliveries/1/attempts", headers=owner),
        client.post(f"{base}/replays", json={"from_position": 0}, headers=owner),
        client.get(f"{base}/dead-letters", headers=owner),
        client.post(f"{base}/dead-letters/redrive", json={}, headers=owner),
    ]
    for answer in attempts:
        # Another consumer's subscription is as absent as one that never existed.
        assert answer.status_code == 404, answer.request.url
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert _row(database, theirs["id"]).version == 1


def test_the_list_pages_with_cursors(client: TestClient, owner: dict[str, str]) -> None:
    made = [_create(client, owner, description=f"Hook {n}")["id"] for n in range(3)]
    first = client.get("/api/v1/subscriptions", params={"limit": 2}, headers=owner)
    body = first.json()
    assert [s["id"] for s in body["items"]] == made[:2]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(
        "/api/v1/subscriptions", params={"limit": 2, "cursor": body["next_cursor"]}, headers=owner
    ).json()
    assert [s["id"] for s in second["items"]] == made[2:]
    assert second["next_cursor"] is None
    tampered = client.get(
        "/api/v1/subscriptions", params={"cursor": body["next_cursor"] + "x"}, headers=owner
    )
    assert tampered.status_code == 400


def test_get_honours_if_none_match(client: TestClient, owner: dict[str, str]) -> None:
    created = _create(client, owner)
    url = f"/api/v1/subscriptions/{created['id']}"
    etag = client.get(url, headers=owner).headers["ETag"]
    assert client.get(url, headers={**owner, "If-None-Match": etag}).status_code == 304


def test_the_scope_is_needed(client: TestClient, database: Database) -> None:
    registered = register_consumer(database, scopes=["events:read"], name="Feed reader")
    headers = bearer(request_token(client, registered)["access_token"])
    assert client.get("/api/v1/subscriptions", headers=headers).status_code == 403
    assert client.get("/api/v1/subscriptions").status_code == 401


# --- change, pause, delete, rotate ------------------------------------------------------------


def test_patch_needs_a_current_etag_and_pauses_and_resumes(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    created = _create(client, owner)
    url = f"/api/v1/subscriptions/{created['id']}"
    etag = client.get(url, headers=owner).headers["ETag"]
    assert client.patch(url, json={"status": "paused"}, headers=owner).status_code == 428
    stale = client.patch(url, json={"status": "paused"}, headers={**owner, "If-Match": '"v0"'})
    assert stale.status_code == 412
    assert stale.headers["ETag"] == etag
    paused = client.patch(url, json={"status": "paused"}, headers={**owner, "If-Match": etag})
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert paused.headers["ETag"] != etag
    signal = signal_for(str(database.engine.url))
    seen = signal.generation
    resumed = client.patch(
        url,
        json={"status": "active", "event_types": [ADDRESS_UPDATED]},
        headers={
            **owner,
            "If-Match": paused.headers["ETag"],
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["event_types"] == [ADDRESS_UPDATED]
    # Resuming wakes the dispatcher, so what waited goes out now.
    assert signal.generation > seen
    assert _row(database, created["id"]).version == 3


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"event_types": ["uk.gov.townhall.nothing"]}, "body.event_types.0"),
        ({"target_url": "http://192.168.0.1/"}, "body.target_url"),
        ({"status": None}, "body"),
        ({"position": 0}, "body.position"),
    ],
)
def test_a_bad_patch_is_a_422_and_changes_nothing(
    client: TestClient,
    database: Database,
    owner: dict[str, str],
    patch: dict[str, Any],
    field: str,
) -> None:
    created = _create(client, owner)
    url = f"/api/v1/subscriptions/{created['id']}"
    etag = client.get(url, headers=owner).headers["ETag"]
    answer = client.patch(url, json=patch, headers={**owner, "If-Match": etag})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert _row(database, created["id"]).version == 1


def test_delete_needs_a_current_etag_and_takes_the_delivery_log_with_it(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    created = _create(client, owner)
    _deliveries(database, created["id"], _emit(database, 2), "delivered")
    url = f"/api/v1/subscriptions/{created['id']}"
    etag = client.get(url, headers=owner).headers["ETag"]
    assert client.delete(url, headers=owner).status_code == 428
    assert client.delete(url, headers={**owner, "If-Match": '"v9"'}).status_code == 412
    assert client.delete(url, headers={**owner, "If-Match": etag}).status_code == 204
    assert client.get(url, headers=owner).status_code == 404
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 0


def test_rotation_gives_a_new_secret_and_the_old_one_stops(
    client: TestClient, database: Database, settings: Settings, owner: dict[str, str]
) -> None:
    created = _create(client, owner)
    answer = client.post(f"/api/v1/subscriptions/{created['id']}/secret-rotations", headers=owner)
    assert answer.status_code == 201, answer.text
    rotated = answer.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    row = _row(database, created["id"])
    assert SecretSealer(database, settings).unseal(row.secret_sealed, row.id) == rotated["secret"]
    assert row.version == 2


# --- deliveries, attempts ---------------------------------------------------------------------


def test_the_delivery_log_lists_newest_first_with_each_events_id_and_its_attempts(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    created = _create(client, owner)
    positions = _emit(database, 3)
    delivered = _deliveries(database, created["id"], positions[:2], "delivered")
    dead = _deliveries(database, created["id"], positions[2:], "dead")
    base = f"/api/v1/subscriptions/{created['id']}"
    page = client.get(f"{base}/deliveries", params={"limit": 2}, headers=owner)
    assert page.status_code == 200, page.text
    body = page.json()
    assert [d["id"] for d in body["items"]] == [dead[0], delivered[1]]
    newest = body["items"][0]
    assert newest["event_position"] == positions[2]
    assert newest["event_type"] == ADDRESS_UPDATED
    assert len(newest["event_id"]) == 36
    assert newest["status"] == "dead"
    assert newest["next_attempt_at"] is None
    assert (newest["attempts"], newest["last_status_code"], newest["last_latency_ms"]) == (
        3,
        500,
        12.5,
    )
    rest = client.get(
        f"{base}/deliveries", params={"limit": 2, "cursor": body["next_cursor"]}, headers=owner
    ).json()
    assert [d["id"] for d in rest["items"]] == [delivered[0]]
    only_dead = client.get(f"{base}/deliveries", params={"status": "dead"}, headers=owner).json()
    assert [d["id"] for d in only_dead["items"]] == dead
    assert (
        client.get(f"{base}/deliveries", params={"status": "lost"}, headers=owner).status_code
        == 422
    )
    attempts = client.get(f"{base}/deliveries/{dead[0]}/attempts", headers=owner).json()
    assert [a["outcome"] for a in attempts["items"]] == ["retry", "retry", "dead"]


def test_attempts_of_another_subscriptions_delivery_are_not_found(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    first, second = _create(client, owner), _create(client, owner)
    [delivery] = _deliveries(database, second["id"], _emit(database, 1), "delivered")
    answer = client.get(
        f"/api/v1/subscriptions/{first['id']}/deliveries/{delivery}/attempts", headers=owner
    )
    assert answer.status_code == 404


# --- replay ------------------------------------------------------------------------------------


def test_replay_from_a_position_resets_the_deliveries_after_it_and_moves_the_position_back(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    positions = _emit(database, 1)
    created = _create(client, owner)
    later = _emit(database, 3)
    ids = _deliveries(database, created["id"], later, "delivered")
    with database.write() as session:
        row = session.get(Subscription, created["id"])
        assert row is not None
        row.position = later[-1]  # as the dispatcher leaves it once it has fanned them out
    signal = signal_for(str(database.engine.url))
    seen = signal.generation
    answer = client.post(
        f"/api/v1/subscriptions/{created['id']}/replays",
        json={"from_position": later[0]},
        headers=owner,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"reset": 2, "position": later[0]}
    assert signal.generation > seen
    with database.read() as session:
        found = session.execute(select(Delivery.id, Delivery.status, Delivery.attempts)).all()
    states = {row[0]: row[1] for row in found}
    attempts = {row[0]: row[2] for row in found}
    assert [states[i] for i in ids] == ["delivered", "pending", "pending"]
    assert [attempts[i] for i in ids] == [3, 0, 0]
    row = _row(database, created["id"])
    assert (row.position, row.version) == (later[0], 2)
    # Back to before the subscription existed: fan-out will find the older event too.
    earlier = client.post(
        f"/api/v1/subscriptions/{created['id']}/replays",
        json={"from_position": positions[0] - 1},
        headers=owner,
    )
    assert earlier.json() == {"reset": 3, "position": positions[0] - 1}


def test_replay_from_a_time_starts_before_the_first_event_at_or_after_it(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    created = _create(client, owner)
    positions = _emit(database, 3)
    with database.read() as session:
        second_time = session.scalar(
            select(OutboxEvent.time).where(OutboxEvent.position == positions[1])
        )
    assert second_time is not None
    # Make the third event plainly later than the second, so a time between them is exact.
    with database.write() as session:
        third = session.get(OutboxEvent, positions[2])
        assert third is not None
        third.time = second_time + timedelta(seconds=10)
    between = (second_time.replace(tzinfo=UTC) + timedelta(seconds=5)).isoformat()
    answer = client.post(
        f"/api/v1/subscriptions/{created['id']}/replays",
        json={"from_time": between},
        headers=owner,
    )
    assert answer.status_code == 202, answer.text
    # Its position was already before these: replays never move a subscription forward.
    assert answer.json() == {"reset": 0, "position": positions[0] - 1}
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    nothing = client.post(
        f"/api/v1/subscriptions/{created['id']}/replays", json={"from_time": future}, headers=owner
    )
    assert nothing.json()["reset"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, ""),
        ({"from_position": 0, "from_time": "2024-01-01T00:00:00Z"}, ""),
        ({"from_position": -1}, "from_position"),
        ({"from_position": 999_999}, "from_position"),
        ({"from_time": "2024-01-01T00:00:00"}, "from_time"),
        ({"from_time": "yesterday"}, "from_time"),
    ],
)
def test_a_bad_replay_is_a_422(
    client: TestClient,
    database: Database,
    owner: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    created = _create(client, owner)
    _emit(database, 1)
    answer = client.post(f"/api/v1/subscriptions/{created['id']}/replays", json=body, headers=owner)
    assert answer.status_code == 422, answer.text
    fields = [e["field"] for e in answer.json()["errors"]]
    # Exactly one of the two shapes: the errors name the body, and the field when there is one.
    assert all(f.startswith("body") for f in fields)
    assert any(f.endswith(field) for f in fields)


# --- dead letters ------------------------------------------------------------------------------


def test_dead_letters_are_listed_and_redriven(
    client: TestClient, database: Database, owner: dict[str, str]
) -> None:
    created = _create(client, owner)
    positions = _emit(database, 4)
    dead = _deliveries(database, created["id"], positions[:3], "dead")
    [delivered] = _deliveries(database, created["id"], positions[3:], "delivered")
    base = f"/api/v1/subscriptions/{created['id']}"
    listed = client.get(f"{base}/dead-letters", headers=owner).json()
    assert [d["id"] for d in listed["items"]] == dead[::-1]

    one = client.post(
        f"{base}/dead-letters/redrive", json={"delivery_ids": [dead[0], delivered]}, headers=owner
    )
    assert one.status_code == 202, one.text
    assert one.json() == {"redriven": 1}  # the delivered one is left as it is
    strangers = client.post(
        f"{base}/dead-letters/redrive", json={"delivery_ids": [dead[1], 999_999]}, headers=owner
    )
    assert strangers.status_code == 422
    assert strangers.json()["errors"][0]["field"] == "body.delivery_ids"
    rest = client.post(f"{base}/dead-letters/redrive", json={}, headers=owner)
    assert rest.json() == {"redriven": 2}
    bare = client.post(f"{base}/dead-letters/redrive", headers=owner)
    assert bare.json() == {"redriven": 0}
    with database.read() as session:
        rows = session.execute(
            select(Delivery.status, Delivery.attempts, Delivery.completed_at).where(
                Delivery.id.in_(dead)
            )
        ).all()
    assert all(row == ("pending", 0, None) for row in rows)
    assert client.get(f"{base}/dead-letters", headers=owner).json()["items"] == []
