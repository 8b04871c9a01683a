"""A small gazetteer whose every address a search test can name: Mare Street and its neighbours.

It has the cases free-text search must get right: 12 and 21 on the same street, 12A, a range
(16-18), a block with numbered flats and an alternative address, a historic address, streets
whose names share a start (Mare, Marlborough, Martello), a saint ("St John's Road"), and
postcodes E1 and E10 that a careless prefix would mix up. It is loaded through the service, so
the search index is built as it is in production.
"""

from __future__ import annotations

from datetime import date

from townhall.domains.addresses.schemas import NewAddress, NewProperty, NewStreet
from townhall.domains.addresses.service import load_gazetteer
from townhall.platform.db import Database

DAY = date(2024, 1, 2)
MARE_STREET = 20400001
ST_JOHNS_ROAD = 20400002
MARLBOROUGH_AVENUE = 20400003
MARTELLO_STREET = 20400004

# UPRNs
NO_12 = 100000000012
NO_21 = 100000000021
NO_12A = 100000000121
NO_16_18 = 100000001618
HILLTOP_HOUSE = 100000000040
FLAT = {1: 100000000401, 2: 100000000402, 3: 100000000403}
NO_9_HISTORIC = 100000000009
ST_JOHNS_5 = 100000000505
ST_JOHNS_12 = 100000000512
MARLBOROUGH_7 = 100000000707
CHURCH = 100000000777
MARTELLO_3 = 100000000903


def _street(usrn: int, descriptor: str, locality: str, easting: float) -> NewStreet:
    return NewStreet(
        usrn=usrn, record_type=1, descriptor=descriptor, locality=locality, town="LONDON",
        administrative_area="HACKNEY", state=2, start_easting=easting, start_northing=184000.0,
        end_easting=easting + 300.0, end_northing=184100.0, start_date=DAY, end_date=None,
        last_update_date=DAY,
    )  # fmt: skip


def _property(
    uprn: int,
    classification: str,
    postcode: str,
    offset: int,
    *,
    parent: int | None = None,
    status: int = 1,
    organisation: str | None = None,
) -> NewProperty:
    # About 11 metres apart per step of ``offset``, west to east along one latitude.
    return NewProperty(
        uprn=uprn, parent_uprn=parent, logical_status=status, blpu_state=2,
        classification_code=classification, easting=534000.0 + offset * 11,
        northing=184500.0, latitude=51.5450, longitude=-0.0550 + offset * 0.00016,
        representative_point_code=1, postcode_locator=postcode, organisation=organisation,
        start_date=DAY, end_date=None, last_update_date=DAY,
    )  # fmt: skip


def _address(
    key: int,
    uprn: int,
    usrn: int,
    postcode: str,
    *,
    number: int | None = None,
    suffix: str | None = None,
    end: int | None = None,
    flat: int | None = None,
    name: str | None = None,
    sao_text: str | None = None,
    status: int = 1,
) -> NewAddress:
    return NewAddress(
        lpi_key=f"5360L{key:09d}", uprn=uprn, usrn=usrn, logical_status=status, language="ENG",
        sao_start_number=flat, sao_start_suffix=None, sao_end_number=None, sao_end_suffix=None,
        sao_text=sao_text, pao_start_number=number, pao_start_suffix=suffix, pao_end_number=end,
        pao_end_suffix=None, pao_text=name, level=None, postcode=postcode, official_flag="Y",
        start_date=DAY, end_date=None, last_update_date=DAY,
    )  # fmt: skip


STREETS = [
    _street(MARE_STREET, "Mare Street", "Hackney", 534000.0),
    _street(ST_JOHNS_ROAD, "St John's Road", "Hackney", 534400.0),
    _street(MARLBOROUGH_AVENUE, "Marlborough Avenue", "Dalston", 533600.0),
    _street(MARTELLO_STREET, "Martello Street", "Hackney", 533900.0),
]
PROPERTIES = [
    _property(NO_12, "RD04", "E8 1AA", 0),
    _property(NO_21, "RD04", "E8 1AB", 1),
    _property(NO_12A, "RD03", "E8 1AA", 2),
    _property(NO_16_18, "CR08", "E8 1AB", 3, organisation="Hilltop Bakery"),
    _property(HILLTOP_HOUSE, "PP", "E8 1AB", 4),
    *(_property(FLAT[n], "RD06", "E8 1AB", 4, parent=HILLTOP_HOUSE) for n in (1, 2, 3)),
    _property(NO_9_HISTORIC, "RD04", "E8 1AA", 5, status=8),
    _property(ST_JOHNS_5, "RD04", "E10 5AA", 20),
    _property(ST_JOHNS_12, "RD04", "E1 6AN", 21),
    _property(MARLBOROUGH_7, "RD02", "N16 7AA", 40),
    _property(CHURCH, "ZW99CH", "N16 7AA", 41, organisation="St Mark's Church"),
    _property(MARTELLO_3, "RD04", "E8 3BB", 60),
]
ADDRESSES = [
    _address(1, NO_12, MARE_STREET, "E8 1AA", number=12),
    _address(2, NO_21, MARE_STREET, "E8 1AB", number=21),
    _address(3, NO_12A, MARE_STREET, "E8 1AA", number=12, suffix="A"),
    _address(4, NO_16_18, MARE_STREET, "E8 1AB", number=16, end=18),
    _address(5, HILLTOP_HOUSE, MARE_STREET, "E8 1AB", number=40, name="Hilltop House"),
    *(
        _address(5 + n, FLAT[n], MARE_STREET, "E8 1AB", number=40, name="Hilltop House", flat=n)
        for n in (1, 2, 3)
    ),
    # Flat 3 is also known by its number in the block alone: an alternative address.
    _address(9, FLAT[3], MARE_STREET, "E8 1AB", flat=3, name="Hilltop House", status=3),
    _address(10, NO_9_HISTORIC, MARE_STREET, "E8 1AA", number=9, status=8),
    _address(11, ST_JOHNS_5, ST_JOHNS_ROAD, "E10 5AA", number=5),
    _address(12, ST_JOHNS_12, ST_JOHNS_ROAD, "E1 6AN", number=12),
    _address(13, MARLBOROUGH_7, MARLBOROUGH_AVENUE, "N16 7AA", number=7),
    _address(14, CHURCH, MARLBOROUGH_AVENUE, "N16 7AA", name="St Mark's Church"),
    _address(15, MARTELLO_3, MARTELLO_STREET, "E8 3BB", number=3),
]


def lpi_key(number: int) -> str:
    """The LPI key of the address made with ``key=number`` above."""
    return f"5360L{number:09d}"


def load(database: Database) -> None:
    """Load the gazetteer (and so build the search index) into an empty database."""
    load_gazetteer(database, streets=STREETS, properties=PROPERTIES, addresses=ADDRESSES)
