"""Two residents the people domain found to be one person, merged: whose uses follow the merge.

Made through the people domain's own services (records loaded, a full run that leaves them
apart, then a staff merge), never by writing its tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.domains.people.residents_world import (
    STAFF,
    a_record,
    add_records,
    add_sources,
    placement,
    rerun,
)
from townhall.domains.people import residents
from townhall.platform.db import Database


@dataclass(frozen=True)
class Merged:
    """Mary's council tax and parking records: first two residents, then one, ``survivor``."""

    survivor: str
    earlier: str
    council_tax: int
    parking: int


def merge_two_residents(database: Database) -> Merged:
    """Mary as two residents, then the parking one merged into the council tax one."""
    add_sources(database)
    council_tax, parking = add_records(
        database,
        a_record("council_tax", "CT1", email="mary@example.com"),
        a_record("parking", "P1", first_name="Maria", email="maria@example.com",
                 address_text="9 Mare Street, London", postcode="E8 1AA", uprn=None),
    )  # fmt: skip
    rerun(database, [])
    placed = placement(database)
    residents.merge(
        database, placed[council_tax], placed[parking], actor=STAFF, reason="The same person"
    )
    return Merged(placed[council_tax], placed[parking], council_tax, parking)
