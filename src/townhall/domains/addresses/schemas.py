"""Shapes of gazetteer data coming into and going out of the addresses domain.

A bulk load (an LLPG import, the demo borough) hands the service plain tuples, one per row, with
the fields of the tables in ``models.py``: a tuple costs a fraction of a validated model, which
matters at a million rows. What the read API answers (``AddressPublic``, ``PropertyPublic``,
``StreetPublic``...) and the filters of an address search (``AddressFilters``) are here too.
UPRNs and USRNs go out as strings of digits: they exceed what JSON numbers hold safely in some
clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field


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


# --- the read API ------------------------------------------------------------------------------

LPI_LOGICAL_STATUSES: dict[int, str] = {
    1: "Approved",
    3: "Alternative",
    5: "Candidate",
    6: "Provisional",
    7: "Rejected (internal)",
    8: "Historical",
    9: "Rejected",
}
BLPU_LOGICAL_STATUSES: dict[int, str] = {
    1: "Approved",
    5: "Candidate",
    6: "Provisional",
    7: "Rejected (internal)",
    8: "Historical",
    9: "Rejected",
}
BLPU_STATES: dict[int, str] = {
    1: "Under construction",
    2: "In use",
    3: "Unoccupied",
    4: "No longer existing",
    6: "Planning permission granted",
}
STREET_STATES: dict[int, str] = {
    1: "Under construction",
    2: "Open",
    4: "Permanently closed",
}
STREET_RECORD_TYPES: dict[int, str] = {
    1: "Official designated street name",
    2: "Street description",
    3: "Numbered street",
    4: "Unofficial street name",
    9: "Description used for LLPG access",
}


@dataclass(frozen=True)
class BoundingBox:
    """A WGS84 rectangle: longitudes and latitudes in degrees, already checked."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True)
class Near:
    """A WGS84 point and a radius in metres, already checked."""

    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class AddressFilters:
    """What an address search asks for; every filter given must hold (AND).

    ``postcode`` may be whole or partial in any spacing or case; ``status`` is one or more LPI
    logical statuses; ``classification`` a code prefix ("R", "RD04"). With ``near``, results
    come nearest first; otherwise in street and number order.
    """

    q: str | None = None
    postcode: str | None = None
    uprn: int | None = None
    usrn: int | None = None
    street: str | None = None
    building_number: int | None = None
    status: tuple[int, ...] = ()
    classification: str | None = None
    parent_uprn: int | None = None
    bbox: BoundingBox | None = None
    near: Near | None = None
    modified_since: datetime | None = None


class _Public(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeMeaning(_Public):
    """A coded value and what it means."""

    code: int = Field(examples=[1])
    meaning: str | None = Field(examples=["Approved"])


class Classification(_Public):
    """A property's classification (the AddressBase scheme)."""

    code: str = Field(examples=["RD04"])
    description: str | None = Field(examples=["Terraced"])


class Coordinates(_Public):
    """Where a property is: WGS84 and British National Grid (EPSG:27700)."""

    latitude: float = Field(examples=[51.5456])
    longitude: float = Field(examples=[-0.0553])
    easting: float = Field(examples=[534500.0])
    northing: float = Field(examples=[184500.0])


class AddressableObject(_Public):
    """A secondary or primary addressable object (SAO / PAO): numbers, suffixes and text."""

    start_number: int | None = Field(examples=[12])
    start_suffix: str | None = Field(examples=["A"])
    end_number: int | None = Field(examples=[None])
    end_suffix: str | None = Field(examples=[None])
    text: str | None = Field(examples=["HILLTOP HOUSE"])


class StreetSummary(_Public):
    """The street an address is on."""

    usrn: str = Field(pattern=r"^[0-9]+$", examples=["20400008"])
    descriptor: str = Field(examples=["MARE STREET"])
    locality: str | None = Field(examples=["HACKNEY"])
    town: str = Field(examples=["LONDON"])


class AddressPublic(_Public):
    """One address (LPI) of a property, with what the property and street say of it."""

    lpi_key: str = Field(examples=["5360L000022638"])
    uprn: str = Field(pattern=r"^[0-9]+$", examples=["100023336956"])
    usrn: str = Field(pattern=r"^[0-9]+$", examples=["20400008"])
    parent_uprn: str | None = Field(pattern=r"^[0-9]+$", examples=[None])
    single_line: str = Field(examples=["FLAT 3, HILLTOP HOUSE, 12 MARE STREET, LONDON, E8 1AA"])
    organisation: str | None = Field(examples=[None])
    sao: AddressableObject
    pao: AddressableObject
    street: StreetSummary
    postcode: str = Field(examples=["E8 1AA"])
    level: str | None = Field(examples=["1"])
    logical_status: CodeMeaning
    classification: Classification
    coordinates: Coordinates
    start_date: date
    end_date: date | None
    last_update_date: date
    modified_at: datetime


class PropertySummary(_Public):
    """A property in brief: its parent or one of its children."""

    uprn: str = Field(pattern=r"^[0-9]+$", examples=["100023336957"])
    single_line: str | None = Field(
        description="Its approved address (or its first), if it has one.",
        examples=["FLAT 4, HILLTOP HOUSE, 12 MARE STREET, LONDON, E8 1AA"],
    )
    classification: Classification
    coordinates: Coordinates


class PropertyPublic(_Public):
    """A property (BLPU) with all its addresses, its parent and its children."""

    uprn: str = Field(pattern=r"^[0-9]+$", examples=["100023336956"])
    parent_uprn: str | None = Field(pattern=r"^[0-9]+$", examples=[None])
    logical_status: CodeMeaning
    state: CodeMeaning | None
    classification: Classification
    coordinates: Coordinates
    postcode_locator: str = Field(examples=["E8 1AA"])
    organisation: str | None = Field(examples=[None])
    start_date: date
    end_date: date | None
    last_update_date: date
    modified_at: datetime
    addresses: list[AddressPublic]
    parent: PropertySummary | None
    children: list[PropertySummary]


class StreetPublic(_Public):
    """A street (USRN) and how many properties have an address on it."""

    usrn: str = Field(pattern=r"^[0-9]+$", examples=["20400008"])
    record_type: CodeMeaning
    descriptor: str = Field(examples=["MARE STREET"])
    locality: str | None = Field(examples=["HACKNEY"])
    town: str = Field(examples=["LONDON"])
    administrative_area: str = Field(examples=["HACKNEY"])
    state: CodeMeaning | None
    start: Coordinates
    end: Coordinates
    start_date: date
    end_date: date | None
    last_update_date: date
    modified_at: datetime
    address_count: int = Field(examples=[212])


class CrossReferencePublic(_Public):
    """A property's identifier in another system (DTF type 23)."""

    xref_key: str = Field(examples=["5360X000000001"])
    uprn: str = Field(pattern=r"^[0-9]+$", examples=["100023336956"])
    source: str = Field(examples=["7666MT"])
    cross_reference: str = Field(examples=["HB-000123"])
    version: int | None = Field(examples=[1])
    start_date: date
    end_date: date | None
    last_update_date: date


class AddressChangePublic(_Public):
    """One change Townhall applied to a property, one of its addresses or cross-references."""

    id: int = Field(examples=[1])
    recorded_at: datetime
    record_type: str = Field(examples=["address"])
    record_key: str = Field(examples=["5360L000022638"])
    action: str = Field(examples=["updated"])
    changes: dict[str, Any] = Field(
        description="Each changed field as [old, new].",
        examples=[{"postcode": ["E8 1AA", "E8 1AB"]}],
    )
