"""The review queue: items from review-band pairs, accepted or rejected, and undone."""

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
from townhall.domains.people import review
from townhall.domains.people.decisions import undo
from townhall.domains.people.linkage.results import Comparison, ScoredPair
from townhall.domains.people.residents import kept_apart_between
from townhall.errors import Conflict, NotFound, ValidationFailed
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest

EVIDENCE = (
    Comparison("first_name", "First name", "Mary", "Maria", "Jaro-Winkler > 0.9", 3.2),
    Comparison("date_of_birth", "Date of birth", "1980-03-07", "1980-03-07", "Exact match", 8.1),
)


@pytest.fixture
def records(database: Database) -> list[int]:
    add_sources(database)
    return add_records(
        database,
        a_record("council_tax", "CT1"),
        a_record("housing", "H1", first_name="Maria"),
        a_record("parking", "P1"),
        a_record("parking", "P2", first_name="Sam"),
    )


def unsure(left: int, right: int, probability: float) -> ScoredPair:
    return pair(left, right, probability)._replace(comparisons=EVIDENCE, prior_weight=-9.5)


def pending(database: Database) -> list[review.ReviewItemView]:
    return review.list_review_items(database, PageRequest(limit=20)).items


def test_review_band_pairs_give_one_item_per_record_and_resident_with_the_best_evidence(
    database: Database, records: list[int]
) -> None:
    ct, housing, parking, sam = records
    rerun(
        database,
        [
            pair(ct, parking, 0.999),
            unsure(ct, housing, 0.85),
            unsure(parking, housing, 0.95),
            pair(sam, housing, 0.5),
        ],
    )

    items = pending(database)

    assert len(items) == 1
    (item,) = items
    assert item.source_record_id == housing
    assert item.resident_id == placement(database)[ct]
    assert item.other_record_id == parking
    assert item.match_probability == 0.95
    assert item.comparisons == EVIDENCE
    assert item.prior_weight == -9.5
    assert review.get_review_item(database, item.id) == item


def test_a_later_run_that_settles_an_item_supersedes_it(
    database: Database, records: list[int]
) -> None:
    ct, housing, *_ = records
    rerun(database, [unsure(ct, housing, 0.9)])
    (item,) = pending(database)

    rerun(database, [pair(ct, housing, 0.999)])

    assert pending(database) == []
    assert review.get_review_item(database, item.id).status == "superseded"


def test_accepting_links_the_record_and_undo_puts_it_back(
    database: Database, records: list[int]
) -> None:
    ct, housing, *_ = records
    rerun(database, [unsure(ct, housing, 0.9)])
    before = state(database)
    (item,) = pending(database)

    decision = review.accept(database, item.id, actor=STAFF, reason="Same date of birth")

    assert decision.kind == "accept"
    assert placement(database)[housing] == placement(database)[ct]
    accepted = review.get_review_item(database, item.id)
    assert (accepted.status, accepted.decision_id, accepted.decided_by) == (
        "accepted",
        decision.id,
        "staff-7",
    )
    # Confirmed by a person: a re-run keeps it even with no pair at the threshold.
    assert rerun(database, [unsure(ct, housing, 0.9)]).decision is None
    with pytest.raises(Conflict, match="already accepted"):
        review.accept(database, item.id, actor=STAFF, reason="again")

    undo(database, decision.id, actor=STAFF, reason="Too hasty")

    assert state(database) == before
    assert review.get_review_item(database, item.id).status == "pending"


def test_rejecting_keeps_the_record_apart_and_undo_lifts_it(
    database: Database, records: list[int]
) -> None:
    ct, housing, parking, _sam = records
    rerun(database, [pair(ct, parking, 0.999), unsure(ct, housing, 0.9)])
    (item,) = pending(database)

    decision = review.reject(database, item.id, actor=STAFF, reason="Different middle name")

    with database.read() as session:
        assert kept_apart_between(session, [housing], [ct, parking]) == [
            (ct, housing),
            (housing, parking),
        ]
    assert review.get_review_item(database, item.id).status == "rejected"
    # A later run neither links them nor asks again.
    rerun(database, [pair(ct, parking, 0.999), pair(ct, housing, 0.999)])
    assert placement(database)[housing] != placement(database)[ct]
    assert pending(database) == []

    undo(database, decision.id, actor=STAFF, reason="Reconsidered")
    with database.read() as session:
        assert kept_apart_between(session, [housing], [ct, parking]) == []
    assert review.get_review_item(database, item.id).status == "pending"


def test_bad_requests_are_refused(database: Database, records: list[int]) -> None:
    with pytest.raises(NotFound):
        review.accept(database, 999, actor=STAFF, reason="x")
    with pytest.raises(ValidationFailed):
        review.list_review_items(database, PageRequest(), status="maybe")
    ct, housing, *_ = records
    rerun(database, [unsure(ct, housing, 0.9)])
    (item,) = pending(database)
    with pytest.raises(ValidationFailed):
        review.reject(database, item.id, actor=STAFF, reason="")
