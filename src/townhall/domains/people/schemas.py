"""Shapes of person records coming into the people domain.

A bulk load (a source system's extract, the demo borough) hands the service plain tuples with
the fields of ``people_source_records``: a tuple costs a fraction of a validated model, which
matters at hundreds of thousands of rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple


class NewSourceRecord(NamedTuple):
    """One source system's record of one person, as that system holds it."""

    source_system: str
    source_record_id: str
    title: str | None
    first_name: str | None
    middle_names: str | None
    last_name: str
    date_of_birth: date | None
    email: str | None
    phone: str | None
    national_insurance_number: str | None
    address_text: str | None
    postcode: str | None
    uprn: int | None
    attributes: dict[str, Any]
    source_updated_at: datetime
