"""The fast matcher on the small demo borough, from the database and from memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses.matching import (
    DatabaseGazetteer,
    FastMatcher,
    MatchInput,
    MemoryGazetteer,
)
from townhall.domains.addresses.matching.gazetteer import GazetteerAddress
from townhall.platform.db import Database


@pytest.fixture
def borough(database: Database) -> Database:
    build_borough(
        database, council_code="E09000012", size=BoroughSize.SMALL, seed=42, show_progress=False
    )
    return database


@pytest.fixture(params=["database", "memory"])
def matcher(request: pytest.FixtureRequest, borough: Database) -> FastMatcher:
    if request.param == "database":
        return FastMatcher(DatabaseGazetteer(borough))
    return FastMatcher(MemoryGazetteer.load(borough))


def _addresses(database: Database) -> list[GazetteerAddress]:
    snapshot = MemoryGazetteer.load(database)
    return [a for group in snapshot.by_usrn.values() for a in group if a.logical_status == 1]


def _a_house(database: Database) -> GazetteerAddress:
    return next(
        a
        for a in _addresses(database)
        if a.sao_number is None and not a.sao_words and not a.building_words and a.pao_number
    )


def test_exact_address_matches_with_a_high_score(matcher: FastMatcher, borough: Database) -> None:
    house = _a_house(borough)
    outcome = matcher.match(MatchInput(house.single_line, id="a"))
    assert outcome.uprn == house.uprn
    assert outcome.id == "a"
    assert outcome.score >= 0.9
    assert "postcode" in outcome.reason


def test_typos_and_abbreviations_still_match(matcher: FastMatcher, borough: Database) -> None:
    house = _a_house(borough)
    street = list(house.street_words)
    name = street[0]
    street[0] = name[0] + name[2] + name[1] + name[3:]  # two letters swapped
    street[-1] = {"ROAD": "RD", "STREET": "ST", "AVENUE": "AVE"}.get(street[-1], street[-1])
    text = f"{house.pao_number.number if house.pao_number else ''} {' '.join(street).lower()}"
    outcome = matcher.match(MatchInput(text, house.postcode))
    # Two typos in a short name leave it first but under the threshold: "unsure", not wrong.
    best = outcome.best or outcome.runners_up[0]
    assert best.uprn == house.uprn
    assert best.score >= 0.7


def test_missing_postcode_matches_on_street_and_number(
    matcher: FastMatcher, borough: Database
) -> None:
    addresses = _addresses(borough)
    # An address whose street name and number occur once in the borough.
    counts: dict[tuple[str, ...], int] = {}
    for a in addresses:
        key = (*a.street_words, str(a.pao_number), str(a.sao_number), *a.sao_words)
        counts[key] = counts.get(key, 0) + 1
    house = next(
        a
        for a in addresses
        if a.pao_number
        and not a.building_words
        and a.sao_number is None
        and not a.sao_words
        and counts[(*a.street_words, str(a.pao_number), "None")] == 1
    )
    text = f"{house.pao_number.number if house.pao_number else ''} {' '.join(house.street_words)}"
    outcome = matcher.match(MatchInput(text))
    best = outcome.best or outcome.runners_up[0]
    assert best.uprn == house.uprn
    assert best.score >= 0.7
    assert "no postcode" in best.reason


def test_wrong_postcode_still_finds_the_street(matcher: FastMatcher, borough: Database) -> None:
    house = _a_house(borough)
    other = next(a.postcode for a in _addresses(borough) if a.postcode[:2] != house.postcode[:2])
    text = house.single_line.rsplit(",", 1)[0]
    outcome = matcher.match(MatchInput(text, other))
    best = outcome.best or outcome.runners_up[0]
    assert best.uprn == house.uprn
    assert "postcode differs" in best.reason


def test_a_house_number_never_matches_a_flat_with_that_number(
    matcher: FastMatcher, borough: Database
) -> None:
    addresses = _addresses(borough)
    flat = next(
        a
        for a in addresses
        if a.sao_number is not None
        and a.pao_number is not None
        and a.sao_number.number != a.pao_number.number
    )
    text = f"{flat.sao_number.number if flat.sao_number else ''} {' '.join(flat.street_words)}"
    outcome = matcher.match(MatchInput(text, flat.postcode))
    assert outcome.uprn != flat.uprn
    assert all(m.uprn != flat.uprn for m in outcome.runners_up)


def test_an_address_not_in_the_gazetteer_has_no_match(matcher: FastMatcher) -> None:
    outcome = matcher.match(MatchInput("999 Nonesuch Boulevard, Atlantis", "ZZ9 9ZZ"))
    assert outcome.uprn is None
    assert outcome.verdict == "no match"


def test_empty_text_has_no_match(matcher: FastMatcher) -> None:
    outcome = matcher.match(MatchInput("  ,  "))
    assert outcome.uprn is None
    assert outcome.reason == "the address has no words or numbers"


def test_a_held_out_property_is_not_matched(borough: Database) -> None:
    house = _a_house(borough)
    matcher = FastMatcher(MemoryGazetteer.load(borough, exclude_uprns=[house.uprn]))
    assert matcher.match(MatchInput(house.single_line)).uprn is None


def test_the_word_index_follows_a_changed_gazetteer(borough: Database) -> None:
    from townhall.domains.addresses.models import Street

    gazetteer = DatabaseGazetteer(borough, refresh_seconds=0.0)
    before = len(gazetteer.places().places)
    with borough.write() as session:
        street = session.scalars(select(Street).limit(1)).one()
        street.descriptor = "Zebedee Crescent"
        # Every write of the service stamps modified_at: that is what the index watches.
        street.modified_at = datetime.now(UTC) + timedelta(seconds=1)
    assert len(gazetteer.places().places) >= before - 1
    assert any(p.words == ("ZEBEDEE", "CRESCENT") for p in gazetteer.places().places)
