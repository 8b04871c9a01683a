"""Tables of the addresses domain, modelled on BS7666 and the NLPG Data Transfer Format 7.3.

Streets are DTF record type 11 (USRN), properties are BLPUs (type 21: UPRN, parent UPRN,
classification, coordinates), addresses are LPIs (type 24: the SAO/PAO structure, a logical
status and a USRN) and cross-references are type 23 (a UPRN's identifier in another system).
Every change Townhall applies is kept in ``address_changes``: the history of a record (each
change is also an event in the outbox, ``events.py``). ``modified_at`` is when Townhall last wrote
a row (the gazetteer's own ``last_update_date`` is when the council's custodian changed it); rows
that predate the column take the time of the migration. UPRNs and USRNs are stored as 64-bit
integers (they exceed 32 bits) and exposed as strings of digits by the API. Only this domain's
service writes these tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base


class Street(Base):
    """A street (DTF type 11), identified by its USRN."""

    __tablename__ = "address_streets"

    usrn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record_type: Mapped[int] = mapped_column(SmallInteger, default=1)  # 1 designated name
    descriptor: Mapped[str] = mapped_column(String(100))
    locality: Mapped[str | None] = mapped_column(String(35))
    town: Mapped[str] = mapped_column(String(30))
    administrative_area: Mapped[str] = mapped_column(String(30))
    state: Mapped[int | None] = mapped_column(SmallInteger)  # 2 open, 4 permanently closed
    start_easting: Mapped[float] = mapped_column(Float)
    start_northing: Mapped[float] = mapped_column(Float)
    end_easting: Mapped[float] = mapped_column(Float)
    end_northing: Mapped[float] = mapped_column(Float)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    last_update_date: Mapped[date] = mapped_column(Date)
    modified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), index=True, server_default=func.now()
    )


class Property(Base):
    """A basic land and property unit (BLPU, DTF type 21), identified by its UPRN."""

    __tablename__ = "address_properties"

    uprn: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    parent_uprn: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("address_properties.uprn"), index=True
    )
    logical_status: Mapped[int] = mapped_column(SmallInteger)  # 1 approved, 6, 8 historic, 9
    blpu_state: Mapped[int | None] = mapped_column(SmallInteger)  # 2 in use, 4 demolished...
    classification_code: Mapped[str] = mapped_column(String(6), index=True)
    easting: Mapped[float] = mapped_column(Float)
    northing: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    representative_point_code: Mapped[int] = mapped_column(SmallInteger, default=1)
    postcode_locator: Mapped[str] = mapped_column(String(8), index=True)
    organisation: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    last_update_date: Mapped[date] = mapped_column(Date)
    modified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), index=True, server_default=func.now()
    )

    __table_args__ = (
        Index("ix_address_properties_easting_northing", "easting", "northing"),
        Index("ix_address_properties_longitude_latitude", "longitude", "latitude"),
    )


class AddressRecord(Base):
    """A land and property identifier (LPI, DTF type 24): one address of a property."""

    __tablename__ = "address_lpis"

    lpi_key: Mapped[str] = mapped_column(String(14), primary_key=True)
    uprn: Mapped[int] = mapped_column(BigInteger, ForeignKey("address_properties.uprn"), index=True)
    usrn: Mapped[int] = mapped_column(BigInteger, ForeignKey("address_streets.usrn"), index=True)
    logical_status: Mapped[int] = mapped_column(SmallInteger)  # 1, 3, 5, 6, 7, 8, 9
    language: Mapped[str] = mapped_column(String(3), default="ENG")
    sao_start_number: Mapped[int | None] = mapped_column(SmallInteger)
    sao_start_suffix: Mapped[str | None] = mapped_column(String(2))
    sao_end_number: Mapped[int | None] = mapped_column(SmallInteger)
    sao_end_suffix: Mapped[str | None] = mapped_column(String(2))
    sao_text: Mapped[str | None] = mapped_column(String(90))
    pao_start_number: Mapped[int | None] = mapped_column(SmallInteger)
    pao_start_suffix: Mapped[str | None] = mapped_column(String(2))
    pao_end_number: Mapped[int | None] = mapped_column(SmallInteger)
    pao_end_suffix: Mapped[str | None] = mapped_column(String(2))
    pao_text: Mapped[str | None] = mapped_column(String(90))
    level: Mapped[str | None] = mapped_column(String(30))
    postcode: Mapped[str] = mapped_column(String(8), index=True)
    official_flag: Mapped[str | None] = mapped_column(String(1))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    last_update_date: Mapped[date] = mapped_column(Date)
    modified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), index=True, server_default=func.now()
    )


class CrossReference(Base):
    """A cross-reference (DTF type 23): the UPRN's identifier in another system."""

    __tablename__ = "address_cross_references"

    xref_key: Mapped[str] = mapped_column(String(14), primary_key=True)
    uprn: Mapped[int] = mapped_column(BigInteger, ForeignKey("address_properties.uprn"), index=True)
    cross_reference: Mapped[str] = mapped_column(String(50))
    version: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(6))  # the other system's code, e.g. "7666MT"
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    last_update_date: Mapped[date] = mapped_column(Date)
    modified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        Index("ix_address_cross_references_source_reference", "source", "cross_reference"),
    )


class AddressChange(Base):
    """One change Townhall applied to the gazetteer: its history, and an event to publish.

    ``record_key`` is the changed record's own key as text (a USRN, UPRN, LPI key or
    cross-reference key); ``uprn`` is the property it belongs to, so a property's history is one
    indexed look-up. ``changes`` holds only the fields that changed, each as ``[old, new]``.
    Each change is also announced as an event (``events.py``) in the same unit of work.
    """

    __tablename__ = "address_changes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    import_id: Mapped[str | None] = mapped_column(String(36), index=True)
    record_type: Mapped[str] = mapped_column(String(20))  # street, property, address, ...
    record_key: Mapped[str] = mapped_column(String(20))
    uprn: Mapped[int | None] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(10))  # created, updated, deleted
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_address_changes_record", "record_type", "record_key"),)
