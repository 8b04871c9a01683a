"""Connectors: how Townhall reads a source system's records of people (CSV drops, SQL tables).

``base`` holds the ``Connector`` Protocol, ``mapping`` how a row becomes a record, and one module
per kind of source. ``KINDS`` names each kind's settings model and connector: the only place a
new kind is added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from townhall.domains.people.connectors.base import Connector
from townhall.domains.people.connectors.csv_files import CsvConnector, CsvSettings
from townhall.domains.people.connectors.mapping import FieldMapping
from townhall.domains.people.connectors.sql_tables import SqlConnector, SqlSettings


def _csv(settings: Any) -> Connector:
    return CsvConnector(settings)


def _sql(settings: Any) -> Connector:
    return SqlConnector(settings)


# kind: (its settings, which always hold a ``mapping``; how to make its connector)
KINDS: dict[str, tuple[type[BaseModel], Callable[[Any], Connector]]] = {
    "csv": (CsvSettings, _csv),
    "sql": (SqlSettings, _sql),
}


def mapping_of(settings: BaseModel) -> FieldMapping:
    """The field mapping inside a connector's settings."""
    mapping = getattr(settings, "mapping", None)
    assert isinstance(mapping, FieldMapping)
    return mapping
