"""Holds: what may be held, the records of making and lifting one, and what one hides."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.platform.audit.trail import DPO, OFFICER, OTHER_OFFICER, PARKING_APP, T0, add_use
from townhall.errors import Conflict, NotFound, ValidationFailed
from townhall.platform.audit.holds import (
    LONGEST_HOLD,
    NewHold,
    get_hold,
    lift_hold,
    list_holds,
    make_hold,
)
from townhall.platform.audit.models import AuditRecord
from townhall.platform.audit.search import RecordFilters, search_records
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest

NOW = T0 + timedelta(days=30)
TODAY = NOW.date()


def new_hold(**changes: Any) -> NewHold:
    values: dict[str, Any] = {
        "resident_id": "r1",
        "actor_id": "stf_2",
        "reason": "Investigation 117",
        "hidden_until": TODAY + timedelta(days=90),
    }
    values.update(changes)
    return NewHold(**values)


def hidden_positions(database: Database, now: datetime = NOW) -> set[int]:
    page = search_records(database, RecordFilters(), PageRequest(200), now=now)
    return {record.position for record in page.items if record.hidden}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"actor_id": None}, "body.consumer_id"),
        ({"hidden_until": TODAY}, "body.hidden_until"),
        ({"hidden_until": TODAY - timedelta(days=1)}, "body.hidden_until"),
        ({"hidden_until": TODAY + LONGEST_HOLD + timedelta(days=1)}, "body.hidden_until"),
        ({"reason": "   "}, "body.reason"),
        (
            {"accessed_from": NOW, "accessed_to": NOW - timedelta(hours=1)},
            "body.accessed_to",
        ),
    ],
)
def test_a_hold_that_may_not_be_made_names_the_field(
    database: Database, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make_hold(database, new_hold(**changes), DPO, now=NOW)
    assert [error.field for error in refused.value.errors] == [field]
    with database.read() as session:
        assert session.scalar(select(AuditRecord.position)) is None


def test_the_longest_hold_may_be_made(database: Database) -> None:
    hold = make_hold(database, new_hold(hidden_until=TODAY + LONGEST_HOLD), DPO, now=NOW)
    assert hold.active(NOW)


def test_making_a_hold_is_recorded_with_it(database: Database) -> None:
    add_use(database, "r1")
    hold = make_hold(database, new_hold(), DPO, now=NOW)
    with database.read() as session:
        record = session.get(AuditRecord, hold.record_position)
        assert record is not None
        assert (record.action, record.resident_id, record.actor_id) == ("hid", "r1", "stf_dpo")
        assert (record.service, record.data_kind) == ("data-protection", "data-uses")
        assert record.subject == f"audit-hold:{hold.id}"
    assert hold.record_position == 2
    assert get_hold(database, hold.id) == hold


def test_lifting_a_hold_is_recorded_and_shows_the_accesses_again(database: Database) -> None:
    held = add_use(database, "r1", OTHER_OFFICER)
    hold = make_hold(database, new_hold(), DPO, now=NOW)
    assert hidden_positions(database) == {held, hold.record_position}
    lifted = lift_hold(database, hold.id, DPO, now=NOW + timedelta(days=1))
    assert lifted.lifted_at == NOW + timedelta(days=1)
    assert not lifted.active(NOW + timedelta(days=1))
    assert hidden_positions(database, NOW + timedelta(days=1)) == set()
    with database.read() as session:
        last = session.scalars(select(AuditRecord).order_by(AuditRecord.position.desc())).first()
        assert last is not None
        assert (last.action, last.resident_id, last.subject) == (
            "lifted",
            "r1",
            f"audit-hold:{hold.id}",
        )
    with pytest.raises(Conflict):
        lift_hold(database, hold.id, DPO, now=NOW + timedelta(days=2))


def test_an_ended_hold_cannot_be_lifted_and_hides_nothing(database: Database) -> None:
    held = add_use(database, "r1", OTHER_OFFICER)
    hold = make_hold(database, new_hold(), DPO, now=NOW)
    assert held in hidden_positions(database)
    ended = hold.hidden_until
    assert hidden_positions(database, ended) == set()
    with pytest.raises(Conflict):
        lift_hold(database, hold.id, DPO, now=ended)


def test_an_unknown_hold_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        lift_hold(database, "hld_missing", DPO, now=NOW)
    with pytest.raises(NotFound):
        get_hold(database, "hld_missing")


def test_a_hold_hides_its_resident_s_records_by_whom_and_when_it_names(database: Database) -> None:
    by_officer_early = add_use(database, "r1", OTHER_OFFICER, hours=0)
    by_officer_late = add_use(database, "r1", OTHER_OFFICER, hours=10)
    by_app = add_use(database, "r1", PARKING_APP, hours=1)
    add_use(database, "r1", OFFICER, hours=2)
    add_use(database, "r2", OTHER_OFFICER, hours=3)
    by_staff = make_hold(database, new_hold(accessed_to=T0 + timedelta(hours=5)), DPO, now=NOW)
    by_consumer = make_hold(
        database, new_hold(actor_id=None, consumer_id="con_parking"), DPO, now=NOW
    )
    assert hidden_positions(database) == {
        by_officer_early,
        by_app,
        by_staff.record_position,
        by_consumer.record_position,
    }
    assert by_officer_late not in hidden_positions(database)


def test_holds_are_listed_newest_first_and_by_resident(database: Database) -> None:
    first = make_hold(database, new_hold(), DPO, now=NOW)
    second = make_hold(database, new_hold(resident_id="r2"), DPO, now=NOW)
    third = make_hold(database, new_hold(), DPO, now=NOW)
    page = list_holds(database, PageRequest(2))
    assert [hold.id for hold in page.items] == [third.id, second.id]
    rest = list_holds(database, PageRequest(2, page.next_position))
    assert [hold.id for hold in rest.items] == [first.id]
    assert rest.next_position is None
    only_r1 = list_holds(database, PageRequest(50), resident_id="r1")
    assert [hold.id for hold in only_r1.items] == [third.id, first.id]
