"""match_batch: fast, splink and best on the small demo borough, in order, a chunk at a time."""

from __future__ import annotations

import pytest

from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses.matching import (
    FastMatcher,
    Match,
    MatchInput,
    MatchOutcome,
    MemoryGazetteer,
)
from townhall.domains.addresses.matching.gazetteer import GazetteerAddress
from townhall.domains.addresses.matching.methods import better, match_batch, worth_asking
from townhall.platform.db import Database


@pytest.fixture
def borough(database: Database) -> Database:
    build_borough(
        database, council_code="E09000012", size=BoroughSize.SMALL, seed=42, show_progress=False
    )
    return database


class Recorder:
    """Progress as reported: each phase's name and total, and the rows advanced."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []
        self.advanced: dict[str, int] = {}

    def phase(self, name: str, total: int) -> None:
        self.phases.append((name, total))
        self.advanced[name] = 0

    def advance(self, rows: int) -> None:
        self.advanced[self.phases[-1][0]] += rows


def _approved(database: Database) -> list[GazetteerAddress]:
    snapshot = MemoryGazetteer.load(database)
    found = [a for group in snapshot.by_usrn.values() for a in group if a.logical_status == 1]
    return sorted(found, key=lambda a: a.uprn)


def _houses(database: Database) -> list[GazetteerAddress]:
    """Numbered houses: no flats, no building name, so written in full they are certain."""
    return [
        a
        for a in _approved(database)
        if a.pao_number and not a.sao_number and not a.sao_words and not a.building_words
    ]


def test_fast_matches_in_input_order_a_chunk_at_a_time(borough: Database) -> None:
    addresses = _houses(borough)[:7]
    inputs = [MatchInput(a.single_line, None, f"row {n}") for n, a in enumerate(addresses)]
    inputs.insert(3, MatchInput("", None, "blank"))
    progress = Recorder()
    outcomes = list(
        match_batch(
            borough, iter(inputs), method="fast", on_progress=progress, total=8, chunk_size=3
        )
    )
    assert [o.id for o in outcomes] == [i.id for i in inputs]
    # The same answers as the fast matcher gives one at a time, in the same order.
    one_by_one = FastMatcher(MemoryGazetteer.load(borough))
    assert outcomes == [one_by_one.match(item) for item in inputs]
    assert [o.uprn for o in outcomes[:3]] == [a.uprn for a in addresses[:3]]
    assert all(o.method == "fast" for o in outcomes)
    assert outcomes[3].verdict == "no match"
    assert progress.phases == [("Reading the gazetteer", 1), ("Matching addresses", 8)]
    assert progress.advanced["Matching addresses"] == 8


def test_splink_keeps_order_whatever_the_ids(borough: Database) -> None:
    flat = next(a for a in _approved(borough) if a.sao_number and a.building_words)
    house = next(a for a in _approved(borough) if a.pao_number and not a.sao_number)
    inputs = [
        MatchInput(house.single_line, None, "same"),
        MatchInput("the moon", None, None),
        MatchInput(flat.single_line, None, "same"),
    ]
    outcomes = list(match_batch(borough, inputs, method="splink", chunk_size=2))
    assert [o.id for o in outcomes] == ["same", None, "same"]
    assert [o.uprn for o in outcomes] == [house.uprn, None, flat.uprn]
    assert all(o.method == "splink" for o in outcomes)


def test_best_keeps_the_fast_answers_it_is_sure_of(borough: Database) -> None:
    addresses = _approved(borough)
    building = next(a for a in addresses if a.building_words and not a.sao_number)
    # A building and street without a postcode or town: the fast matcher is unsure of it.
    vague = " ".join((*building.building_words, *building.street_words))
    house = _houses(borough)[0]
    inputs = [MatchInput(house.single_line, None, "sure"), MatchInput(vague, None, "vague")]
    fast = list(match_batch(borough, inputs, method="fast"))
    assert fast[0].uprn == house.uprn
    assert fast[1].verdict == "unsure"
    outcomes = list(match_batch(borough, inputs, method="best"))
    assert outcomes[0] == fast[0]
    assert outcomes[1].id == "vague"
    assert outcomes[1] in (fast[1], better(fast[1], outcomes[1]))
    assert outcomes[1].method in {"fast", "splink"}


def _outcome(method: str, best: int | None, *candidates: int, score: float = 0.6) -> MatchOutcome:
    def match(uprn: int) -> Match:
        return Match(uprn, 0.95 if method == "splink" else score, f"address {uprn}", "reason")

    return MatchOutcome(
        "x",
        match(best) if best is not None else None,
        tuple(match(c) for c in candidates),
        score=score,
        method=method,
    )


def test_better_takes_uk_address_matcher_only_when_it_agrees_on_an_unsure_one() -> None:
    unsure = _outcome("fast", None, 1, 2)
    assert worth_asking(unsure)
    agreeing = _outcome("splink", 1)
    assert better(unsure, agreeing) is agreeing
    assert better(unsure, _outcome("splink", 2)) is unsure
    assert better(unsure, _outcome("splink", None, 1)) is unsure
    # A "no match" (even with a weak candidate) and a sure match are never replaced.
    weak = _outcome("fast", None, 1, score=0.1)
    assert weak.verdict == "no match"
    assert not worth_asking(weak)
    assert better(weak, _outcome("splink", 1)) is weak
    # Unsure, but too weak for an agreement to make it a match.
    doubtful = _outcome("fast", None, 1, score=0.45)
    assert doubtful.verdict == "unsure"
    assert not worth_asking(doubtful)
    assert better(doubtful, _outcome("splink", 1)) is doubtful
    sure = _outcome("fast", 1, score=0.95)
    assert not worth_asking(sure)
    assert better(sure, _outcome("splink", 2)) is sure


def test_an_unknown_method_is_refused(borough: Database) -> None:
    with pytest.raises(ValueError, match="unknown matching method 'slow'"):
        match_batch(borough, [], method="slow")  # type: ignore[arg-type]
