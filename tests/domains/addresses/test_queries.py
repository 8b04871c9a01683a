"""Reading the gazetteer: every filter of the address search, properties, streets, pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.domains.addresses import search_gazetteer as g
from townhall.demo.build import build_borough
from townhall.demo.sizes import BoroughSize
from townhall.domains.addresses import queries
from townhall.domains.addresses.models import AddressChange, AddressRecord, CrossReference
from townhall.domains.addresses.schemas import AddressFilters, Near
from townhall.errors import NotFound, ValidationFailed
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest


@pytest.fixture
def gazetteer(database: Database) -> Database:
    g.load(database)
    return database


def uprns(database: Database, **filters: object) -> list[int]:
    page = queries.find_addresses(database, AddressFilters(**filters), PageRequest(limit=200))  # type: ignore[arg-type]
    return [int(item.uprn) for item in page.items]


def lpis(database: Database, **filters: object) -> list[str]:
    page = queries.find_addresses(database, AddressFilters(**filters), PageRequest(limit=200))  # type: ignore[arg-type]
    return [item.lpi_key for item in page.items]


def test_free_text(gazetteer: Database) -> None:
    assert uprns(gazetteer, q="12 mare stret") == [g.NO_12, g.NO_12A]
    assert g.NO_21 not in uprns(gazetteer, q="12 mare street")


def test_postcode_whole_or_partial(gazetteer: Database) -> None:
    assert set(uprns(gazetteer, postcode="e81aa")) == {g.NO_12, g.NO_12A, g.NO_9_HISTORIC}
    assert set(uprns(gazetteer, postcode="E8 1")) == {
        g.NO_12, g.NO_21, g.NO_12A, g.NO_16_18, g.HILLTOP_HOUSE, *g.FLAT.values(), g.NO_9_HISTORIC
    }  # fmt: skip
    assert uprns(gazetteer, postcode="E1") == [g.ST_JOHNS_12]
    assert uprns(gazetteer, postcode="e10") == [g.ST_JOHNS_5]
    assert uprns(gazetteer, postcode="SW1A 1AA") == []


def test_a_malformed_postcode_is_refused(gazetteer: Database) -> None:
    with pytest.raises(ValidationFailed) as caught:
        uprns(gazetteer, postcode="not one")
    assert caught.value.errors[0].field == "query.postcode"


def test_uprn_usrn_and_street(gazetteer: Database) -> None:
    assert lpis(gazetteer, uprn=g.FLAT[3]) == [g.lpi_key(8), g.lpi_key(9)]
    assert uprns(gazetteer, usrn=g.MARLBOROUGH_AVENUE) == [g.MARLBOROUGH_7, g.CHURCH]
    assert uprns(gazetteer, street="marlborough avenue") == [g.MARLBOROUGH_7, g.CHURCH]
    assert uprns(gazetteer, street="Marlborough Ave") == [g.MARLBOROUGH_7, g.CHURCH]
    assert uprns(gazetteer, street="Nowhere Lane") == []


def test_building_number(gazetteer: Database) -> None:
    assert uprns(gazetteer, building_number=12) == [g.NO_12, g.NO_12A, g.ST_JOHNS_12]
    assert uprns(gazetteer, building_number=17) == [g.NO_16_18]
    assert uprns(gazetteer, building_number=12, street="Mare Street") == [g.NO_12, g.NO_12A]


def test_status(gazetteer: Database) -> None:
    assert lpis(gazetteer, status=(3,)) == [g.lpi_key(9)]
    assert set(lpis(gazetteer, status=(3, 8))) == {g.lpi_key(9), g.lpi_key(10)}


def test_classification_prefix(gazetteer: Database) -> None:
    assert set(uprns(gazetteer, classification="RD06")) == set(g.FLAT.values())
    assert set(uprns(gazetteer, classification="rd0")) == {
        g.NO_12, g.NO_21, g.NO_12A, *g.FLAT.values(), g.NO_9_HISTORIC, g.ST_JOHNS_5,
        g.ST_JOHNS_12, g.MARLBOROUGH_7, g.MARTELLO_3,
    }  # fmt: skip
    assert uprns(gazetteer, classification="Z") == [g.CHURCH]
    with pytest.raises(ValidationFailed):
        uprns(gazetteer, classification="R%")


def test_parent(gazetteer: Database) -> None:
    assert set(uprns(gazetteer, parent_uprn=g.HILLTOP_HOUSE)) == set(g.FLAT.values())


def test_bbox(gazetteer: Database) -> None:
    # Longitudes -0.0550 + offset * 0.00016: offsets 0 to 5 are Mare Street.
    box = queries.parse_bbox("-0.05505,51.54,-0.05415,51.55")
    assert set(uprns(gazetteer, bbox=box)) == {
        g.NO_12, g.NO_21, g.NO_12A, g.NO_16_18, g.HILLTOP_HOUSE, *g.FLAT.values(), g.NO_9_HISTORIC
    }  # fmt: skip
    # Corners in the other order name the same box.
    assert queries.parse_bbox("-0.05415,51.55,-0.05505,51.54") == box


@pytest.mark.parametrize(
    "text", ["", "1,2,3", "a,b,c,d", "-181,51,0,52", "0,91,1,92", "0,51,1,nan", "1,2,3,4,5"]
)
def test_a_bad_bbox_is_refused(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        queries.parse_bbox(text)
    assert caught.value.errors[0].field == "query.bbox"


def test_near_sorts_by_distance(gazetteer: Database) -> None:
    near = queries.parse_near("51.5450,-0.0550", 40)  # at 12 Mare Street; 11 m per step
    assert uprns(gazetteer, near=near) == [g.NO_12, g.NO_21, g.NO_12A, g.NO_16_18]
    far = Near(lat=51.5450, lon=-0.0550 + 20 * 0.00016, radius_m=8)
    assert uprns(gazetteer, near=far) == [g.ST_JOHNS_5]


@pytest.mark.parametrize(
    ("text", "radius", "field"),
    [("51.5", 100, "near"), ("91,0", 100, "near"), ("51.5,-0.05", 0, "radius_m"),
     ("51.5,-0.05", 5001, "radius_m"), ("x,y", 100, "near")],
)  # fmt: skip
def test_a_bad_near_is_refused(text: str, radius: float, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        queries.parse_near(text, radius)
    assert caught.value.errors[0].field == f"query.{field}"


def test_modified_since(gazetteer: Database) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    assert uprns(gazetteer, modified_since=later) == []
    with gazetteer.write() as session:
        session.execute(
            update(AddressRecord)
            .where(AddressRecord.lpi_key == g.lpi_key(13))
            .values(modified_at=later + timedelta(minutes=1))
        )
    assert uprns(gazetteer, modified_since=later) == [g.MARLBOROUGH_7]
    assert len(uprns(gazetteer, modified_since=later - timedelta(days=1))) == len(g.ADDRESSES)


def test_filters_combine(gazetteer: Database) -> None:
    assert uprns(gazetteer, q="mare street", postcode="E8 1AA", status=(1,)) == [
        g.NO_12,
        g.NO_12A,
    ]


def test_every_page_once(database: Database) -> None:
    build_borough(
        database, council_code="E09000012", size=BoroughSize.SMALL, seed=42, show_progress=False
    )
    for filters in (AddressFilters(), AddressFilters(q="road"), AddressFilters(postcode="E8")):
        everything = queries.find_addresses(database, filters, PageRequest(limit=200))
        seen: list[str] = []
        after = None
        while True:
            page = queries.find_addresses(database, filters, PageRequest(limit=7, after=after))
            seen.extend(item.lpi_key for item in page.items)
            if page.next_position is None:
                break
            after = page.next_position
        assert len(seen) == len(set(seen))
        if everything.next_position is None:
            assert seen == [item.lpi_key for item in everything.items]
        assert len(seen) > 7


def test_pages_near_a_point(gazetteer: Database) -> None:
    near = queries.parse_near("51.5450,-0.0550", 5000)
    seen: list[str] = []
    after = None
    while True:
        page = queries.find_addresses(
            gazetteer, AddressFilters(near=near), PageRequest(limit=4, after=after)
        )
        seen.extend(item.lpi_key for item in page.items)
        if page.next_position is None:
            break
        after = page.next_position
    assert sorted(seen) == sorted(a.lpi_key for a in g.ADDRESSES)


def test_a_property_with_its_addresses_parent_and_children(gazetteer: Database) -> None:
    flat = queries.get_property(gazetteer, g.FLAT[3])
    assert [a.lpi_key for a in flat.addresses] == [g.lpi_key(8), g.lpi_key(9)]  # approved first
    assert (
        flat.addresses[0].single_line
        == "FLAT 3, HILLTOP HOUSE, 40 MARE STREET, HACKNEY, LONDON, E8 1AB"
    )
    assert flat.addresses[0].logical_status.meaning == "Approved"
    assert (
        flat.classification.description == "Self Contained Flat (Includes Maisonette / Apartment)"
    )
    assert flat.parent is not None
    assert flat.parent.uprn == str(g.HILLTOP_HOUSE)
    block = queries.get_property(gazetteer, g.HILLTOP_HOUSE)
    assert [child.uprn for child in block.children] == [str(u) for u in g.FLAT.values()]
    assert block.children[0].single_line is not None
    assert block.children[0].single_line.startswith("FLAT 1, HILLTOP HOUSE")


def test_unknown_uprn_and_usrn(gazetteer: Database) -> None:
    with pytest.raises(NotFound):
        queries.get_property(gazetteer, 999)
    with pytest.raises(NotFound):
        queries.get_street(gazetteer, 999)
    with pytest.raises(NotFound):
        queries.street_properties(gazetteer, 999, PageRequest())
    with pytest.raises(NotFound):
        queries.cross_references(gazetteer, 999, PageRequest())
    with pytest.raises(NotFound):
        queries.property_history(gazetteer, 999, PageRequest())


def test_a_street_and_its_addresses(gazetteer: Database) -> None:
    street = queries.get_street(gazetteer, g.MARE_STREET)
    assert street.descriptor == "Mare Street"
    assert street.address_count == 10
    assert 51 < street.start.latitude < 52
    page = queries.street_properties(gazetteer, g.MARE_STREET, PageRequest(limit=3))
    assert [item.pao.start_number for item in page.items] == [9, 12, 12]
    assert page.next_position is not None


def test_cross_references_and_history(gazetteer: Database) -> None:
    day = date(2024, 1, 2)
    with gazetteer.write() as session:
        for n in range(3):
            session.add(
                CrossReference(xref_key=f"5360X{n:09d}", uprn=g.NO_12, cross_reference=f"HB-{n}",
                               version=1, source="7666MT", start_date=day, end_date=None,
                               last_update_date=day)
            )  # fmt: skip
            # One row per statement: the NUL guard in platform/db.py cannot read an
            # executemany's parameters on SQLite yet.
            session.flush()
        session.add(
            AddressChange(
                recorded_at=datetime.now(UTC), import_id=None, record_type="address",
                record_key=g.lpi_key(1), uprn=g.NO_12, action="updated",
                changes={"postcode": ["E8 1AB", "E8 1AA"]},
            )
        )  # fmt: skip
    first = queries.cross_references(gazetteer, g.NO_12, PageRequest(limit=2))
    assert [ref.cross_reference for ref in first.items] == ["HB-0", "HB-1"]
    rest = queries.cross_references(
        gazetteer, g.NO_12, PageRequest(limit=2, after=first.next_position)
    )
    assert [ref.cross_reference for ref in rest.items] == ["HB-2"]
    assert queries.cross_references(gazetteer, g.NO_21, PageRequest()).items == []
    history = queries.property_history(gazetteer, g.NO_12, PageRequest())
    assert [(c.action, c.changes) for c in history.items] == [
        ("updated", {"postcode": ["E8 1AB", "E8 1AA"]})
    ]
