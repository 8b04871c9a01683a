"""Reading and scoring messy addresses against a small hand-made gazetteer (no database).

Each test is one kind of miss or false match found on the address-errors accuracy set
(ADR 19): floors written short, a flat written without its building's number, a block
(property shell) for a flat, a wrong street on the only such flat of its postcode, and the same
flat name in another postcode.
"""

from __future__ import annotations

from townhall.domains.addresses.matching import FastMatcher, MatchInput, MemoryGazetteer
from townhall.domains.addresses.matching.gazetteer import GazetteerAddress, build_places
from townhall.domains.addresses.matching.parse import parse_address
from townhall.domains.addresses.matching.score import numbers_agree
from townhall.domains.addresses.text import HouseNumber, normalise_words, single_line

_next_uprn = iter(range(100, 10_000))


def _address(
    street: str,
    postcode: str,
    *,
    usrn: int,
    pao: int | None = None,
    sao: int | None = None,
    sao_text: str | None = None,
    building: str | None = None,
    classification: str = "RD06",
    locality: str = "HACKNEY",
) -> GazetteerAddress:
    uprn = next(_next_uprn)

    def words(text: str | None) -> tuple[str, ...]:
        return tuple(w for w in normalise_words(text or "") if w not in {"FLAT", "THE"})

    return GazetteerAddress(
        uprn=uprn,
        lpi_key=f"L{uprn}",
        usrn=usrn,
        logical_status=1,
        sao_number=HouseNumber(sao) if sao is not None else None,
        sao_words=words(sao_text),
        pao_number=HouseNumber(pao) if pao is not None else None,
        building_words=words(building),
        street_words=tuple(normalise_words(street)),
        locality_words=tuple(normalise_words(locality)),
        town_words=("LONDON",),
        postcode=postcode,
        single_line=single_line(
            sao_start_number=sao,
            sao_text=sao_text,
            pao_start_number=pao,
            pao_text=building,
            street=street,
            locality=locality,
            town="LONDON",
            postcode=postcode,
            classification_code=classification,
        ),
        classification=classification,
    )


def _matcher(addresses: list[GazetteerAddress]) -> FastMatcher:
    streets = {(a.usrn, " ".join(a.street_words)) for a in addresses}
    buildings = {(" ".join(a.building_words), a.usrn) for a in addresses if a.building_words}
    return FastMatcher(MemoryGazetteer(addresses, build_places(streets, buildings)))


def test_floors_written_short_read_as_the_gazetteer_spells_them() -> None:
    assert parse_address("Grd Floor Flat, 5, Maple St").words[:2] == ("GROUND", "FLOOR")
    assert parse_address("1st Floor Flat, 5, Maple St").words[:2] == ("FIRST", "FLOOR")
    parsed = parse_address("Flat At, Flat, 4, Begum Place")
    assert parsed.words == ("BEGUM", "PLACE")
    # "Floor Flat" is a description: the 5 is the house's number, not a flat's.
    assert [m.flat for m in parse_address("Grd Floor Flat, 5, Maple St").numbers] == [False]


def test_a_lone_number_is_never_a_flat_of_a_numbered_building_without_its_name() -> None:
    flat = _address("Mare Street", "E8 1AA", usrn=1, pao=3, sao=12)
    assert numbers_agree(parse_address("12 Mare St"), flat) is None
    assert numbers_agree(parse_address("3 Mare St"), flat) is None
    marked = numbers_agree(parse_address("Flat 12, Mare St"), flat)
    assert marked is not None
    assert marked.house_missing


def test_a_lone_number_with_the_building_named_is_its_flat() -> None:
    flat = _address("Quinn Street", "N16 0XQ", usrn=2, pao=1, sao=2, building="Ford Mansions")
    agree = numbers_agree(parse_address("2, Ford Mansions, Quinn Street"), flat)
    assert agree is not None
    assert agree.house_missing
    assert numbers_agree(parse_address("2, Quinn Street"), flat) is None


def test_the_flat_floor_written_short_picks_that_floor() -> None:
    floors = [
        _address("Maple Street", "E5 0UD", usrn=3, pao=5, sao_text=f"{floor} FLOOR FLAT")
        for floor in ("GROUND", "FIRST", "SECOND")
    ]
    outcome = _matcher(floors).match(MatchInput("Grd Floor Flat, 5, Maple Street", "E5 0UD"))
    best = outcome.best or outcome.runners_up[0]
    assert best.uprn == floors[0].uprn


def test_a_block_is_not_matched_for_its_flats() -> None:
    block = _address(
        "Browne Road", "N16 0XS", usrn=4, building="Brennan Lodge", classification="PP"
    )
    flats = [
        _address("Browne Road", "N16 0XS", usrn=4, sao=n, building="Brennan Lodge")
        for n in range(1, 13)
    ]
    outcome = _matcher([block, *flats]).match(MatchInput("Brennan Lodge, Browne Road, N16 0XS"))
    assert outcome.uprn is None


