"""A plain CSV gazetteer: one row per address, with its property and street on the same row.

This module owns the plain CSV format, for systems that cannot write DTF 7.3. The first line is
the header below (column order is free, names are exact, extra columns are ignored); each row is
one address (LPI) with the property (BLPU) it belongs to and the street it is on:

``uprn``, ``parent_uprn``, ``usrn``, ``lpi_key``, ``language``, ``logical_status`` (the
address's: 1, 3, 5, 6, 7, 8 or 9), ``sao_start_number``, ``sao_start_suffix``,
``sao_end_number``, ``sao_end_suffix``, ``sao_text``, ``pao_start_number``,
``pao_start_suffix``, ``pao_end_number``, ``pao_end_suffix``, ``pao_text``, ``level``,
``street``, ``locality``, ``town``, ``administrative_area``, ``postcode``, ``official_flag``,
``start_date``, ``end_date``, ``last_update_date`` (the address's, YYYY-MM-DD),
``classification_code``, ``property_logical_status`` (1, 6, 8 or 9), ``blpu_state``,
``organisation``, ``easting``, ``northing`` (British National Grid metres),
``representative_point_code``, ``property_start_date``, ``property_end_date``,
``property_last_update_date``.

A property's columns are read from its first row. A plain CSV is always a full supply of the
streets, properties and addresses it holds (a property without an address cannot be written in
it); cross-references are not part of it. A street Townhall does not yet hold takes its
start and end from its first property's coordinates and its start date from that address.
Validation is the DTF reader's, field by field; rows are read and converted one at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from townhall.domains.addresses.dtf import (
    BLPU_LOGICAL_STATUSES,
    LPI_LOGICAL_STATUSES,
    MAX_EASTING,
    MAX_NORTHING,
    BadField,
    BlpuRecord,
    Converters,
    CountingFile,
    DescriptorRecord,
    FileFacts,
    Rejection,
    Row,
    StreetRecord,
    UnreadableFile,
    coordinate,
    format_value,
    logical_status,
    optional_small_int,
    optional_text,
    optional_uprn,
    small_int,
    text,
    uprn,
    usrn,
)
from townhall.domains.addresses.schemas import NewAddress, NewStreet

COLUMNS: tuple[str, ...] = (
    "uprn",
    "parent_uprn",
    "usrn",
    "lpi_key",
    "language",
    "logical_status",
    "sao_start_number",
    "sao_start_suffix",
    "sao_end_number",
    "sao_end_suffix",
    "sao_text",
    "pao_start_number",
    "pao_start_suffix",
    "pao_end_number",
    "pao_end_suffix",
    "pao_text",
    "level",
    "street",
    "locality",
    "town",
    "administrative_area",
    "postcode",
    "official_flag",
    "start_date",
    "end_date",
    "last_update_date",
    "classification_code",
    "property_logical_status",
    "blpu_state",
    "organisation",
    "easting",
    "northing",
    "representative_point_code",
    "property_start_date",
    "property_end_date",
    "property_last_update_date",
)


class PlainCsvReader:
    """Reads a plain CSV row by row into the same ``Row`` kinds as the DTF reader."""

    def __init__(self, path: Path, *, on_bytes: Callable[[int], None] | None = None) -> None:
        self.path = path
        self.facts = FileFacts(full_supply=True)
        self._on_bytes = on_bytes
        self._convert = Converters()

    def rows(self) -> Iterator[Row | Rejection]:
        """Every row's records in order; ``facts`` is complete once this is exhausted."""
        file = CountingFile(self.path)
        reported = 0
        line = 1
        try:
            reader = csv.reader(file.text())
            try:
                header = next(reader, None)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise UnreadableFile(f"{self.path} is not a CSV file: {exc}") from exc
            if header is None:
                raise UnreadableFile(f"{self.path} is empty")
            names = [name.strip().lower() for name in header]
            missing = [name for name in COLUMNS if name not in names]
            if missing:
                raise UnreadableFile(
                    f"{self.path} is not a Townhall plain CSV: the header lacks "
                    + ", ".join(missing)
                )
            index = [names.index(name) for name in COLUMNS]
            width = len(names)
            seen_properties: set[int] = set()
            seen_streets: set[int] = set()
            try:
                for raw in reader:
                    line = reader.line_num
                    self.facts.rows += 1
                    if self._on_bytes is not None and self.facts.rows % 20_000 == 0:
                        position = file.position()
                        self._on_bytes(position - reported)
                        reported = position
                    if not raw:
                        continue
                    if len(raw) != width:
                        yield Rejection(
                            line,
                            "row",
                            None,
                            f"has {len(raw)} columns where the header has {width}",
                        )
                        continue
                    fields = [raw[position] for position in index]
                    try:
                        rows = self._convert_row(line, fields, seen_properties, seen_streets)
                    except BadField as bad:
                        yield Rejection(line, "row", bad.field, bad.reason)
                        continue
                    yield from rows
            except (csv.Error, UnicodeDecodeError) as exc:
                yield Rejection(line + 1, "file", None, f"the file cannot be read on: {exc}")
                self.facts.warnings.append(f"Reading stopped at line {line + 1}: {exc}.")
                self.facts.full_supply = False
        finally:
            if self._on_bytes is not None:
                self._on_bytes(file.size - reported)
            file.close()

    def _convert_row(
        self, line: int, fields: list[str], seen_properties: set[int], seen_streets: set[int]
    ) -> list[Row]:
        convert = self._convert
        # Positional, in the order of the fields: keywords cost a third of a row's time.
        address = NewAddress(
            text(fields[3], "lpi_key", 14),
            uprn(fields[0], "uprn"),
            usrn(fields[2], "usrn"),
            logical_status(fields[5], "logical_status", LPI_LOGICAL_STATUSES),
            optional_text(fields[4], "language", 3) or "ENG",
            optional_small_int(fields[6], "sao_start_number"),
            optional_text(fields[7], "sao_start_suffix", 2),
            optional_small_int(fields[8], "sao_end_number"),
            optional_text(fields[9], "sao_end_suffix", 2),
            optional_text(fields[10], "sao_text", 90),
            optional_small_int(fields[11], "pao_start_number"),
            optional_text(fields[12], "pao_start_suffix", 2),
            optional_small_int(fields[13], "pao_end_number"),
            optional_text(fields[14], "pao_end_suffix", 2),
            optional_text(fields[15], "pao_text", 90),
            optional_text(fields[16], "level", 30),
            convert.postcode_of(fields[21], "postcode"),
            optional_text(fields[22], "official_flag", 1),
            convert.date_of(fields[23], "start_date"),
            convert.optional_date_of(fields[24], "end_date"),
            convert.date_of(fields[25], "last_update_date"),
        )
        rows: list[Row] = []
        if address.usrn not in seen_streets:
            descriptor = DescriptorRecord(
                usrn=address.usrn,
                descriptor=text(fields[17], "street", 100),
                locality=optional_text(fields[18], "locality", 35),
                town=text(fields[19], "town", 30),
                administrative_area=text(fields[20], "administrative_area", 30),
                language="ENG",
            )
        if address.uprn not in seen_properties:
            blpu = BlpuRecord(
                address.uprn,
                optional_uprn(fields[1], "parent_uprn"),
                logical_status(fields[27], "property_logical_status", BLPU_LOGICAL_STATUSES),
                optional_small_int(fields[28], "blpu_state"),
                text(fields[26], "classification_code", 6),
                coordinate(fields[30], "easting", MAX_EASTING),
                coordinate(fields[31], "northing", MAX_NORTHING),
                small_int(fields[32] or "1", "representative_point_code"),
                optional_text(fields[29], "organisation", 100),
                convert.date_of(fields[33], "property_start_date"),
                convert.optional_date_of(fields[34], "property_end_date"),
                convert.date_of(fields[35], "property_last_update_date"),
            )
            if blpu.parent_uprn == blpu.uprn:
                raise BadField("parent_uprn", "a property cannot be its own parent")
            seen_properties.add(address.uprn)
            rows.append(Row("property", line, "I", blpu.uprn, blpu))
        if address.usrn not in seen_streets:
            seen_streets.add(address.usrn)
            rows.append(Row("descriptor", line, "I", address.usrn, descriptor))
            # Used only for a street Townhall does not hold: the CSV has no street geometry.
            default = StreetRecord(
                usrn=address.usrn,
                record_type=1,
                state=2,
                start_easting=float(fields[30]),
                start_northing=float(fields[31]),
                end_easting=float(fields[30]),
                end_northing=float(fields[31]),
                start_date=address.start_date,
                end_date=None,
                last_update_date=address.last_update_date,
            )
            rows.append(Row("street_default", line, "I", address.usrn, default))
        rows.append(Row("address", line, "I", address.lpi_key, address))
        return rows


