"""The addresses service's bulk load and counts."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from townhall.domains.addresses.models import Property
from townhall.domains.addresses.schemas import GazetteerCounts, NewAddress, NewProperty, NewStreet
from townhall.domains.addresses.service import count_gazetteer, count_properties, load_gazetteer
from townhall.platform.db import Database

DAY = date(2024, 1, 2)
STREET = NewStreet(
    usrn=20400001, record_type=1, descriptor="Mortimer Road", locality="Dalston", town="LONDON",
    administrative_area="HACKNEY", state=2, start_easting=533000.0, start_northing=184000.0,
    end_easting=533300.0, end_northing=184100.0, start_date=DAY, end_date=None,
    last_update_date=DAY,
)  # fmt: skip


def a_property(uprn: int, parent: int | None, classification: str) -> NewProperty:
    return NewProperty(
        uprn=uprn, parent_uprn=parent, logical_status=1, blpu_state=2,
        classification_code=classification, easting=533100.0, northing=184050.0,
        latitude=51.54, longitude=-0.08, representative_point_code=1, postcode_locator="N1 4LA",
        organisation=None, start_date=DAY, end_date=None, last_update_date=DAY,
    )  # fmt: skip


def an_address(key: int, uprn: int, usrn: int, flat: int | None) -> NewAddress:
    return NewAddress(
        lpi_key=f"5360L{key:09d}", uprn=uprn, usrn=usrn, logical_status=1, language="ENG",
        sao_start_number=flat, sao_start_suffix=None, sao_end_number=None, sao_end_suffix=None,
        sao_text=None, pao_start_number=None, pao_start_suffix=None, pao_end_number=None,
        pao_end_suffix=None, pao_text="Farleigh House", level=None, postcode="N1 4LA",
        official_flag="Y", start_date=DAY, end_date=None, last_update_date=DAY,
    )  # fmt: skip


def test_flats_may_come_before_their_block(database: Database) -> None:
    # A block inside an estate: flat -> block -> estate, given the wrong way round.
    properties = [
        a_property(100021000003, 100021000002, "RD06"),
        a_property(100021000002, 100021000001, "PP"),
        a_property(100021000001, None, "PP"),
    ]
    addresses = [an_address(n, p.uprn, STREET.usrn, n or None) for n, p in enumerate(properties)]
    progress: list[int] = []

    added = load_gazetteer(
        database,
        streets=[STREET],
        properties=properties,
        addresses=addresses,
        on_progress=progress.append,
    )

    assert added == GazetteerCounts(streets=1, properties=3, addresses=3)
    assert count_gazetteer(database) == added
    assert count_properties(database) == 3
    assert sum(progress) == 7
    with database.read() as session:
        flat = session.get(Property, 100021000003)
        assert flat is not None
        assert flat.parent_uprn == 100021000002
        assert flat.start_date == DAY


def test_a_property_that_is_its_own_ancestor_is_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="its own ancestor"):
        load_gazetteer(
            database,
            streets=[],
            properties=[a_property(1, 2, "PP"), a_property(2, 1, "PP")],
            addresses=[],
        )


def test_a_load_is_all_or_nothing(database: Database) -> None:
    unknown_street = an_address(1, 100021000001, 99999999, None)

    with pytest.raises(IntegrityError):
        load_gazetteer(
            database,
            streets=[STREET],
            properties=[a_property(100021000001, None, "RD04")],
            addresses=[unknown_street],
        )

    assert count_gazetteer(database) == GazetteerCounts(0, 0, 0)
    with database.read() as session:
        assert session.scalars(select(Property)).all() == []
