"""Decisions: every merge, unlink and re-run is undone exactly, and refused when overtaken."""

from __future__ import annotations

import pytest

from tests.domains.people.residents_world import (
    STAFF,
    a_record,
    add_records,
    add_sources,
    pair,
    placement,
    rerun,
    state,
)
from townhall.domains.people import residents as service
from townhall.domains.people.decisions import get_decision, list_decisions, undo
from townhall.errors import Conflict, NotFound, ValidationFailed
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest


@pytest.fixture
def records(database: Database) -> list[int]:
    add_sources(database)
    return add_records(
        database,
        a_record("council_tax", "CT1", email="a@example.com"),
        a_record("housing", "H1", email="b@example.com"),
        a_record("parking", "P1", first_name="Pat"),
        a_record("parking", "P2", first_name="Sam"),
    )


def test_undo_of_a_merge_restores_links_residents_and_golden_records(
    database: Database, records: list[int]
) -> None:
    ct, housing, *_ = records
    rerun(database, [])
    before = state(database)
    placed = placement(database)
    merged = service.merge(database, placed[ct], placed[housing], actor=STAFF, reason="Same NI")

    undone = undo(database, merged.id, actor=STAFF, reason="Wrong person")

    assert state(database) == before
    assert undone.kind == "undo"
    assert undone.reverses_id == merged.id
    assert get_decision(database, merged.id).reversed_by_id == undone.id
    # Undoing the undo redoes the merge.
    redone = undo(database, undone.id, actor=STAFF, reason="It was right")
    assert placement(database)[housing] == placed[ct]
    assert redone.reverses_id == undone.id


def test_undo_of_an_unlink_relinks_and_lifts_the_kept_apart_pairs(
    database: Database, records: list[int]
) -> None:
    ct, housing, *_ = records
    rerun(database, [pair(ct, housing, 0.999)])
    before = state(database)
    unlinked = service.unlink(database, housing, actor=STAFF, reason="Different")

    undo(database, unlinked.id, actor=STAFF, reason="Same after all")

    assert state(database) == before
    # The kept-apart pair went with it: a re-run may link them again and changes nothing.
    assert rerun(database, [pair(ct, housing, 0.999)]).decision is None


def test_undo_of_a_rerun_puts_every_resident_back(database: Database, records: list[int]) -> None:
    ct, housing, pat, sam = records
    rerun(database, [])
    before = state(database)
    joined = rerun(database, [pair(ct, housing, 0.999), pair(pat, sam, 0.995)])
    assert joined.decision is not None

    undo(database, joined.decision.id, actor=STAFF, reason="Bad model")

    assert state(database) == before


def test_undo_of_the_first_run_leaves_every_resident_empty_and_no_id_is_reused(
    database: Database, records: list[int]
) -> None:
    first = rerun(database, [])
    assert first.decision is not None
    ids = set(placement(database).values())

    undo(database, first.decision.id, actor=STAFF, reason="Start again")

    assert placement(database) == {}
    rerun(database, [])
    assert not (set(placement(database).values()) & ids)


def test_undo_is_refused_when_a_later_decision_moved_what_it_changed(
    database: Database, records: list[int]
) -> None:
    ct, housing, pat, _sam = records
    rerun(database, [])
    placed = placement(database)
    merged = service.merge(database, placed[ct], placed[housing], actor=STAFF, reason="Same")
    later = service.merge(database, placed[pat], placed[ct], actor=STAFF, reason="Also same")

    with pytest.raises(Conflict, match=f"source record {housing} is now in {placed[pat]}"):
        undo(database, merged.id, actor=STAFF, reason="No")

    # Newest first works, and then the older one can be undone.
    undo(database, later.id, actor=STAFF, reason="No")
    undo(database, merged.id, actor=STAFF, reason="No")
    assert placement(database) == placed
    with pytest.raises(Conflict, match="already undone"):
        undo(database, merged.id, actor=STAFF, reason="Again")


def test_undo_needs_a_known_decision_and_a_reason(database: Database, records: list[int]) -> None:
    with pytest.raises(NotFound):
        undo(database, 424242, actor=STAFF, reason="x")
    first = rerun(database, [])
    assert first.decision is not None
    with pytest.raises(ValidationFailed):
        undo(database, first.decision.id, actor=STAFF, reason="  ")


def test_decisions_are_listed_newest_first_per_resident(
    database: Database, records: list[int]
) -> None:
    ct, housing, pat, _sam = records
    first = rerun(database, [])
    placed = placement(database)
    merged = service.merge(database, placed[ct], placed[housing], actor=STAFF, reason="Same")
    assert first.decision is not None

    about_ct = list_decisions(database, PageRequest(limit=10), resident_id=placed[ct])
    about_pat = list_decisions(database, PageRequest(limit=10), resident_id=placed[pat])

    assert [decision.id for decision in about_ct.items] == [merged.id, first.decision.id]
    assert [decision.id for decision in about_pat.items] == [first.decision.id]
    assert merged.resident_ids == sorted([placed[ct], placed[housing]])