class PlainCsvWriter:
    """Writes the plain CSV: the header, then one row per address."""

    def __init__(self, file: IO[str]) -> None:
        self._writer = csv.writer(file, lineterminator="\n")
        self._writer.writerow(COLUMNS)
        self.records = 0

    def address(self, item: NewAddress, street: NewStreet, blpu: BlpuRecord) -> None:
        values: tuple[Any, ...] = (
            item.uprn,
            blpu.parent_uprn,
            item.usrn,
            item.lpi_key,
            item.language,
            item.logical_status,
            item.sao_start_number,
            item.sao_start_suffix,
            item.sao_end_number,
            item.sao_end_suffix,
            item.sao_text,
            item.pao_start_number,
            item.pao_start_suffix,
            item.pao_end_number,
            item.pao_end_suffix,
            item.pao_text,
            item.level,
            street.descriptor,
            street.locality,
            street.town,
            street.administrative_area,
            item.postcode,
            item.official_flag,
            item.start_date,
            item.end_date,
            item.last_update_date,
            blpu.classification_code,
            blpu.logical_status,
            blpu.blpu_state,
            blpu.organisation,
            blpu.easting,
            blpu.northing,
            blpu.representative_point_code,
            blpu.start_date,
            blpu.end_date,
            blpu.last_update_date,
        )
        self._writer.writerow([format_value(value) for value in values])
        self.records += 1
