"""The borough's source systems as a council receives them: extract files and a database.

This module owns how each of the five systems hands its records over, each with its own column
names and habits, and the source settings that read them back through the people domain's
connectors (the demo writes no person record itself):

- housing: one CSV file rewritten nightly, the name as "SURNAME, Forenames", dates as dd/mm/yyyy,
  read by its "Last Updated" column;
- council tax: a folder of nightly drops, each holding only that night's new rows, read append
  only by file name and row;
- benefits: a SQLite database (a copy of the DWP-fed claims system), read by the SQL connector
  in keyset batches by ``updated_at`` and ``claimant_id``;
- parking: one CSV file with the whole name in one column ("Forenames Surname");
- social care: a semicolon-separated CSV with a byte order mark, as a spreadsheet saves it.

Trust ranks (the survivorship default, 1 the most trusted): benefits first (identity checked
against DWP, National Insurance numbers), then council tax (liability is checked and billed
every year), housing (tenancy checks, but capitals and old surnames), social care (accurate
about the person, less so about addresses) and parking (typed by residents online).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
)
from sqlalchemy.pool import NullPool

from townhall.domains.people.schemas import NewSourceRecord

# Times in the extracts are written without a zone, in UTC (the demo's systems run on UTC).
_ZONE = "UTC"
COUNCIL_TAX_DROPS = 3


@dataclass(frozen=True)
class SourceDefinition:
    """A source system to register: its name, label, trust, connector and settings."""

    name: str
    label: str
    trust: int
    connector: str
    config: dict[str, Any]


def write_extracts(records: Iterable[NewSourceRecord], folder: Path) -> list[SourceDefinition]:
    """Write each system's records into ``folder`` its own way; the sources that read them."""
    by_system: dict[str, list[NewSourceRecord]] = {}
    for record in records:
        by_system.setdefault(record.source_system, []).append(record)
    folder.mkdir(parents=True, exist_ok=True)
    return [writer(by_system.get(name, []), folder) for name, writer in _WRITERS.items()]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _joined(*parts: str | None) -> str:
    return " ".join(part for part in parts if part)


def _dmy(day: date | None) -> str:
    return "" if day is None else day.strftime("%d/%m/%Y")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _write_csv(path: Path, header: list[str], rows: Iterable[list[str]], **dialect: Any) -> None:
    encoding = dialect.pop("encoding", "utf-8")
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, **dialect)
        writer.writerow(header)
        writer.writerows(rows)


def _housing(records: list[NewSourceRecord], folder: Path) -> SourceDefinition:
    header = ["Tenancy Ref", "Person Ref", "Tenant Role", "Tenure", "Title", "Name", "DOB",
              "Email", "Tel No", "NI No", "Address", "Post Code", "UPRN",
              "Last Updated"]  # fmt: skip
    rows = (
        [
            _text(record.attributes.get("tenancy_ref")),
            record.source_record_id,
            _text(record.attributes.get("tenant_role")),
            _text(record.attributes.get("tenure")),
            _text(record.title),
            f"{record.last_name}, {_joined(record.first_name, record.middle_names)}",
            _dmy(record.date_of_birth),
            _text(record.email),
            _text(record.phone),
            _text(record.national_insurance_number),
            _text(record.address_text),
            _text(record.postcode),
            _text(record.uprn),
            _utc(record.source_updated_at).strftime("%d/%m/%Y %H:%M"),
        ]
        for record in records
    )
    path = folder / "housing.csv"
    _write_csv(path, header, rows)
    mapping = {
        "record_id": "Person Ref",
        "updated_at": {"column": "Last Updated", "format": "%d/%m/%Y %H:%M"},
        "full_name": {"column": "Name", "style": "surname_comma_forenames"},
        "fields": {
            "title": "Title",
            "date_of_birth": {"column": "DOB", "format": "%d/%m/%Y"},
            "email": "Email",
            "phone": "Tel No",
            "national_insurance_number": "NI No",
            "address_text": "Address",
            "postcode": "Post Code",
            "uprn": "UPRN",
        },
        "attributes": {
            "tenancy_ref": "Tenancy Ref",
            "tenure": "Tenure",
            "tenant_role": "Tenant Role",
        },
        "timezone": _ZONE,
    }
    config = {
        "path": str(path),
        "changed_column": "Last Updated",
        "changed_format": "%d/%m/%Y %H:%M",
        "mapping": mapping,
    }
    return SourceDefinition("housing", "Housing (tenancies)", 3, "csv", config)


