"""The NLPG Data Transfer Format 7.3 (DTF 7.3): read and write a gazetteer as DTF CSV.

This module owns the DTF 7.3 file format and the validation of each of its rows; it knows no
database (``gazetteer_import`` applies what it reads). The format is GeoPlace's "NLPG Data
Transfer Format 7.3" (the CSV form every LLPG custodian exchanges with the national hub): one
record per line, its first field the record identifier, then for every record but the header
and trailer its CHANGE_TYPE (I insert, U update, D delete) and PRO_ORDER (processing order).
The field orders below follow the specification, record by record:

- 10 header: CUSTODIAN_NAME, LOCAL_CUSTODIAN_CODE, PROCESS_DATE, VOLUME_NUMBER, ENTRY_DATE,
  TIME_STAMP, VERSION, FILE_TYPE (F a full supply, C change-only updates);
- 11 street: USRN, RECORD_TYPE, SWA_ORG_REF_NAMING, STATE, STATE_DATE, STREET_SURFACE,
  STREET_CLASSIFICATION, VERSION, RECORD_ENTRY_DATE, LAST_UPDATE_DATE, STREET_START_DATE,
  STREET_END_DATE, STREET_START_X, STREET_START_Y, STREET_END_X, STREET_END_Y, STREET_TOLERANCE;
- 15 street descriptor: USRN, STREET_DESCRIPTOR, LOCALITY_NAME, TOWN_NAME, ADMINISTRATIVE_AREA,
  LANGUAGE;
- 21 BLPU: UPRN, LOGICAL_STATUS, BLPU_STATE, BLPU_STATE_DATE, BLPU_CLASS, PARENT_UPRN,
  X_COORDINATE, Y_COORDINATE, RPC, LOCAL_CUSTODIAN_CODE, START_DATE, END_DATE, LAST_UPDATE_DATE,
  ENTRY_DATE, ORGANISATION, WARD_CODE, PARISH_CODE, CUSTODIAN_ONE, CUSTODIAN_TWO, CAN_KEY;
- 23 application cross-reference: UPRN, XREF_KEY, CROSS_REFERENCE, VERSION, SOURCE, START_DATE,
  END_DATE, LAST_UPDATE_DATE, ENTRY_DATE;
- 24 LPI: UPRN, LPI_KEY, LANGUAGE, LOGICAL_STATUS, START_DATE, END_DATE, ENTRY_DATE,
  LAST_UPDATE_DATE, SAO_START_NUMBER, SAO_START_SUFFIX, SAO_END_NUMBER, SAO_END_SUFFIX, SAO_TEXT,
  PAO_START_NUMBER, PAO_START_SUFFIX, PAO_END_NUMBER, PAO_END_SUFFIX, PAO_TEXT, USRN, LEVEL,
  POSTAL_ADDRESS, POSTCODE, POST_TOWN, OFFICIAL_FLAG, CUSTODIAN_ONE, CUSTODIAN_TWO, CAN_KEY;
- 29 metadata: GAZ_NAME, GAZ_SCOPE, TER_OF_USE, LINKED_DATA, GAZ_OWNER, NGAZ_FREQ,
  CUSTODIAN_NAME, CUSTODIAN_UPRN, LOCAL_CUSTODIAN_CODE, CO_ORD_SYSTEM, CO_ORD_UNIT, META_DATE,
  CLASS_SCHEME, GAZ_DATE, LANGUAGE, CHARACTER_SET;
- 99 trailer: NEXT_VOLUME_NUMBER, RECORD_COUNT (every record of the file, header and trailer
  included), ENTRY_DATE, TIME_STAMP.

Dates are ``YYYY-MM-DD``; coordinates are British National Grid metres. Fields Townhall does not
keep (ward, parish, custodian codes, street surface...) are read and ignored, and written empty
or derived. Reading streams: each row becomes a small tuple (or a ``Rejection`` naming its line
and field) as it is read, so a file of a million rows is never held as text. BLPU and LPI rows
(nearly all of a file) are first checked with lookups of the usual values and length tests; a
row that fails any of them is checked again field by field, which gives the reason, so both
ways keep and refuse the same rows (a test holds them to it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from townhall.domains.addresses.schemas import NewAddress, NewCrossReference, NewStreet

DTF_VERSION = "7.3"

HEADER, STREET, DESCRIPTOR, BLPU, XREF, LPI, METADATA, TRAILER = (
    "10",
    "11",
    "15",
    "21",
    "23",
    "24",
    "29",
    "99",
)

FIELDS: dict[str, tuple[str, ...]] = {
    HEADER: (
        "RECORD_IDENTIFIER",
        "CUSTODIAN_NAME",
        "LOCAL_CUSTODIAN_CODE",
        "PROCESS_DATE",
        "VOLUME_NUMBER",
        "ENTRY_DATE",
        "TIME_STAMP",
        "VERSION",
        "FILE_TYPE",
    ),
    STREET: (
        "RECORD_IDENTIFIER",
        "CHANGE_TYPE",
        "PRO_ORDER",
        "USRN",
        "RECORD_TYPE",
        "SWA_ORG_REF_NAMING",
        "STATE",
        "STATE_DATE",
        "STREET_SURFACE",
        "STREET_CLASSIFICATION",
        "VERSION",
        "RECORD_ENTRY_DATE",
        "LAST_UPDATE_DATE",
        "STREET_START_DATE",
        "STREET_END_DATE",
        "STREET_START_X",
        "STREET_START_Y",
        "STREET_END_X",
        "STREET_END_Y",
        "STREET_TOLERANCE",
    ),
    DESCRIPTOR: (
        "RECORD_IDENTIFIER",
        "CHANGE_TYPE",
        "PRO_ORDER",
        "USRN",
        "STREET_DESCRIPTOR",
        "LOCALITY_NAME",
        "TOWN_NAME",
        "ADMINISTRATIVE_AREA",
        "LANGUAGE",
    ),
    BLPU: (
        "RECORD_IDENTIFIER",
        "CHANGE_TYPE",
        "PRO_ORDER",
        "UPRN",
        "LOGICAL_STATUS",
        "BLPU_STATE",
        "BLPU_STATE_DATE",
        "BLPU_CLASS",
        "PARENT_UPRN",
        "X_COORDINATE",
        "Y_COORDINATE",
        "RPC",
        "LOCAL_CUSTODIAN_CODE",
        "START_DATE",
        "END_DATE",
        "LAST_UPDATE_DATE",
        "ENTRY_DATE",
        "ORGANISATION",
        "WARD_CODE",
        "PARISH_CODE",
        "CUSTODIAN_ONE",
        "CUSTODIAN_TWO",
        "CAN_KEY",
    ),
    XREF: (
        "RECORD_IDENTIFIER",
        "CHANGE_TYPE",
        "PRO_ORDER",
        "UPRN",
        "XREF_KEY",
        "CROSS_REFERENCE",
        "VERSION",
        "SOURCE",
        "START_DATE",
        "END_DATE",
        "LAST_UPDATE_DATE",
        "ENTRY_DATE",
    ),
    LPI: (
        "RECORD_IDENTIFIER",
        "CHANGE_TYPE",
        "PRO_ORDER",
        "UPRN",
        "LPI_KEY",
        "LANGUAGE",
        "LOGICAL_STATUS",
        "START_DATE",
        "END_DATE",
        "ENTRY_DATE",
        "LAST_UPDATE_DATE",
        "SAO_START_NUMBER",
        "SAO_START_SUFFIX",
        "SAO_END_NUMBER",
        "SAO_END_SUFFIX",
        "SAO_TEXT",
        "PAO_START_NUMBER",
        "PAO_START_SUFFIX",
        "PAO_END_NUMBER",
        "PAO_END_SUFFIX",
        "PAO_TEXT",
        "USRN",
        "LEVEL",
        "POSTAL_ADDRESS",
        "POSTCODE",
        "POST_TOWN",
        "OFFICIAL_FLAG",
        "CUSTODIAN_ONE",
        "CUSTODIAN_TWO",
        "CAN_KEY",
    ),
    METADATA: (
        "RECORD_IDENTIFIER",
        "CHANGE_TYPE",
        "PRO_ORDER",
        "GAZ_NAME",
        "GAZ_SCOPE",
        "TER_OF_USE",
        "LINKED_DATA",
        "GAZ_OWNER",
        "NGAZ_FREQ",
        "CUSTODIAN_NAME",
        "CUSTODIAN_UPRN",
        "LOCAL_CUSTODIAN_CODE",
        "CO_ORD_SYSTEM",
        "CO_ORD_UNIT",
        "META_DATE",
        "CLASS_SCHEME",
        "GAZ_DATE",
        "LANGUAGE",
        "CHARACTER_SET",
    ),
    TRAILER: (
        "RECORD_IDENTIFIER",
        "NEXT_VOLUME_NUMBER",
        "RECORD_COUNT",
        "ENTRY_DATE",
        "TIME_STAMP",
    ),
}

RECORD_NAMES = {
    HEADER: "header",
    STREET: "street",
    DESCRIPTOR: "street descriptor",
    BLPU: "BLPU",
    XREF: "cross-reference",
    LPI: "LPI",
    METADATA: "metadata",
    TRAILER: "trailer",
}

CHANGE_TYPES = frozenset({"I", "U", "D"})
LPI_LOGICAL_STATUSES = frozenset({1, 3, 5, 6, 7, 8, 9})
BLPU_LOGICAL_STATUSES = frozenset({1, 6, 8, 9})
# Great Britain on the National Grid: the grid's own extent, in metres.
MAX_EASTING = 700_000.0
MAX_NORTHING = 1_300_000.0
MAX_UPRN = 999_999_999_999  # twelve digits
MAX_USRN = 99_999_999  # eight digits
_SMALLINT = 32_767
# Lookups that convert and validate the commonest values in one step; anything they do not hold
# goes through the field converters below, which give the reason a value is refused.
_SMALL_INTS = {str(number): number for number in range(_SMALLINT + 1)}
_LPI_STATUSES = {str(number): number for number in LPI_LOGICAL_STATUSES}
_BLPU_STATUSES = {str(number): number for number in BLPU_LOGICAL_STATUSES}
_ACCEPTED = frozenset({"I", "U"})
_NO_PARSER: tuple[Callable[[list[str], int], Row] | None, int] = (None, -1)
# A named tuple made by tuple.__new__ skips the Python-level __new__ of its class: half the cost
# at a million rows, for a tuple of the same type and values.
_made = tuple.__new__


# --- what reading yields ----------------------------------------------------------------------


class StreetRecord(NamedTuple):
    """The fields of a type 11 street record that Townhall keeps."""

    usrn: int
    record_type: int
    state: int | None
    start_easting: float
    start_northing: float
    end_easting: float
    end_northing: float
    start_date: date
    end_date: date | None
    last_update_date: date


class DescriptorRecord(NamedTuple):
    """A type 15 street descriptor: the street's name and where it is."""

    usrn: int
    descriptor: str
    locality: str | None
    town: str
    administrative_area: str
    language: str


