"""The CSV connector: a source system's extract files, one file or a folder of nightly drops.

This module owns reading CSV extracts. Two ways to read only what changed:

- **by a "changed at" column** (``changed_column``): every file's rows are read, and those changed
  at or after the position are handed on, oldest change first. The position is the latest change
  handed on. It is inclusive: rows changed at that very moment are read again next time (the sync
  finds them unchanged by their hash), because a file rewritten overnight can hold a new row with
  the same time as one already read, and a strict "after" would miss it.
- **append only** (no ``changed_column``): files are read in the order of their names, each row
  once. The position is the last file and row read; the next sync reads that file's later rows
  (a drop still being appended to) and every later file.

Encoding and dialect are settings; the default ``utf-8-sig`` reads a byte order mark (as Excel
writes) as nothing. Rows whose "changed at" cell cannot be read sort first and are handed on
only in a full read: the mapping refuses them with a reason, once.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from townhall.domains.people.connectors.base import Batch, SourceRow, SourceUnreadable
from townhall.domains.people.connectors.mapping import FieldMapping, parse_time

_CHANGED = "changed:"
_APPENDED = "file:"
_EARLIEST = datetime.min.replace(tzinfo=UTC)


class CsvSettings(BaseModel):
    """Where a source's CSV extracts are, how they are written, and how their columns map."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="A CSV file, or a folder of extract files.")
    pattern: str = Field(default="*.csv", description="Which files of the folder to read.")
    encoding: str = Field(default="utf-8-sig", description="The files' text encoding.")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    quotechar: str = Field(default='"', min_length=1, max_length=1)
    changed_column: str | None = Field(
        default=None, description="The column saying when a row last changed (else append only)."
    )
    changed_format: str | None = Field(
        default=None, description='Its format ("%d/%m/%Y %H:%M"); ISO 8601 when not given.'
    )
    batch_rows: int = Field(default=10_000, ge=1, le=100_000)
    mapping: FieldMapping

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            msg = f"{value!r} is not a text encoding Python knows (such as utf-8-sig, cp1252)"
            raise ValueError(msg) from exc
        return value


@dataclass(frozen=True, slots=True)
class _Read:
    changed: datetime
    file: str
    row: int
    values: dict[str, Any]


class CsvConnector:
    """Reads a file or a folder of CSV extracts (``CsvSettings``)."""

    def __init__(self, settings: CsvSettings) -> None:
        self.settings = settings
        self._zone = ZoneInfo(settings.mapping.timezone)

    def describe(self) -> dict[str, Any]:
        """The settings, as the API shows them (the path is the operator's own)."""
        settings = self.settings
        return {
            "path": settings.path,
            "pattern": settings.pattern,
            "encoding": settings.encoding,
            "delimiter": settings.delimiter,
            "incremental": "changed_column" if settings.changed_column else "append_only",
            "changed_column": settings.changed_column,
        }

    def read(self, since: str | None) -> Iterator[Batch]:
        """The rows after ``since`` in batches (see the module's docstring for the order)."""
        if self.settings.changed_column is not None:
            return self._read_changed(since)
        return self._read_appended(since)

    def files(self) -> list[Path]:
        """The extract files, in name order; SourceUnreadable when there is no such place."""
        path = Path(self.settings.path)
        if path.is_file():
            return [path]
        if not path.is_dir():
            msg = f"There is no file or folder {path}."
            raise SourceUnreadable(msg)
        return sorted(found for found in path.glob(self.settings.pattern) if found.is_file())

    def _rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        settings = self.settings
        number = 0
        try:
            with path.open(encoding=settings.encoding, newline="") as handle:
                reader = csv.DictReader(
                    handle, delimiter=settings.delimiter, quotechar=settings.quotechar
                )
                for number, row in enumerate(reader, start=1):
                    # Cells beyond the header (csv puts them under None) are not the source's
                    # columns; cells missing from a short row are blank.
                    yield number, {name: value for name, value in row.items() if name is not None}
        except (UnicodeDecodeError, csv.Error) as exc:
            msg = f"{path.name} row {number + 1} cannot be read as {settings.encoding} CSV: {exc}"
            raise SourceUnreadable(msg) from exc
        except OSError as exc:
            msg = f"{path} cannot be read: {exc.strerror}"
            raise SourceUnreadable(msg) from exc

    # Incremental by a "changed at" column.

    def _read_changed(self, since: str | None) -> Iterator[Batch]:
        start = _EARLIEST if since is None else self._changed_position(since)
        found = [
            read
            for path in self.files()
            for number, values in self._rows(path)
            if (read := _Read(self._changed(values), path.name, number, values)).changed >= start
            and (since is None or read.changed != _EARLIEST)
        ]
        found.sort(key=lambda read: (read.changed, read.file, read.row))
        size = self.settings.batch_rows
        for first in range(0, len(found), size):
            chunk = found[first : first + size]
            rows = [SourceRow(f"{read.file}:{read.row}", read.values) for read in chunk]
            latest = max(chunk[-1].changed, start)
            yield Batch(rows, _CHANGED + latest.isoformat())

    def _changed(self, values: dict[str, Any]) -> datetime:
        column = self.settings.changed_column
        written = (values.get(column) or "").strip() if column is not None else ""
        try:
            moment = parse_time(written, self.settings.changed_format)
        except ValueError:
            return _EARLIEST
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._zone)
        return moment.astimezone(UTC)

    @staticmethod
    def _changed_position(since: str) -> datetime:
        if not since.startswith(_CHANGED):
            msg = f"{since!r} is not a position of a CSV source read by a changed column."
            raise SourceUnreadable(msg)
        try:
            return datetime.fromisoformat(since.removeprefix(_CHANGED))
        except ValueError as exc:
            msg = f"{since!r} is not a position of a CSV source read by a changed column."
            raise SourceUnreadable(msg) from exc

    # Append only: by file name and row.

    def _read_appended(self, since: str | None) -> Iterator[Batch]:
        after_file, after_row = ("", 0) if since is None else self._appended_position(since)
        size = self.settings.batch_rows
        rows: list[SourceRow] = []
        for path in self.files():
            if path.name < after_file:
                continue
            skip = after_row if path.name == after_file else 0
            for number, values in self._rows(path):
                if number <= skip:
                    continue
                rows.append(SourceRow(f"{path.name}:{number}", values))
                if len(rows) == size:
                    yield Batch(rows, _APPENDED + rows[-1].position)
                    rows = []
        if rows:
            yield Batch(rows, _APPENDED + rows[-1].position)

    @staticmethod
    def _appended_position(since: str) -> tuple[str, int]:
        name, _, row = since.removeprefix(_APPENDED).rpartition(":")
        if not since.startswith(_APPENDED) or not name or not row.isdigit():
            msg = f"{since!r} is not a position of an append-only CSV source."
            raise SourceUnreadable(msg)
        return name, int(row)