def _council_tax(records: list[NewSourceRecord], folder: Path) -> SourceDefinition:
    header = ["account_ref", "person_ref", "title", "forename", "middle_names", "surname",
              "date_of_birth", "email", "phone", "property_address", "postcode", "uprn", "band",
              "liability", "spd", "modified"]  # fmt: skip
    drops = folder / "council_tax"
    drops.mkdir(exist_ok=True)
    for old in drops.glob("ctax_*.csv"):
        old.unlink()
    per_drop = -(-len(records) // COUNCIL_TAX_DROPS) or 1
    for number in range(COUNCIL_TAX_DROPS):
        chunk = records[number * per_drop : (number + 1) * per_drop]
        rows = (
            [
                _text(record.attributes.get("account_ref")),
                record.source_record_id,
                _text(record.title),
                _text(record.first_name),
                _text(record.middle_names),
                record.last_name,
                _text(record.date_of_birth and record.date_of_birth.isoformat()),
                _text(record.email),
                _text(record.phone),
                _text(record.address_text),
                _text(record.postcode),
                _text(record.uprn),
                _text(record.attributes.get("band")),
                _text(record.attributes.get("liability")),
                "Y" if record.attributes.get("single_person_discount") else "N",
                _utc(record.source_updated_at).isoformat(),
            ]
            for record in chunk
        )
        _write_csv(drops / f"ctax_2025033{number}.csv", header, rows)
    mapping = {
        "record_id": "person_ref",
        "updated_at": "modified",
        "fields": {
            "title": "title",
            "first_name": "forename",
            "middle_names": "middle_names",
            "last_name": "surname",
            "date_of_birth": "date_of_birth",
            "email": "email",
            "phone": "phone",
            "address_text": "property_address",
            "postcode": "postcode",
            "uprn": "uprn",
        },
        "attributes": {
            "account_ref": "account_ref",
            "band": "band",
            "liability": "liability",
            "single_person_discount": {"column": "spd", "kind": "yes_no"},
        },
        "timezone": _ZONE,
    }
    config = {"path": str(drops), "pattern": "ctax_*.csv", "mapping": mapping}
    return SourceDefinition("council_tax", "Council tax", 2, "csv", config)


def _benefits(records: list[NewSourceRecord], folder: Path) -> SourceDefinition:
    path = folder / "benefits.sqlite"
    path.unlink(missing_ok=True)
    metadata = MetaData()
    claimants = Table(
        "claimants",
        metadata,
        Column("claimant_id", String(16), primary_key=True),
        Column("claim_ref", String(16)),
        Column("benefit", String(40)),
        Column("title", String(20)),
        Column("forename", String(100)),
        Column("middle_names", String(100)),
        Column("surname", String(100)),
        Column("dob", Date),
        Column("nino", String(13)),
        Column("email", String(254)),
        Column("phone", String(32)),
        Column("address", String(300)),
        Column("postcode", String(8)),
        Column("uprn", BigInteger),
        Column("updated_at", DateTime, index=True),
    )
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            rows = [
                {
                    "claimant_id": record.source_record_id,
                    "claim_ref": record.attributes.get("claim_ref"),
                    "benefit": record.attributes.get("benefit"),
                    "title": record.title,
                    "forename": record.first_name,
                    "middle_names": record.middle_names,
                    "surname": record.last_name,
                    "dob": record.date_of_birth,
                    "nino": record.national_insurance_number,
                    "email": record.email,
                    "phone": record.phone,
                    "address": record.address_text,
                    "postcode": record.postcode,
                    "uprn": record.uprn,
                    "updated_at": _utc(record.source_updated_at),
                }
                for record in records
            ]
            if rows:
                connection.execute(insert(claimants), rows)
    finally:
        engine.dispose()
    mapping = {
        "record_id": "claimant_id",
        "updated_at": "updated_at",
        "fields": {
            "title": "title",
            "first_name": "forename",
            "middle_names": "middle_names",
            "last_name": "surname",
            "date_of_birth": "dob",
            "national_insurance_number": "nino",
            "email": "email",
            "phone": "phone",
            "address_text": "address",
            "postcode": "postcode",
            "uprn": "uprn",
        },
        "attributes": {"claim_ref": "claim_ref", "benefit": "benefit"},
        "timezone": _ZONE,
    }
    config = {
        "url": f"sqlite:///{path}",
        "table": "claimants",
        "key_column": "claimant_id",
        "changed_column": "updated_at",
        "mapping": mapping,
    }
    return SourceDefinition("benefits", "Benefits (claims)", 1, "sql", config)


def _parking(records: list[NewSourceRecord], folder: Path) -> SourceDefinition:
    header = ["Permit No", "Permit Holder", "Email", "Mobile", "DOB", "Address", "Postcode",
              "UPRN", "Permit Type", "Zone", "Vehicle Reg", "Valid Until", "Updated"]  # fmt: skip
    rows = (
        [
            record.source_record_id,
            _joined(record.first_name, record.middle_names, record.last_name),
            _text(record.email),
            _text(record.phone),
            _dmy(record.date_of_birth),
            _text(record.address_text),
            _text(record.postcode),
            _text(record.uprn),
            _text(record.attributes.get("permit_type")),
            _text(record.attributes.get("permit_zone")),
            _text(record.attributes.get("vehicle_registration")),
            _text(record.attributes.get("valid_until")),
            _utc(record.source_updated_at).strftime("%Y-%m-%d %H:%M:%S"),
        ]
        for record in records
    )
    path = folder / "parking.csv"
    _write_csv(path, header, rows)
    mapping = {
        "record_id": "Permit No",
        "updated_at": {"column": "Updated", "format": "%Y-%m-%d %H:%M:%S"},
        "full_name": {"column": "Permit Holder", "style": "forenames_surname"},
        "fields": {
            "date_of_birth": {"column": "DOB", "format": "%d/%m/%Y"},
            "email": "Email",
            "phone": "Mobile",
            "address_text": "Address",
            "postcode": "Postcode",
            "uprn": "UPRN",
        },
        "attributes": {
            "permit_type": "Permit Type",
            "permit_zone": "Zone",
            "vehicle_registration": "Vehicle Reg",
            "valid_until": "Valid Until",
        },
        "timezone": _ZONE,
    }
    config = {
        "path": str(path),
        "changed_column": "Updated",
        "changed_format": "%Y-%m-%d %H:%M:%S",
        "mapping": mapping,
    }
    return SourceDefinition("parking", "Parking permits", 5, "csv", config)


def _social_care(records: list[NewSourceRecord], folder: Path) -> SourceDefinition:
    header = ["PersonID", "Title", "Forename", "MiddleNames", "Surname", "DateOfBirth", "NINo",
              "Phone", "Email", "Address", "Postcode", "UPRN", "ClientGroup", "CaseStatus",
              "LastModified"]  # fmt: skip
    rows = (
        [
            record.source_record_id,
            _text(record.title),
            _text(record.first_name),
            _text(record.middle_names),
            record.last_name,
            _dmy(record.date_of_birth),
            _text(record.national_insurance_number),
            _text(record.phone),
            _text(record.email),
            _text(record.address_text),
            _text(record.postcode),
            _text(record.uprn),
            _text(record.attributes.get("client_group")),
            _text(record.attributes.get("case_status")),
            _utc(record.source_updated_at).isoformat(),
        ]
        for record in records
    )
    path = folder / "social_care.csv"
    _write_csv(path, header, rows, delimiter=";", encoding="utf-8-sig")
    mapping = {
        "record_id": "PersonID",
        "updated_at": "LastModified",
        "fields": {
            "title": "Title",
            "first_name": "Forename",
            "middle_names": "MiddleNames",
            "last_name": "Surname",
            "date_of_birth": {"column": "DateOfBirth", "format": "%d/%m/%Y"},
            "national_insurance_number": "NINo",
            "phone": "Phone",
            "email": "Email",
            "address_text": "Address",
            "postcode": "Postcode",
            "uprn": "UPRN",
        },
        "attributes": {"client_group": "ClientGroup", "case_status": "CaseStatus"},
        "timezone": _ZONE,
    }
    config = {
        "path": str(path),
        "delimiter": ";",
        "changed_column": "LastModified",
        "mapping": mapping,
    }
    return SourceDefinition("social_care", "Adult and children's social care", 4, "csv", config)


_WRITERS: dict[str, Callable[[list[NewSourceRecord], Path], SourceDefinition]] = {
    "benefits": _benefits,
    "council_tax": _council_tax,
    "housing": _housing,
    "social_care": _social_care,
    "parking": _parking,
}