class BlpuRecord(NamedTuple):
    """The fields of a type 21 BLPU that Townhall keeps (WGS84 and postcode are derived)."""

    uprn: int
    parent_uprn: int | None
    logical_status: int
    blpu_state: int | None
    classification_code: str
    easting: float
    northing: float
    representative_point_code: int
    organisation: str | None
    start_date: date
    end_date: date | None
    last_update_date: date


class Rejection(NamedTuple):
    """A row that was not loaded: its line (None for a record the file left out), and why."""

    line: int | None
    record_type: str
    field: str | None
    reason: str


class Row(NamedTuple):
    """One good row: its kind (street, descriptor, property, xref, address), line and change."""

    kind: str
    line: int
    change_type: str
    key: Any  # a USRN or UPRN (int), or an LPI or cross-reference key (str)
    record: Any


@dataclass
class FileFacts:
    """What a reader learnt about the file as a whole, complete once its rows are read."""

    full_supply: bool = False
    header_seen: bool = False
    trailer_seen: bool = False
    rows: int = 0
    warnings: list[str] = field(default_factory=list)


class UnreadableFile(Exception):
    """The file cannot be read as a gazetteer at all (missing, binary, or not DTF or CSV)."""


class BadField(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


# --- field converters -------------------------------------------------------------------------


class Converters:
    """Field converters shared by the DTF and plain CSV readers, with a cache of parsed dates.

    A gazetteer repeats a few thousand dates a million times: parsing each once and sharing the
    ``date`` object saves both time and memory.
    """

    def __init__(self) -> None:
        self.dates: dict[str, date] = {}
        self.postcodes: dict[str, str] = {}  # as written: as kept

    def postcode_of(self, value: str, name: str = "POSTCODE") -> str:
        cleaned = self.postcodes.get(value)
        if cleaned is None:
            cleaned = postcode(value, name)
            if len(self.postcodes) < 1_000_000:
                self.postcodes[value] = cleaned
        return cleaned

    def date_of(self, value: str, name: str) -> date:
        parsed = self.dates.get(value)
        if parsed is not None:
            return parsed
        if len(value) != 10 or value[4] != "-" or value[7] != "-":
            raise BadField(name, f"{value!r} is not a date (YYYY-MM-DD)" if value else "is missing")
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise BadField(name, f"{value!r} is not a date (YYYY-MM-DD)") from None
        if len(self.dates) < 100_000:
            self.dates[value] = parsed
        return parsed

    def optional_date_of(self, value: str, name: str) -> date | None:
        return self.date_of(value, name) if value else None


def uprn(value: str, name: str = "UPRN") -> int:
    """A UPRN: one to twelve digits, not zero."""
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise BadField(name, f"{value!r} is not a UPRN" if value else "is missing")
    number = int(value)
    if number == 0:
        raise BadField(name, "0 is not a UPRN")
    return number


def optional_uprn(value: str, name: str) -> int | None:
    return uprn(value, name) if value else None


def usrn(value: str, name: str = "USRN") -> int:
    """A USRN: one to eight digits, not zero."""
    if not (value.isascii() and value.isdigit()) or len(value) > 8:
        raise BadField(name, f"{value!r} is not a USRN" if value else "is missing")
    number = int(value)
    if number == 0:
        raise BadField(name, "0 is not a USRN")
    return number


def small_int(value: str, name: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 5:
        raise BadField(name, f"{value!r} is not a number" if value else "is missing")
    number = int(value)
    if number > _SMALLINT:
        raise BadField(name, f"{value} is too large")
    return number


def optional_small_int(value: str, name: str) -> int | None:
    return small_int(value, name) if value else None


def optional_int(value: str, name: str) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise BadField(name, f"{value!r} is not a number")
    return int(value)


def coordinate(value: str, name: str, maximum: float) -> float:
    """A National Grid easting or northing inside Great Britain."""
    try:
        number = float(value)
    except ValueError:
        raise BadField(name, f"{value!r} is not a coordinate" if value else "is missing") from None
    if not 0 <= number <= maximum:  # also refuses NaN
        raise BadField(name, f"{value} is outside Great Britain (0 to {maximum:,.0f} m)")
    return number


def text(value: str, name: str, length: int) -> str:
    """Required text of at most ``length`` characters."""
    if not value:
        raise BadField(name, "is missing")
    return optional_text(value, name, length) or ""


def optional_text(value: str, name: str, length: int) -> str | None:
    if not value:
        return None
    if len(value) > length:
        raise BadField(name, f"is longer than {length} characters")
    if "\x00" in value:
        raise BadField(name, "contains the NUL character")
    return value


def postcode(value: str, name: str = "POSTCODE") -> str:
    """A postcode as written (upper case, no outer spaces), at most eight characters."""
    cleaned = " ".join(value.split()).upper()
    if not cleaned:
        raise BadField(name, "is missing")
    if len(cleaned) > 8 or not cleaned.replace(" ", "").isalnum():
        raise BadField(name, f"{value!r} is not a postcode")
    return cleaned


def change_type(value: str) -> str:
    if value not in CHANGE_TYPES:
        raise BadField("CHANGE_TYPE", f"{value!r} is not I, U or D")
    return value


def logical_status(value: str, name: str, allowed: frozenset[int]) -> int:
    if len(value) != 1 or not value.isdigit() or int(value) not in allowed:
        allowed_text = "/".join(str(item) for item in sorted(allowed))
        raise BadField(name, f"{value!r} is not a logical status ({allowed_text})")
    return int(value)


# --- reading ----------------------------------------------------------------------------------


class CountingFile:
    """A binary file that knows how many bytes have been read: progress through a big file."""

    def __init__(self, path: Path) -> None:
        try:
            self.size = path.stat().st_size
            self._file: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise UnreadableFile(f"{path} cannot be read: {exc.strerror or exc}") from exc

    def text(self) -> io.TextIOWrapper:
        # utf-8-sig drops a byte order mark that spreadsheet tools put at the start.
        return io.TextIOWrapper(self._file, encoding="utf-8-sig", newline="")

    def position(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


def sniff(path: Path) -> str | None:
    """``"dtf"`` or ``"csv"`` from the file's first line, or None when it is neither."""
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError as exc:
        raise UnreadableFile(f"{path} cannot be read: {exc.strerror or exc}") from exc
    if b"\x00" in head:
        return None
    first = head.decode("utf-8-sig", errors="replace").splitlines()[0] if head else ""
    record = first.split(",", 1)[0].strip().strip('"')
    if record in FIELDS:
        return "dtf"
    if "uprn" in first.lower() and "lpi_key" in first.lower():
        return "csv"
    return None


class DtfReader:
    """Reads a DTF 7.3 file row by row: good rows as ``Row``, bad ones as ``Rejection``."""

    def __init__(self, path: Path, *, on_bytes: Callable[[int], None] | None = None) -> None:
        self.path = path
        self.facts = FileFacts()
        self._on_bytes = on_bytes
        self._convert = Converters()
        self._parsers: dict[str, Callable[[list[str], int], Row]] = {
            STREET: self._street,
            DESCRIPTOR: self._descriptor,
            BLPU: self._blpu,
            XREF: self._xref,
            LPI: self._lpi,
        }

    def rows(self) -> Iterator[Row | Rejection]:
        """Every row of the file in order; ``facts`` is complete once this is exhausted."""
        file = CountingFile(self.path)
        facts = self.facts
        reported = 0
        line = 0
        try:
            reader = csv.reader(file.text())
            try:
                # BLPUs and LPIs are nearly every row: they go straight to their parser.
                hot = {BLPU: (self._blpu, len(FIELDS[BLPU])), LPI: (self._lpi, len(FIELDS[LPI]))}
                for fields in reader:
                    line = reader.line_num  # a quoted field may span lines
                    facts.rows += 1
                    if self._on_bytes is not None and facts.rows % 20_000 == 0:
                        position = file.position()
                        self._on_bytes(position - reported)
                        reported = position
                    if not fields:
                        continue
                    parser, width = hot.get(fields[0], _NO_PARSER)
                    if parser is not None and len(fields) == width and not facts.trailer_seen:
                        try:
                            result: Row | Rejection | None = parser(fields, line)
                        except BadField as bad:
                            result = Rejection(line, RECORD_NAMES[fields[0]], bad.field, bad.reason)
                    else:
                        result = self._read(line, fields)
                    if result is not None:
                        yield result
            except (csv.Error, UnicodeDecodeError) as exc:
                if facts.rows <= 1:
                    raise UnreadableFile(f"{self.path} is not a DTF 7.3 file: {exc}") from exc
                yield Rejection(line + 1, "file", None, f"the file cannot be read on: {exc}")
                facts.warnings.append(f"Reading stopped at line {line + 1}: {exc}.")
        finally:
            if self._on_bytes is not None:
                self._on_bytes(file.size - reported)
            file.close()
        if not facts.trailer_seen:
            facts.warnings.append(
                "The file has no trailer record (99), so it may be truncated: rows it does not "
                "hold were left as they are."
            )
            facts.full_supply = False

    def _read(self, line: int, fields: list[str]) -> Row | Rejection | None:
        """One record: a good row, a rejection, or None for the header, metadata and trailer."""
        record_type = fields[0].strip()
        if self.facts.trailer_seen:
            return Rejection(line, record_type[:20], None, "comes after the trailer (99)")
        parser = self._parsers.get(record_type)
        try:
            if parser is not None:
                if len(fields) != len(FIELDS[record_type]):
                    return self._wrong_width(line, record_type, fields)
                return parser(fields, line)
            if record_type == HEADER:
                self._header(fields)
            elif record_type == TRAILER:
                self._trailer(fields)
            elif record_type == METADATA:
                change_type(fields[1] if len(fields) > 1 else "")
            else:
                return Rejection(
                    line,
                    record_type[:20],
                    "RECORD_IDENTIFIER",
                    f"{record_type[:20]!r} is not a DTF 7.3 record type",
                )
        except BadField as bad:
            return Rejection(line, RECORD_NAMES[record_type], bad.field, bad.reason)
        return None

    @staticmethod
    def _wrong_width(line: int, record_type: str, fields: list[str]) -> Rejection:
        expected = len(FIELDS[record_type])
        return Rejection(
            line,
            RECORD_NAMES[record_type],
            None,
            f"has {len(fields)} fields where a DTF 7.3 {RECORD_NAMES[record_type]} record "
            f"has {expected}",
        )

    def _header(self, fields: list[str]) -> None:
        if len(fields) != len(FIELDS[HEADER]):
            raise BadField("RECORD_IDENTIFIER", "the header (10) does not have the DTF 7.3 fields")
        if self.facts.rows != 1:
            raise BadField("RECORD_IDENTIFIER", "a header (10) may only be the first record")
        version, file_type = fields[7].strip(), fields[8].strip().upper()
        if version and version != DTF_VERSION:
            self.facts.warnings.append(
                f"The header says DTF version {version}; it was read as DTF {DTF_VERSION}."
            )
        self.facts.header_seen = True
        self.facts.full_supply = file_type == "F"

    def _trailer(self, fields: list[str]) -> None:
        self.facts.trailer_seen = True
        if len(fields) != len(FIELDS[TRAILER]):
            raise BadField("RECORD_IDENTIFIER", "the trailer (99) does not have the DTF 7.3 fields")
        count = fields[2].strip()
        if count.isdigit() and int(count) != self.facts.rows:
            self.facts.warnings.append(
                f"The trailer counts {int(count):,} records but the file holds {self.facts.rows:,}."
            )

    def _street(self, fields: list[str], line: int) -> Row:
        ct = change_type(fields[1])
        key = usrn(fields[3])
        if ct == "D":
            return Row("street", line, ct, key, None)
        convert = self._convert
        # Positional arguments, in the order of the fields: keywords cost a third of a row's time.
        record = StreetRecord(
            key,
            small_int(fields[4], "RECORD_TYPE"),
            optional_small_int(fields[6], "STATE"),
            coordinate(fields[15], "STREET_START_X", MAX_EASTING),
            coordinate(fields[16], "STREET_START_Y", MAX_NORTHING),
            coordinate(fields[17], "STREET_END_X", MAX_EASTING),
            coordinate(fields[18], "STREET_END_Y", MAX_NORTHING),
            convert.date_of(fields[13], "STREET_START_DATE"),
            convert.optional_date_of(fields[14], "STREET_END_DATE"),
            convert.date_of(fields[12], "LAST_UPDATE_DATE"),
        )
        return Row("street", line, ct, key, record)

    def _descriptor(self, fields: list[str], line: int) -> Row:
        ct = change_type(fields[1])
        key = usrn(fields[3])
        if ct == "D":
            return Row("descriptor", line, ct, key, None)
        record = DescriptorRecord(
            key,
            text(fields[4], "STREET_DESCRIPTOR", 100),
            optional_text(fields[5], "LOCALITY_NAME", 35),
            text(fields[6], "TOWN_NAME", 30),
            text(fields[7], "ADMINISTRATIVE_AREA", 30),
            optional_text(fields[8], "LANGUAGE", 3) or "ENG",
        )
        return Row("descriptor", line, ct, key, record)

    def _blpu(self, fields: list[str], line: int) -> Row:
        """A BLPU: checked with lookups and length tests, or field by field when one fails."""
        (_, ct, _, uprn_text, status_text, state_text, _, classification, parent_text,
         x_text, y_text, rpc_text, _, start_text, end_text, last_text, _, organisation,
         *_) = fields  # fmt: skip
        dates = self._convert.dates
        status = _BLPU_STATUSES.get(status_text)
        state = _SMALL_INTS.get(state_text) if state_text else None
        rpc = _SMALL_INTS.get(rpc_text)
        start = dates.get(start_text)
        last = dates.get(last_text)
        end = dates.get(end_text) if end_text else None
        if (
            ct not in _ACCEPTED
            or status is None
            or rpc is None
            or start is None
            or last is None
            or (state is None and state_text)
            or (end is None and end_text)
            or not uprn_text.isdigit()
            or not uprn_text.isascii()
            or len(uprn_text) > 12
            or (parent_text and not (parent_text.isdigit() and parent_text.isascii()))
            or len(parent_text) > 12
            or not 0 < len(classification) <= 6
            or len(organisation) > 100
            or "\x00" in classification + organisation
        ):
            return self._blpu_checked(fields, line)
        key = int(uprn_text)
        parent = int(parent_text) if parent_text else None
        try:
            easting, northing = float(x_text), float(y_text)
        except ValueError:
            return self._blpu_checked(fields, line)
        if (
            not key
            or parent in (0, key)
            or not 0 <= easting <= MAX_EASTING
            or not 0 <= northing <= MAX_NORTHING
        ):
            return self._blpu_checked(fields, line)
        record = _made(BlpuRecord, (key, parent, status, state, classification, easting, northing,
                                    rpc, organisation or None, start, end, last))  # fmt: skip
        return _made(Row, ("property", line, ct, key, record))

    def _blpu_checked(self, fields: list[str], line: int) -> Row:
        ct = change_type(fields[1])
        key = uprn(fields[3])
        if ct == "D":
            return Row("property", line, ct, key, None)
        convert = self._convert
        record = BlpuRecord(
            key,
            optional_uprn(fields[8], "PARENT_UPRN"),
            logical_status(fields[4], "LOGICAL_STATUS", BLPU_LOGICAL_STATUSES),
            optional_small_int(fields[5], "BLPU_STATE"),
            text(fields[7], "BLPU_CLASS", 6),
            coordinate(fields[9], "X_COORDINATE", MAX_EASTING),
            coordinate(fields[10], "Y_COORDINATE", MAX_NORTHING),
            small_int(fields[11], "RPC"),
            optional_text(fields[17], "ORGANISATION", 100),
            convert.date_of(fields[13], "START_DATE"),
            convert.optional_date_of(fields[14], "END_DATE"),
            convert.date_of(fields[15], "LAST_UPDATE_DATE"),
        )
        if record.parent_uprn == key:
            raise BadField("PARENT_UPRN", "a property cannot be its own parent")
        return Row("property", line, ct, key, record)

    def _xref(self, fields: list[str], line: int) -> Row:
        ct = change_type(fields[1])
        key = text(fields[4], "XREF_KEY", 14)
        if ct == "D":
            return Row("xref", line, ct, key, None)
        convert = self._convert
        record = NewCrossReference(
            key,
            uprn(fields[3]),
            text(fields[5], "CROSS_REFERENCE", 50),
            optional_int(fields[6], "VERSION"),
            text(fields[7], "SOURCE", 6),
            convert.date_of(fields[8], "START_DATE"),
            convert.optional_date_of(fields[9], "END_DATE"),
            convert.date_of(fields[10], "LAST_UPDATE_DATE"),
        )
        return Row("xref", line, ct, key, record)

    def _lpi(self, fields: list[str], line: int) -> Row:
        """An LPI: checked with lookups and length tests, or field by field when one fails."""
        (_, ct, _, uprn_text, key, language, status_text, start_text, end_text, _, last_text,
         sao_start_text, sao_start_suffix, sao_end_text, sao_end_suffix, sao_text,
         pao_start_text, pao_start_suffix, pao_end_text, pao_end_suffix, pao_text,
         usrn_text, level, _, postcode_text, _, official_flag, *_) = fields  # fmt: skip
        dates = self._convert.dates
        small = _SMALL_INTS
        status = _LPI_STATUSES.get(status_text)
        start = dates.get(start_text)
        last = dates.get(last_text)
        end = dates.get(end_text) if end_text else None
        sao_start = small.get(sao_start_text) if sao_start_text else None
        sao_end = small.get(sao_end_text) if sao_end_text else None
        pao_start = small.get(pao_start_text) if pao_start_text else None
        pao_end = small.get(pao_end_text) if pao_end_text else None
        postcode_value = self._convert.postcodes.get(postcode_text)
        if (
            ct not in _ACCEPTED
            or status is None
            or start is None
            or last is None
            or postcode_value is None
            or (end is None and end_text)
            or (sao_start is None and sao_start_text)
            or (sao_end is None and sao_end_text)
            or (pao_start is None and pao_start_text)
            or (pao_end is None and pao_end_text)
            or not uprn_text.isdigit()
            or not uprn_text.isascii()
            or len(uprn_text) > 12
            or not usrn_text.isdigit()
            or not usrn_text.isascii()
            or len(usrn_text) > 8
            or not 0 < len(key) <= 14
            or len(language) > 3
            or len(sao_start_suffix) > 2
            or len(sao_end_suffix) > 2
            or len(pao_start_suffix) > 2
            or len(pao_end_suffix) > 2
            or len(sao_text) > 90
            or len(pao_text) > 90
            or len(level) > 30
            or len(official_flag) > 1
        ):
            return self._lpi_checked(fields, line)
        uprn_value, usrn_value = int(uprn_text), int(usrn_text)
        if (
            not uprn_value
            or not usrn_value
            or "\x00"
            in key
            + language
            + sao_start_suffix
            + sao_end_suffix
            + sao_text
            + pao_start_suffix
            + pao_end_suffix
            + pao_text
            + level
            + official_flag
        ):
            return self._lpi_checked(fields, line)
        record = _made(NewAddress, (
            key, uprn_value, usrn_value, status, language or "ENG", sao_start,
            sao_start_suffix or None, sao_end, sao_end_suffix or None, sao_text or None,
            pao_start, pao_start_suffix or None, pao_end, pao_end_suffix or None,
            pao_text or None, level or None, postcode_value, official_flag or None, start, end,
            last,
        ))  # fmt: skip
        return _made(Row, ("address", line, ct, key, record))

    def _lpi_checked(self, fields: list[str], line: int) -> Row:
        ct = change_type(fields[1])
        key = text(fields[4], "LPI_KEY", 14)
        if ct == "D":
            return Row("address", line, ct, key, None)
        convert = self._convert
        record = NewAddress(
            key,
            uprn(fields[3]),
            usrn(fields[21]),
            logical_status(fields[6], "LOGICAL_STATUS", LPI_LOGICAL_STATUSES),
            optional_text(fields[5], "LANGUAGE", 3) or "ENG",
            optional_small_int(fields[11], "SAO_START_NUMBER"),
            optional_text(fields[12], "SAO_START_SUFFIX", 2),
            optional_small_int(fields[13], "SAO_END_NUMBER"),
            optional_text(fields[14], "SAO_END_SUFFIX", 2),
            optional_text(fields[15], "SAO_TEXT", 90),
            optional_small_int(fields[16], "PAO_START_NUMBER"),
            optional_text(fields[17], "PAO_START_SUFFIX", 2),
            optional_small_int(fields[18], "PAO_END_NUMBER"),
            optional_text(fields[19], "PAO_END_SUFFIX", 2),
            optional_text(fields[20], "PAO_TEXT", 90),
            optional_text(fields[22], "LEVEL", 30),
            convert.postcode_of(fields[24]),
            optional_text(fields[26], "OFFICIAL_FLAG", 1),
            convert.date_of(fields[7], "START_DATE"),
            convert.optional_date_of(fields[8], "END_DATE"),
            convert.date_of(fields[10], "LAST_UPDATE_DATE"),
        )
        return Row("address", line, ct, key, record)


# --- writing ----------------------------------------------------------------------------------


def format_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class DtfWriter:
    """Writes a full supply (every record CHANGE_TYPE I) in DTF 7.3, counting its records."""

    file: IO[str]
    custodian_code: int
    custodian_name: str = "Townhall"
    records: int = 0
    _writer: Any = None
    _now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._writer = csv.writer(self.file, lineterminator="\r\n")

    def _write(self, values: Iterable[object]) -> None:
        self._writer.writerow([format_value(value) for value in values])
        self.records += 1

    def _change(self, record_type: str) -> tuple[str, str, int]:
        return (record_type, "I", self.records)  # PRO_ORDER: the order records are written in

    def header(self) -> None:
        today, time = self._now.date(), self._now.strftime("%H:%M:%S")
        custodian = f"{self.custodian_code:04d}"
        self._write(
            (HEADER, self.custodian_name, custodian, today, 1, today, time, DTF_VERSION, "F")
        )
        self._write(
            (
                *self._change(METADATA),
                f"{self.custodian_name} gazetteer",
                "Land and property in the council's area",
                "Within the council's area",
                "",
                self.custodian_name,
                "D",
                self.custodian_name,
                "",
                custodian,
                "British National Grid",
                "Metres",
                today,
                "NLPG",
                today,
                "ENG",
                "UTF-8",
            )
        )

    def street(self, street: NewStreet) -> None:
        self._write(
            (
                *self._change(STREET),
                street.usrn,
                street.record_type,
                self.custodian_code,
                street.state,
                street.start_date if street.state is not None else None,
                "",
                "",
                1,
                street.start_date,
                street.last_update_date,
                street.start_date,
                street.end_date,
                street.start_easting,
                street.start_northing,
                street.end_easting,
                street.end_northing,
                10,
            )
        )
        self._write(
            (
                *self._change(DESCRIPTOR),
                street.usrn,
                street.descriptor,
                street.locality,
                street.town,
                street.administrative_area,
                "ENG",
            )
        )

    def blpu(self, item: BlpuRecord) -> None:
        self._write(
            (
                *self._change(BLPU),
                item.uprn,
                item.logical_status,
                item.blpu_state,
                item.last_update_date if item.blpu_state is not None else None,
                item.classification_code,
                item.parent_uprn,
                item.easting,
                item.northing,
                item.representative_point_code,
                self.custodian_code,
                item.start_date,
                item.end_date,
                item.last_update_date,
                item.start_date,
                item.organisation,
                "",
                "",
                "",
                "",
                "",
            )
        )

    def xref(self, item: NewCrossReference) -> None:
        self._write(
            (
                *self._change(XREF),
                item.uprn,
                item.xref_key,
                item.cross_reference,
                item.version,
                item.source,
                item.start_date,
                item.end_date,
                item.last_update_date,
                item.start_date,
            )
        )

    def lpi(self, item: NewAddress, post_town: str) -> None:
        self._write(
            (
                *self._change(LPI),
                item.uprn,
                item.lpi_key,
                item.language,
                item.logical_status,
                item.start_date,
                item.end_date,
                item.start_date,
                item.last_update_date,
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
                item.usrn,
                item.level,
                "Y",
                item.postcode,
                post_town,
                item.official_flag,
                "",
                "",
                "",
            )
        )

    def trailer(self) -> None:
        now = self._now
        self._write((TRAILER, 0, self.records + 1, now.date(), now.strftime("%H:%M:%S")))