def test_the_only_such_flat_on_its_postcode_matches_despite_a_wrong_street() -> None:
    peters = [
        _address("Trafalgar Street", "E8 1JA", usrn=5, sao=n, building="Peters House")
        for n in range(1, 20)
    ]
    others = [
        _address("Abbey Avenue", "E8 1DA", usrn=6, sao=n, building="Lucas Point")
        for n in range(1, 20)
    ]
    outcome = _matcher([*peters, *others]).match(
        MatchInput("Flat 11, Peters House, Abbey Avenue, London", "E8 1JA")
    )
    assert outcome.uprn == peters[10].uprn
    assert outcome.score >= 0.9


def test_a_namesake_off_the_written_postcode_is_not_a_match() -> None:
    # Flat 7 of the Davis Apartments on N16 5RA is not in the gazetteer (sold, demolished...):
    # the other Davis Apartments, elsewhere, must not take its place.
    written = [
        _address("Clark Close", "N16 5RA", usrn=7, pao=1, sao=n, building="Davis Apartments")
        for n in (1, 2, 3, 4, 5, 6, 8)
    ]
    namesake = [
        _address("Holly Mews", "E5 8UW", usrn=8, pao=1, sao=n, building="Davis Apartments")
        for n in range(1, 9)
    ]
    outcome = _matcher([*written, *namesake]).match(
        MatchInput("Flat 7, Davis Apartments, 1, London", "N16 5RA")
    )
    assert outcome.uprn is None


def test_the_same_address_in_two_places_without_a_postcode_is_not_a_match() -> None:
    one = _address("High Street", "E8 1AA", usrn=9, pao=12, locality="HACKNEY")
    two = _address("High Street", "N16 0AA", usrn=10, pao=12, locality="STOKE NEWINGTON")
    outcome = _matcher([one, two]).match(MatchInput("12 High Street, London"))
    assert outcome.uprn is None
    assert {m.uprn for m in outcome.runners_up} == {one.uprn, two.uprn}
    assert all(m.score < 0.9 for m in outcome.runners_up)


def test_a_house_written_in_full_beats_a_flat_of_an_unnamed_block_on_its_street() -> None:
    # "3, Powerscroft Avenue" is the house, not flat 3 of Tucker Tower (a block with only flat
    # numbers on the same street and postcode, its name not written): both are near certain
    # alone, so the decision must weigh their odds, not their probabilities.
    house = _address(
        "Powerscroft Avenue", "E2 8BU", usrn=11, pao=3, classification="RD04", locality="HAYHAM"
    )
    tower = [
        _address(
            "Powerscroft Avenue",
            "E2 8BU",
            usrn=11,
            sao=n,
            building="Tucker Tower",
            locality="HAYHAM",
        )
        for n in range(1, 9)
    ]
    outcome = _matcher([house, *tower]).match(
        MatchInput("3, Powerscroft Avenue, Hayham, London", "E2 8BU")
    )
    assert outcome.uprn == house.uprn
    assert outcome.score >= 0.9


def test_a_flat_whose_building_name_is_left_out_matches_when_it_is_the_only_one() -> None:
    # "Flat 24, Maple Mews": Hartley Lodge is the only block on Maple Mews with a flat 24.
    lodge = [
        _address(
            "Maple Mews", "N16 6BE", usrn=12, sao=n, building="Hartley Lodge", locality="HAYTON"
        )
        for n in range(1, 31)
    ]
    small = [
        _address("Maple Mews", "N16 6BE", usrn=12, sao=n, building="Ross House", locality="HAYTON")
        for n in range(1, 9)
    ]
    matcher = _matcher([*lodge, *small])
    outcome = matcher.match(MatchInput("Flat 24, Maple Mews, Hayton, London", "N16 6BE"))
    assert outcome.uprn == lodge[23].uprn
    # Flat 4 is in both blocks: leaving the building out leaves two equal answers.
    assert matcher.match(MatchInput("Flat 4, Maple Mews, Hayton, London", "N16 6BE")).uprn is None


def test_a_lone_number_that_is_the_building_number_is_not_a_flat_number() -> None:
    flat = _address("Davis Gardens", "N4 2LP", usrn=13, pao=1, sao=1, building="Harvey Apartments")
    parsed = parse_address("Flat, Harvey Apartments, 1, Davis Gardens, London")
    assert numbers_agree(parsed, flat) is None
    other = _address("Davis Gardens", "N4 2LP", usrn=13, pao=1, sao=2, building="Harvey Apartments")
    assert numbers_agree(parse_address("2, Harvey Apartments, Davis Gardens"), other) is not None
