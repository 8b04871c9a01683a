"""Searching the audit trail: each filter, newest first, pages, and what a hold hides."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.platform.audit.trail import DPO, OFFICER, OTHER_OFFICER, PARKING_APP, T0, add_use
from townhall.platform.audit.holds import NewHold, make_hold
from townhall.platform.audit.search import RecordFilters, resident_ids, search_records
from townhall.platform.audit.vocabulary import Action
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest

NOW = T0 + timedelta(days=30)


@pytest.fixture
def trail(database: Database) -> Database:
    """Six records: two residents, two officers, an app, a search, an access-control change."""
    add_use(database, "r1", OFFICER, hours=0)
    add_use(database, "r1", PARKING_APP, hours=1)
    add_use(database, "r2", OTHER_OFFICER, hours=2)
    add_use(database, "r2", PARKING_APP, hours=3, action=Action.SEARCHED)
    add_use(database, None, OFFICER, hours=4, access=True)
    add_use(database, "r1", OTHER_OFFICER, hours=5)
    return database


def positions(database: Database, **filters: Any) -> list[int]:
    page = search_records(database, RecordFilters(**filters), PageRequest(50), now=NOW)
    return [record.position for record in page.items]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [6, 5, 4, 3, 2, 1]),
        ({"resident_id": "r1"}, [6, 2, 1]),
        ({"consumer_id": "con_parking"}, [4, 2]),
        ({"actor_id": "stf_2"}, [6, 3]),
        ({"action": "searched"}, [4]),
        ({"service": "access-control"}, [5]),
        ({"occurred_from": T0 + timedelta(hours=2)}, [6, 5, 4, 3]),
        ({"occurred_to": T0 + timedelta(hours=1)}, [2, 1]),
        (
            {"occurred_from": T0 + timedelta(hours=1), "occurred_to": T0 + timedelta(hours=3)},
            [4, 3, 2],
        ),
        ({"resident_id": "r1", "actor_id": "stf_2"}, [6]),
        ({"resident_id": "nobody"}, []),
    ],
)
def test_each_filter_finds_its_records_newest_first(
    trail: Database, filters: dict[str, Any], expected: list[int]
) -> None:
    assert positions(trail, **filters) == expected


def test_every_field_is_shown(trail: Database) -> None:
    [record] = search_records(
        trail, RecordFilters(action="searched"), PageRequest(1), now=NOW
    ).items
    assert record.resident_id == "r2"
    assert record.consumer_id == "con_parking"
    assert record.actor_kind == "consumer"
    assert record.purpose == "Issuing permits"
    assert record.service == "account"
    assert record.data_kind == "account"
    assert len(record.hash) == 64
    assert len(record.previous_hash) == 64
    assert record.hidden is False


def test_pages_follow_on_without_gaps_or_repeats(trail: Database) -> None:
    seen: list[int] = []
    after = None
    for _ in range(4):
        page = search_records(trail, RecordFilters(), PageRequest(4, after), now=NOW)
        seen.extend(record.position for record in page.items)
        if page.next_position is None:
            break
        after = page.next_position
    assert seen == [6, 5, 4, 3, 2, 1]


def test_the_residents_shown_are_named_once_each(trail: Database) -> None:
    page = search_records(trail, RecordFilters(), PageRequest(50), now=NOW)
    assert resident_ids(page.items) == ["r1", "r2"]


def test_a_record_a_hold_hides_says_so(trail: Database) -> None:
    hold = make_hold(
        trail,
        NewHold(
            resident_id="r1",
            actor_id="stf_2",
            reason="Investigation",
            hidden_until=date(2026, 12, 1),
        ),
        DPO,
        now=NOW,
    )
    page = search_records(trail, RecordFilters(), PageRequest(50), now=NOW)
    hidden = {record.position for record in page.items if record.hidden}
    # The other officer's use of r1, and the record of making the hold; not their use of r2.
    assert hidden == {6, hold.record_position}
