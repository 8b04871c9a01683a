"""Constrained clustering of scored pairs, and ids kept stable across runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from hypothesis import given, settings
from hypothesis import strategies as st

from townhall.domains.people.clustering import (
    Assignment,
    ExistingResident,
    assign_ids,
    cluster,
    placements,
)
from townhall.domains.people.linkage.results import ScoredPair, ordered

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def pair(a: int, b: int, probability: float) -> ScoredPair:
    left, right = ordered(a, b)
    return ScoredPair(left, right, probability * 10, probability)


def fresh_ids() -> tuple[set[str], object]:
    drawn: set[str] = set()
    numbers = count(1)

    def draw() -> str:
        name = f"N{next(numbers)}"
        drawn.add(name)
        return name

    return drawn, draw


def test_pairs_at_the_threshold_join_and_weaker_ones_do_not() -> None:
    clusters = cluster(
        [1, 2, 3, 4], [pair(1, 2, 0.99), pair(2, 3, 0.98), pair(3, 4, 0.995)], link_threshold=0.99
    )
    assert clusters == [frozenset({1, 2}), frozenset({3, 4})]


def test_a_kept_apart_pair_is_never_joined_and_the_stronger_link_wins() -> None:
    # 1-2 and 2-3 both link, but 1 and 3 are kept apart: 2 joins the stronger of the two.
    pairs = [pair(1, 2, 0.995), pair(2, 3, 0.999)]
    clusters = cluster([1, 2, 3], pairs, link_threshold=0.99, kept_apart=[(1, 3)])
    assert clusters == [frozenset({1}), frozenset({2, 3})]


def test_must_links_join_records_no_pair_joins() -> None:
    clusters = cluster([1, 2, 3], [], link_threshold=0.99, must_link=[(3, 1)])
    assert clusters == [frozenset({1, 3}), frozenset({2})]


def test_a_cluster_takes_the_id_of_the_resident_holding_most_of_its_records() -> None:
    existing = [
        ExistingResident("RA", T0, frozenset({1, 2})),
        ExistingResident("RB", T0 + timedelta(days=1), frozenset({3})),
    ]
    drawn, draw = fresh_ids()
    # Everything joins: RA holds most, RB's id now leads to RA.
    assignment = assign_ids([frozenset({1, 2, 3})], existing, draw)  # type: ignore[arg-type]
    assert assignment.ids == {frozenset({1, 2, 3}): "RA"}
    assert assignment.merged == {"RB": "RA"}
    assert drawn == set()


def test_ties_go_to_the_older_resident_and_a_split_takes_a_new_id() -> None:
    existing = [
        ExistingResident("RNEW", T0 + timedelta(days=1), frozenset({3, 4})),
        ExistingResident("ROLD", T0, frozenset({1, 2})),
    ]
    _drawn, draw = fresh_ids()
    joined = assign_ids([frozenset({1, 2, 3, 4})], existing, draw)  # type: ignore[arg-type]
    assert joined.ids == {frozenset({1, 2, 3, 4}): "ROLD"}
    assert joined.merged == {"RNEW": "ROLD"}

    split = assign_ids(
        [frozenset({1}), frozenset({2})],
        [ExistingResident("ROLD", T0, frozenset({1, 2}))],
        draw,  # type: ignore[arg-type]
    )
    assert split.ids == {frozenset({1}): "ROLD", frozenset({2}): "N1"}
    assert split.merged == {}


# --- properties over random worlds -------------------------------------------------------------

RECORDS = list(range(1, 13))
pairs_strategy = st.lists(
    st.tuples(
        st.sampled_from(RECORDS),
        st.sampled_from(RECORDS),
        st.sampled_from([0.5, 0.9, 0.99, 0.995, 0.999]),
    ).filter(lambda t: t[0] != t[1]),
    max_size=30,
)
apart_strategy = st.lists(
    st.tuples(st.sampled_from(RECORDS), st.sampled_from(RECORDS)).filter(lambda t: t[0] != t[1]),
    max_size=4,
)


def run(
    scored: list[ScoredPair],
    apart: list[tuple[int, int]],
    existing: list[ExistingResident],
    draw: object,
) -> Assignment:
    clusters = cluster(RECORDS, scored, link_threshold=0.99, kept_apart=apart)
    return assign_ids(clusters, existing, draw)  # type: ignore[arg-type]


def as_existing(assignment: Assignment, created: dict[str, datetime]) -> list[ExistingResident]:
    return [
        ExistingResident(resident, created.setdefault(resident, T0), records)
        for records, resident in assignment.ids.items()
    ]


@settings(max_examples=150, deadline=None)
@given(first=pairs_strategy, second=pairs_strategy, apart=apart_strategy)
def test_every_record_is_in_one_resident_ids_are_never_reused_and_a_rerun_changes_nothing(
    first: list[tuple[int, int, float]],
    second: list[tuple[int, int, float]],
    apart: list[tuple[int, int]],
) -> None:
    drawn, draw = fresh_ids()
    given_out: set[str] = set()
    created: dict[str, datetime] = {}
    kept = [ordered(a, b) for a, b in apart]
    scored_first = [pair(a, b, p) for a, b, p in first]
    scored_second = [pair(a, b, p) for a, b, p in second]

    one = run(scored_first, kept, [], draw)
    given_out |= set(one.ids.values())
    two = run(scored_second, kept, as_existing(one, created), draw)
    three = run(scored_second, kept, as_existing(two, created), draw)

    for assignment in (one, two, three):
        placed = placements(assignment)
        # Every record is in exactly one resident, and the resident ids are distinct.
        assert sorted(placed) == RECORDS
        assert len(set(assignment.ids.values())) == len(assignment.ids)
        # No cluster holds a kept-apart pair.
        assert all(placed[a] != placed[b] for a, b in kept)
    # New ids are fresh: never one given out before.
    assert not (two.new_ids & given_out)
    # A resident no cluster kept leads to one that exists now.
    assert set(two.merged.values()) <= set(two.ids.values())
    assert set(two.merged) == set(one.ids.values()) - set(two.ids.values())
    # Running again on the same pairs changes nothing.
    assert three.ids == two.ids
    assert three.merged == {}
    assert three.new_ids == set()
    assert drawn >= two.new_ids
