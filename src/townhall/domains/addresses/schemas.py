"""Shapes of gazetteer data coming into the addresses domain.

A bulk load (an LLPG import, the demo borough) hands the service plain tuples, one per row, with
the fields of the tables in ``models.py``: a tuple costs a fraction of a validated model, which
matters at a million rows. API request and response schemas belong here too when the API comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple


class NewStreet(NamedTuple):
    """A street (BS7666 DTF type 11) to add to the gazetteer."""

    usrn: int
    record_type: int
    descriptor: str
    locality: str | None
    town: str
    administrative_area: str
    state: int | None
    start_easting: float
    start_northing: float
    end_easting: float
    end_northing: float
    start_date: date
    end_date: date | None
    last_update_date: date


class NewProperty(NamedTuple):
    """A property (BLPU, DTF type 21) to add; its parent may come later in the same load."""

    uprn: int
    parent_uprn: int | None
    logical_status: int
    blpu_state: int | None
    classification_code: str
    easting: float
    northing: float
    latitude: float
    longitude: float
    representative_point_code: int
    postcode_locator: str
    organisation: str | None
    start_date: date
    end_date: date | None
    last_update_date: date


class NewAddress(NamedTuple):
    """An address (LPI, DTF type 24) of a property on a street."""

    lpi_key: str
    uprn: int
    usrn: int
    logical_status: int
    language: str
    sao_start_number: int | None
    sao_start_suffix: str | None
    sao_end_number: int | None
    sao_end_suffix: str | None
    sao_text: str | None
    pao_start_number: int | None
    pao_start_suffix: str | None
    pao_end_number: int | None
    pao_end_suffix: str | None
    pao_text: str | None
    level: str | None
    postcode: str
    official_flag: str | None
    start_date: date
    end_date: date | None
    last_update_date: date


@dataclass(frozen=True)
class GazetteerCounts:
    """How many streets, properties and addresses the gazetteer holds (or a load added)."""

    streets: int
    properties: int
    addresses: int


class NewCrossReference(NamedTuple):
    """A cross-reference (DTF type 23): the property's identifier in another system."""

    xref_key: str
    uprn: int
    cross_reference: str
    version: int | None
    source: str
    start_date: date
    end_date: date | None
    last_update_date: date
