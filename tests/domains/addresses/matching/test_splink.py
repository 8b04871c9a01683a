"""uk-address-matcher on the small demo borough: real DuckDB, offline, a few runs of seconds."""

from __future__ import annotations

import pytest

from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses.matching import MatchInput, MemoryGazetteer
from townhall.domains.addresses.matching.gazetteer import GazetteerAddress
from townhall.domains.addresses.matching.results import MATCHED
from townhall.domains.addresses.matching.splink import (
    DISTINGUISHABILITY,
    MATCH_WEIGHT,
    SplinkMatcher,
)
from townhall.platform.db import Database


@pytest.fixture
def borough(database: Database) -> Database:
    build_borough(
        database, council_code="E09000012", size=BoroughSize.SMALL, seed=42, show_progress=False
    )
    return database


def _approved(database: Database) -> list[GazetteerAddress]:
    snapshot = MemoryGazetteer.load(database)
    found = [a for group in snapshot.by_usrn.values() for a in group if a.logical_status == 1]
    return sorted(found, key=lambda a: a.uprn)


def _without_postcode(address: GazetteerAddress) -> str:
    return address.single_line.rsplit(", ", 1)[0]


def test_written_addresses_match_and_nonsense_does_not(borough: Database) -> None:
    addresses = _approved(borough)
    house = next(a for a in addresses if a.pao_number and not a.sao_number and not a.sao_words)
    flat = next(a for a in addresses if a.sao_number and a.building_words)
    held_out = next(a for a in addresses if a.sao_number and a.uprn != flat.uprn)
    typed = _without_postcode(house).lower().replace("road", "rd").replace("street", "st")
    with SplinkMatcher.load(borough, exclude_uprns={held_out.uprn}) as matcher:
        outcomes = matcher.match(
            [
                MatchInput(_without_postcode(flat), flat.postcode, "flat"),
                MatchInput(typed, house.postcode, "house"),
                MatchInput(_without_postcode(held_out), held_out.postcode, "held out"),
                MatchInput("the moon, sea of tranquillity", None, "moon"),
            ]
        )
    assert set(outcomes) == {"flat", "house", "held out", "moon"}
    assert outcomes["flat"].uprn == flat.uprn
    assert outcomes["flat"].best is not None
    assert outcomes["flat"].best.address == flat.single_line
    assert outcomes["flat"].score >= MATCHED
    assert outcomes["house"].uprn == house.uprn
    assert outcomes["house"].verdict == "matched"
    assert all(outcome.method == "splink" for outcome in outcomes.values())
    # The held-out flat is not in the snapshot: never answered, whatever its neighbours.
    assert outcomes["held out"].uprn != held_out.uprn
    assert all(m.uprn != held_out.uprn for m in outcomes["held out"].runners_up)
    assert outcomes["moon"].uprn is None
    assert outcomes["moon"].verdict == "no match"


def test_the_score_is_matched_exactly_at_the_thresholds() -> None:
    matcher = SplinkMatcher([])
    try:
        assert matcher.score(MATCH_WEIGHT, DISTINGUISHABILITY) == pytest.approx(MATCHED)
        assert matcher.score(MATCH_WEIGHT, None) == pytest.approx(MATCHED)
        assert matcher.score(MATCH_WEIGHT + 5, None) > MATCHED
        assert matcher.score(MATCH_WEIGHT - 5, None) < MATCHED
        # A strong weight with a rival just as strong is not a match.
        assert matcher.score(MATCH_WEIGHT + 30, 0.0) < MATCHED
        assert 0.0 <= matcher.score(-500.0, None) < 0.001
        assert matcher.score(500.0, None) == pytest.approx(1.0)
    finally:
        matcher.close()


def test_an_empty_gazetteer_answers_no_match_without_running(database: Database) -> None:
    with SplinkMatcher.load(database) as matcher:
        assert matcher.size == 0
        outcomes = matcher.match([MatchInput("1 Mare Street", "E8 1AA", "a")])
    assert outcomes["a"].uprn is None
    assert outcomes["a"].reason == "the gazetteer is empty"
    assert outcomes["a"].method == "splink"
