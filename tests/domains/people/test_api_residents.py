"""The residents API: search, a resident (ETag, 308 when merged), writes, undo, review, rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.domains.people.residents_world import (
    a_record,
    add_records,
    add_sources,
    pair,
    placement,
    rerun,
)
from tests.tokens import TokenIssuer, bearer
from townhall.platform.audit.models import AuditRecord
from townhall.platform.db import Database

API = "/api/v1/people"


@pytest.fixture
def world(database: Database) -> dict[str, object]:
    add_sources(database)
    ct, housing, parking = add_records(
        database,
        a_record("council_tax", "CT1"),
        a_record("housing", "H1", first_name="Maria"),
        a_record("parking", "P1", first_name="Zoë", last_name="Smith"),
    )
    run = rerun(database, [pair(ct, housing, 0.999), pair(ct, parking, 0.9)])
    placed = placement(database)
    assert run.decision is not None
    return {"records": (ct, housing, parking), "placed": placed, "decision": run.decision.id}


def reader(issue_token: TokenIssuer) -> dict[str, str]:
    return bearer(issue_token(["people:read"]))


def writer(issue_token: TokenIssuer) -> dict[str, str]:
    return bearer(issue_token(["people:write", "people:read"]))


def test_search_needs_a_filter_and_records_a_use_per_resident_found(
    client: TestClient, database: Database, issue_token: TokenIssuer, world: dict[str, object]
) -> None:
    headers = reader(issue_token)
    refused = client.get(f"{API}/residents", headers=headers)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"

    found = client.get(f"{API}/residents", params={"q": "ZOE smith"}, headers=headers)

    assert found.status_code == 200
    (item,) = found.json()["items"]
    assert item["first_name"] == "Zoë"
    with database.read() as session:
        searched = session.scalars(
            select(AuditRecord.resident_id).where(AuditRecord.action == "searched")
        ).all()
    assert searched == [item["id"]]


def test_a_resident_answers_with_an_etag_and_a_merged_id_redirects(
    client: TestClient, issue_token: TokenIssuer, world: dict[str, object]
) -> None:
    ct, _housing, parking = world["records"]  # type: ignore[misc]
    placed: dict[int, str] = world["placed"]  # type: ignore[assignment]
    headers = writer(issue_token)
    answer = client.get(f"{API}/residents/{placed[ct]}", headers=headers)
    assert answer.status_code == 200
    body = answer.json()
    assert body["golden"]["first_name"]["value"] == "Mary"
    assert len(body["source_records"]) == 2
    again = client.get(
        f"{API}/residents/{placed[ct]}",
        headers={**headers, "If-None-Match": answer.headers["ETag"]},
    )
    assert again.status_code == 304

    merged = client.post(
        f"{API}/residents/{placed[ct]}/merge",
        json={"other_resident_id": placed[parking], "reason": "Same person"},
        headers=headers,
    )
    assert merged.status_code == 201, merged.text
    assert merged.headers["Location"].endswith(f"/decisions/{merged.json()['id']}")

    moved = client.get(
        f"{API}/residents/{placed[parking]}", headers=headers, follow_redirects=False
    )
    assert moved.status_code == 308
    assert moved.headers["Location"].endswith(f"/residents/{placed[ct]}")
    changed = client.get(f"{API}/residents/{placed[ct]}", headers=headers)
    assert changed.headers["ETag"] != answer.headers["ETag"]
    links = client.get(f"{API}/residents/{placed[ct]}/links", headers=headers)
    assert {link["how"] for link in links.json()} == {"rerun", "staff"}


def test_writes_need_people_write_and_bad_ones_are_problems(
    client: TestClient, issue_token: TokenIssuer, world: dict[str, object]
) -> None:
    ct, housing, _parking = world["records"]  # type: ignore[misc]
    placed: dict[int, str] = world["placed"]  # type: ignore[assignment]
    body = {"source_record_id": housing, "reason": "Different person"}
    path = f"{API}/residents/{placed[ct]}/unlink"
    assert client.post(path, json=body, headers=reader(issue_token)).status_code == 403
    headers = writer(issue_token)
    assert client.post(path, json={**body, "typo": 1}, headers=headers).status_code == 422
    assert client.post(path, json={**body, "reason": ""}, headers=headers).status_code == 422
    wrong = client.post(
        f"{API}/residents/{placed[ct]}/unlink",
        json={"source_record_id": 999_999, "reason": "x"},
        headers=headers,
    )
    assert wrong.status_code == 404
    unlinked = client.post(path, json=body, headers=headers)
    assert unlinked.status_code == 201
    assert unlinked.json()["kind"] == "unlink"
    assert client.get(f"{API}/residents/R000000000", headers=headers).status_code == 404


def test_undo_answers_409_naming_what_moved_since(
    client: TestClient, issue_token: TokenIssuer, world: dict[str, object]
) -> None:
    ct, housing, _parking = world["records"]  # type: ignore[misc]
    placed: dict[int, str] = world["placed"]  # type: ignore[assignment]
    headers = writer(issue_token)
    unlinked = client.post(
        f"{API}/residents/{placed[ct]}/unlink",
        json={"source_record_id": housing, "reason": "Different person"},
        headers=headers,
    ).json()

    refused = client.post(
        f"{API}/decisions/{world['decision']}/undo", json={"reason": "No"}, headers=headers
    )
    assert refused.status_code == 409
    assert f"source record {housing}" in refused.json()["detail"]

    undone = client.post(
        f"{API}/decisions/{unlinked['id']}/undo", json={"reason": "Oops"}, headers=headers
    )
    assert undone.status_code == 201
    decision = client.get(f"{API}/decisions/{unlinked['id']}", headers=headers).json()
    assert decision["reversed_by_id"] == undone.json()["id"]


def test_the_review_queue_over_the_api(
    client: TestClient, issue_token: TokenIssuer, world: dict[str, object]
) -> None:
    headers = writer(issue_token)
    (item,) = client.get(f"{API}/review-items", headers=headers).json()["items"]
    assert (
        client.get(f"{API}/review-items", params={"status": "x"}, headers=headers).status_code
        == 422
    )
    assert client.get(f"{API}/review-items/{item['id']}", headers=headers).json() == item

    accepted = client.post(
        f"{API}/review-items/{item['id']}/accept", json={"reason": "Same"}, headers=headers
    )

    assert accepted.status_code == 201
    assert accepted.json()["kind"] == "accept"
    again = client.post(
        f"{API}/review-items/{item['id']}/reject", json={"reason": "No"}, headers=headers
    )
    assert again.status_code == 409


def test_survivorship_rules_are_read_and_changed(
    client: TestClient, issue_token: TokenIssuer, world: dict[str, object]
) -> None:
    ct, _housing, _parking = world["records"]  # type: ignore[misc]
    placed: dict[int, str] = world["placed"]  # type: ignore[assignment]
    path = f"{API}/survivorship-rules"
    read = client.get(path, headers=reader(issue_token))
    rules = read.json()["rules"]
    assert {rule["field"]: rule["rule"] for rule in rules}["email"] == "most_recent"
    etag = read.headers["ETag"]
    assert (
        client.get(path, headers={**reader(issue_token), "If-None-Match": etag}).status_code == 304
    )
    change = {"rules": [{"field": "first_name", "rule": "most_trusted", "sources": ["housing"]}]}
    headers = {**writer(issue_token), "If-Match": etag}
    assert client.put(path, json=change, headers=reader(issue_token)).status_code == 403
    assert client.put(path, json=change, headers=writer(issue_token)).status_code == 428

    changed = client.put(path, json=change, headers=headers)

    assert changed.status_code == 200
    assert changed.json()["residents_recomputed"] == 1
    assert changed.headers["ETag"] == client.get(path, headers=reader(issue_token)).headers["ETag"]
    resident = client.get(f"{API}/residents/{placed[ct]}", headers=reader(issue_token)).json()
    assert resident["golden"]["first_name"]["value"] == "Maria"
    # The ETag read before the change is stale now: a second change on it would undo the first.
    back = {"rules": [{"field": "first_name", "rule": "most_recent"}]}
    stale = client.put(path, json=back, headers=headers)
    assert stale.status_code == 412
    assert stale.headers["ETag"] == changed.headers["ETag"]
    bad = {"rules": [{"field": "first_name", "rule": "loudest"}]}
    refused = client.put(path, json=bad, headers={**headers, "If-Match": changed.headers["ETag"]})
    assert refused.status_code == 422


def test_merge_and_unlink_refuse_a_stale_if_match_and_take_the_current_one(
    client: TestClient, issue_token: TokenIssuer, world: dict[str, object]
) -> None:
    ct, housing, parking = world["records"]  # type: ignore[misc]
    placed: dict[int, str] = world["placed"]  # type: ignore[assignment]
    headers = writer(issue_token)
    resident = f"{API}/residents/{placed[ct]}"
    read = client.get(resident, headers=headers).headers["ETag"]
    other = client.get(f"{API}/residents/{placed[parking]}", headers=headers).headers["ETag"]
    merge = {"other_resident_id": placed[parking], "reason": "Same person"}

    for stale in (other, read.replace('"', '"x', 1)):
        refused = client.post(
            f"{resident}/merge", json=merge, headers={**headers, "If-Match": stale}
        )
        assert refused.status_code == 412, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["ETag"] == read
    malformed = client.post(f"{resident}/merge", json=merge, headers={**headers, "If-Match": "x"})
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == "application/problem+json"
    assert client.get(f"{API}/residents/{placed[parking]}", headers=headers).status_code == 200

    merged = client.post(f"{resident}/merge", json=merge, headers={**headers, "If-Match": read})

    assert merged.status_code == 201, merged.text
    unlink = {"source_record_id": housing, "reason": "Different person"}
    stale = client.post(f"{resident}/unlink", json=unlink, headers={**headers, "If-Match": read})
    assert stale.status_code == 412
    current = client.get(resident, headers=headers).headers["ETag"]
    unlinked = client.post(
        f"{resident}/unlink", json=unlink, headers={**headers, "If-Match": current}
    )
    assert unlinked.status_code == 201, unlinked.text
    assert client.get(resident, headers=headers).headers["ETag"] != current


def test_a_merge_that_leaves_the_golden_record_alone_still_changes_the_etag(
    client: TestClient, database: Database, issue_token: TokenIssuer, world: dict[str, object]
) -> None:
    ct, housing, parking = world["records"]  # type: ignore[misc]
    placed: dict[int, str] = world["placed"]  # type: ignore[assignment]
    # An old parking record with nothing of its own: no field of it wins the golden record.
    (bare,) = add_records(
        database,
        a_record(
            "parking",
            "P2",
            address_text=None,
            postcode=None,
            uprn=None,
            source_updated_at=datetime(2001, 1, 1, tzinfo=UTC),
        ),
    )
    rerun(database, [pair(ct, housing, 0.999), pair(ct, parking, 0.9)])
    headers = writer(issue_token)
    resident = f"{API}/residents/{placed[ct]}"
    before = client.get(resident, headers=headers)

    merged = client.post(
        f"{resident}/merge",
        json={"other_resident_id": placement(database)[bare], "reason": "Same person"},
        headers={**headers, "If-Match": before.headers["ETag"]},
    )

    assert merged.status_code == 201, merged.text
    after = client.get(resident, headers={**headers, "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.json()["golden"] == before.json()["golden"]
    assert len(after.json()["source_records"]) == len(before.json()["source_records"]) + 1
