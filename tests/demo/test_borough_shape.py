"""The small borough looks like a real council's data: its gazetteer and its people's records."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import select, text

from townhall.demo import BoroughSize, build_borough
from townhall.demo.postcodes import council_postcodes
from townhall.domains.people.models import SourcePersonRecord
from townhall.platform.db import Database

HACKNEY = "E09000012"
SOURCE_SYSTEMS = {"housing", "council_tax", "benefits", "parking", "social_care"}


@pytest.fixture
def borough(database: Database) -> Database:
    """The database with the small borough of Hackney, seed 42, built in it."""
    build_borough(
        database, council_code=HACKNEY, size=BoroughSize.SMALL, seed=42, show_progress=False
    )
    return database


def rows(database: Database, query: str) -> list[tuple[object, ...]]:
    with database.read() as session:
        return [tuple(row) for row in session.execute(text(query))]


def test_every_flat_is_in_a_block_that_exists_and_stands_where_it_does(borough: Database) -> None:
    flats = rows(
        borough,
        "SELECT child.uprn, parent.classification_code, child.easting = parent.easting "
        "AND child.northing = parent.northing FROM address_properties child "
        "LEFT JOIN address_properties parent ON parent.uprn = child.parent_uprn "
        "WHERE child.parent_uprn IS NOT NULL",
    )

    assert len(flats) > 50
    assert {(classification, same_place) for _, classification, same_place in flats} == {
        ("PP", True)
    }


def test_every_address_is_of_a_known_property_on_a_known_street(borough: Database) -> None:
    orphans = rows(
        borough,
        "SELECT lpi.lpi_key FROM address_lpis lpi "
        "LEFT JOIN address_properties property ON property.uprn = lpi.uprn "
        "LEFT JOIN address_streets street ON street.usrn = lpi.usrn "
        "WHERE property.uprn IS NULL OR street.usrn IS NULL",
    )
    unaddressed = rows(
        borough,
        "SELECT uprn FROM address_properties WHERE uprn NOT IN (SELECT uprn FROM address_lpis)",
    )

    assert orphans == []
    assert unaddressed == []


def test_identifiers_look_like_a_real_gazetteer(borough: Database) -> None:
    keys = [key for (key,) in rows(borough, "SELECT lpi_key FROM address_lpis")]
    uprns = [uprn for (uprn,) in rows(borough, "SELECT uprn FROM address_properties")]
    usrns = [usrn for (usrn,) in rows(borough, "SELECT usrn FROM address_streets")]

    assert all(re.fullmatch(r"5360L\d{9}", key) for key in keys)
    assert all(isinstance(uprn, int) and 10**10 <= uprn < 10**12 for uprn in uprns)
    assert all(isinstance(usrn, int) and 10**7 <= usrn < 10**8 for usrn in usrns)


def test_the_gazetteer_has_the_variety_of_a_real_one(borough: Database) -> None:
    classes = Counter(
        c for (c,) in rows(borough, "SELECT classification_code FROM address_properties")
    )
    statuses = {s for (s,) in rows(borough, "SELECT logical_status FROM address_lpis")}
    numbered = rows(
        borough,
        "SELECT count(*) FILTER (WHERE pao_start_suffix IS NOT NULL), "
        "count(*) FILTER (WHERE pao_end_number IS NOT NULL), "
        "count(*) FILTER (WHERE pao_text IS NOT NULL), "
        "count(*) FILTER (WHERE sao_start_number IS NOT NULL), "
        "count(*) FILTER (WHERE sao_text IS NOT NULL) FROM address_lpis",
    )[0]

    assert {"PP", "RD06", "RD04"} <= set(classes)
    assert any(code.startswith(("CR", "CO")) for code in classes)
    assert statuses >= {1, 3, 6, 8}
    assert all(count > 0 for count in numbered)  # suffixes, ranges, names, flat numbers, texts


def test_places_are_real_postcodes_of_the_council_inside_its_area(borough: Database) -> None:
    real = council_postcodes(HACKNEY)
    known = {point.postcode for point in real}
    min_east, max_east = min(p.easting for p in real), max(p.easting for p in real)
    min_north, max_north = min(p.northing for p in real), max(p.northing for p in real)
    properties = rows(
        borough,
        "SELECT postcode_locator, easting, northing, latitude, longitude FROM address_properties",
    )
    lpi_postcodes = {code for (code,) in rows(borough, "SELECT postcode FROM address_lpis")}

    assert {postcode for postcode, *_ in properties} <= known
    assert lpi_postcodes <= known
    for _, easting, northing, latitude, longitude in properties:
        assert min_east <= easting <= max_east
        assert min_north <= northing <= max_north
        # Hackney, in WGS84.
        assert 51.51 < latitude < 51.58
        assert -0.11 < longitude < -0.02


def test_streets_are_named_and_placed(borough: Database) -> None:
    streets = rows(
        borough,
        "SELECT descriptor, town, locality, start_easting, end_easting FROM address_streets",
    )

    assert {town for _, town, *_ in streets} == {"LONDON"}
    assert all(re.fullmatch(r"[A-Z][A-Za-z'-]+( [A-Z][a-z]+)+", name) for name, *_ in streets)
    assert all(locality for _, _, locality, *_ in streets)
    assert all(start != end for *_, start, end in streets)


def test_the_truth_covers_every_source_record(borough: Database) -> None:
    uncovered = rows(
        borough,
        "SELECT record.id FROM people_source_records record "
        "LEFT JOIN demo_person_truth truth ON truth.source_system = record.source_system "
        "AND truth.source_record_id = record.source_record_id WHERE truth.person_key IS NULL",
    )
    counts = rows(
        borough,
        "SELECT (SELECT count(*) FROM people_source_records), "
        "(SELECT count(*) FROM demo_person_truth)",
    )[0]
    systems = {system for (system,) in rows(borough, "SELECT source_system FROM demo_person_truth")}
    in_several = rows(
        borough,
        "SELECT count(*) FROM (SELECT person_key FROM demo_person_truth GROUP BY person_key "
        "HAVING count(DISTINCT source_system) >= 3) AS people",
    )[0][0]

    assert uncovered == []
    assert counts[0] == counts[1]
    assert systems == SOURCE_SYSTEMS
    assert in_several > 20


def test_records_disagree_the_way_real_systems_do(borough: Database) -> None:
    tags = Counter(
        tag
        for (variations,) in rows(borough, "SELECT variations FROM demo_person_truth")
        for tag in str(variations).split()
    )

    assert set(tags) >= {
        "nickname",
        "first_name_typo",
        "last_name_typo",
        "old_surname",
        "old_address",
        "no_dob",
        "dob_day_month_swapped",
        "duplicate",
        "no_uprn",
        "postcode_typo",
    }
    # A record whose truth says "no_uprn" has only its address text to go on.
    unmatched = rows(
        borough,
        "SELECT record.uprn, record.address_text FROM people_source_records record "
        "JOIN demo_person_truth truth USING (source_system, source_record_id) "
        "WHERE truth.variations LIKE '%no_uprn%'",
    )
    assert unmatched
    assert all(uprn is None and address for uprn, address in unmatched)


def test_one_home_is_written_in_several_address_styles(borough: Database) -> None:
    styles = rows(
        borough,
        "SELECT uprn, count(DISTINCT address_text) FROM people_source_records "
        "WHERE uprn IS NOT NULL GROUP BY uprn HAVING count(DISTINCT address_text) > 1",
    )

    assert len(styles) > 20


def test_contact_details_can_never_reach_a_real_person(borough: Database) -> None:
    details = rows(
        borough,
        "SELECT national_insurance_number, email, phone FROM people_source_records",
    )
    ninos = [nino for nino, _, _ in details if nino]
    emails = [email for _, email, _ in details if email]
    phones = [phone for *_, phone in details if phone]

    assert ninos
    assert emails
    assert phones
    # D, F, I, Q, U and V never start (nor come second in) a real National Insurance number.
    assert all(re.fullmatch(r"[DFIQUV]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]", n) for n in ninos)
    assert all(re.fullmatch(r"[a-z.'-]+\d+@example\.(com|org|net)", e) for e in emails)
    # Ofcom's numbers for drama.
    assert all(re.fullmatch(r"07700 900\d{3}|020 7946 0\d{3}", p) for p in phones)


def test_parking_permits_name_a_vehicle(borough: Database) -> None:
    with borough.read() as session:
        attributes = session.scalars(
            select(SourcePersonRecord.attributes).where(
                SourcePersonRecord.source_system == "parking"
            )
        ).all()

    plates = [permit["vehicle_registration"] for permit in attributes]
    assert plates
    assert all(re.fullmatch(r"[A-Z]{2}\d{2} [A-Z]{3}", plate) for plate in plates)


def test_address_text_without_a_uprn_is_matched_to_the_gazetteer_when_sure(
    borough: Database,
) -> None:
    tried = rows(
        borough,
        "SELECT record.matched_uprn, record.uprn_match_score, property.uprn "
        "FROM people_source_records record "
        "LEFT JOIN address_properties property ON property.uprn = record.matched_uprn "
        "WHERE record.uprn IS NULL AND record.address_text IS NOT NULL",
    )
    given = rows(
        borough,
        "SELECT count(*) FROM people_source_records "
        "WHERE uprn IS NOT NULL AND (matched_uprn IS NOT NULL OR uprn_match_score IS NOT NULL)",
    )[0][0]

    assert tried
    assert all(score is not None for _, score, _ in tried)  # every one was tried
    matched = [(uprn, score, known) for uprn, score, known in tried if uprn is not None]
    assert len(matched) > len(tried) / 2
    # Only sure matches, and only to properties the gazetteer holds.
    assert all(float(str(score)) >= 0.9 and known == uprn for uprn, score, known in matched)
    assert given == 0  # a UPRN the source gave is never second-guessed
