"""The council's source systems: registering them, changing them, and reading how they stand.

This module owns ``people_sources``: each source's name, label, trust rank, connector kind and
settings. Settings are checked against the connector's own model before they are kept, so a bad
setting is a ``ValidationFailed`` naming the setting (a 422 in the API, one line in the CLI),
never a failure at the next sync. Settings hold no secrets (a SQL password is named by its
environment variable), and a source holds no personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townhall.domains.people.connectors import KINDS, mapping_of
from townhall.domains.people.connectors.base import Connector
from townhall.domains.people.connectors.mapping import FieldMapping
from townhall.domains.people.models import PeopleSource, PeopleSync, SourcePersonRecord
from townhall.errors import Conflict, FieldError, NotFound, ValidationFailed
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


@dataclass(frozen=True)
class Sync:
    """One sync of a source: from where to where, what it did, and why rows were refused."""

    id: int
    source: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    from_position: str | None
    to_position: str | None
    rows_read: int
    added: int
    changed: int
    unchanged: int
    refused: int
    problems: list[dict[str, Any]]
    error: str | None


@dataclass(frozen=True)
class Source:
    """A source system as registered, with how far it has been read."""

    name: str
    label: str
    connector: str
    config: dict[str, Any]
    trust: int
    position: str | None
    last_synced_at: datetime | None
    created_at: datetime

    def settings(self) -> BaseModel:
        """Its settings, as its connector's model (checked when the source was registered)."""
        return checked_settings(self.connector, self.config)

    def connector_instance(self) -> Connector:
        """A connector that reads it."""
        _, make = KINDS[self.connector]
        return make(self.settings())

    def mapping(self) -> FieldMapping:
        """How its rows become records."""
        return mapping_of(self.settings())


@dataclass(frozen=True)
class SourceStanding:
    """A source with the number of records it holds and its latest sync (the list's items)."""

    source: Source
    records: int
    last_sync: Sync | None


def checked_settings(connector: str, config: dict[str, Any]) -> BaseModel:
    """The connector's settings model for ``config``; ValidationFailed naming each bad setting."""
    if connector not in KINDS:
        raise ValidationFailed(
            [FieldError("connector", f"unknown connector {connector!r}: use {', '.join(KINDS)}")]
        )
    model, _ = KINDS[connector]
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        errors = [
            FieldError(".".join(["config", *(str(part) for part in error["loc"])]), error["msg"])
            for error in exc.errors(include_url=False)
        ]
        raise ValidationFailed(errors) from exc


def _check(name: str, label: str, trust: int) -> None:
    errors = []
    if not NAME.match(name):
        errors.append(
            FieldError("name", "2 to 32 lower-case letters, digits or _, starting with a letter")
        )
    if not label.strip() or len(label) > 100:
        errors.append(FieldError("label", "1 to 100 characters"))
    if not 1 <= trust <= 99:
        errors.append(FieldError("trust", "a rank from 1 (most trusted) to 99"))
    if errors:
        raise ValidationFailed(errors)


def register_source(
    database: Database,
    *,
    name: str,
    label: str,
    connector: str,
    config: dict[str, Any],
    trust: int,
) -> Source:
    """Register a source system; Conflict when the name is taken, ValidationFailed if invalid."""
    _check(name, label, trust)
    settings = checked_settings(connector, config)
    with database.write() as session:
        if session.get(PeopleSource, name) is not None:
            raise Conflict(f"There is already a source named {name}.")
        row = PeopleSource(
            name=name,
            label=label.strip(),
            connector=connector,
            config=settings.model_dump(mode="json", by_alias=True, exclude_unset=True),
            trust=trust,
            position=None,
            last_synced_at=None,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return _source(row)


def update_source(
    database: Database,
    name: str,
    *,
    label: str | None = None,
    config: dict[str, Any] | None = None,
    trust: int | None = None,
) -> Source:
    """Change a source's label, settings or trust; its position and records stay as they are.

    The connector kind cannot change: a source read another way is another source.
    """
    with database.write() as session:
        row = _get(session, name)
        _check(name, row.label if label is None else label, row.trust if trust is None else trust)
        if config is not None:
            settings = checked_settings(row.connector, config)
            row.config = settings.model_dump(mode="json", by_alias=True, exclude_unset=True)
        if label is not None:
            row.label = label.strip()
        if trust is not None:
            row.trust = trust
        session.flush()
        return _source(row)


def get_source(database: Database, name: str) -> Source:
    """A source system; NotFound when none has ``name``."""
    with database.read() as session:
        return _source(_get(session, name))


def source_standing(database: Database, name: str) -> SourceStanding:
    """A source with its record count and latest sync; NotFound when none has ``name``."""
    with database.read() as session:
        return _standing(session, _get(session, name))


def list_sources(database: Database, page: PageRequest) -> Page[SourceStanding]:
    """One page of the sources, most trusted first (then by name)."""
    with database.read() as session:
        found = keyset_page(
            session,
            select(PeopleSource),
            [PeopleSource.trust.expression, PeopleSource.name.expression],
            page,
            lambda row: [row[0].trust, row[0].name],
        )
        items = [_standing(session, row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def all_sources(database: Database) -> list[Source]:
    """Every source, most trusted first."""
    with database.read() as session:
        rows = session.scalars(select(PeopleSource).order_by(PeopleSource.trust, PeopleSource.name))
        return [_source(row) for row in rows]


def list_syncs(database: Database, name: str, page: PageRequest) -> Page[Sync]:
    """One page of a source's syncs, newest first; NotFound for an unknown source."""
    with database.read() as session:
        _get(session, name)
        found = keyset_page(
            session,
            select(PeopleSync).where(PeopleSync.source == name),
            [PeopleSync.id.expression],
            page,
            lambda row: [row[0].id],
            descending=True,
        )
        items = [sync_of(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def _get(session: Session, name: str) -> PeopleSource:
    row = session.get(PeopleSource, name)
    if row is None:
        raise NotFound(f"There is no source named {name}.")
    return row


def _standing(session: Session, row: PeopleSource) -> SourceStanding:
    records = session.scalar(
        select(func.count())
        .select_from(SourcePersonRecord)
        .where(SourcePersonRecord.source_system == row.name)
    )
    last = session.scalars(
        select(PeopleSync).where(PeopleSync.source == row.name).order_by(PeopleSync.id.desc())
    ).first()
    return SourceStanding(_source(row), records or 0, None if last is None else sync_of(last))


def _source(row: PeopleSource) -> Source:
    return Source(
        name=row.name,
        label=row.label,
        connector=row.connector,
        config=dict(row.config),
        trust=row.trust,
        position=row.position,
        last_synced_at=None if row.last_synced_at is None else aware(row.last_synced_at),
        created_at=aware(row.created_at),
    )


def sync_of(row: PeopleSync) -> Sync:
    """A sync as the service hands it out."""
    return Sync(
        id=row.id,
        source=row.source,
        status=row.status,
        started_at=aware(row.started_at),
        finished_at=None if row.finished_at is None else aware(row.finished_at),
        from_position=row.from_position,
        to_position=row.to_position,
        rows_read=row.rows_read,
        added=row.added,
        changed=row.changed,
        unchanged=row.unchanged,
        refused=row.refused,
        problems=list(row.problems or []),
        error=row.error,
    )
