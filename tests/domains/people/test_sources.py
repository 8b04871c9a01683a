"""Registering source systems: settings checked per connector before they are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from townhall.domains.people import sources
from townhall.errors import Conflict, NotFound, ValidationFailed
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest

MAPPING = {"record_id": "id", "fields": {"last_name": "surname"}}
SQL = {"url": "sqlite:///b.db", "table": "t", "key_column": "id", "changed_column": "c",
       "mapping": MAPPING}  # fmt: skip


def csv_config(path: Path, **changes: Any) -> dict[str, Any]:
    return {"path": str(path), "mapping": MAPPING, **changes}


def test_a_source_is_registered_listed_and_changed(database: Database, tmp_path: Path) -> None:
    created = sources.register_source(
        database, name="housing", label="Housing", connector="csv",
        config=csv_config(tmp_path), trust=3,
    )  # fmt: skip
    sources.register_source(
        database, name="benefits", label="Benefits", connector="sql", trust=1, config=SQL
    )

    assert created.position is None
    assert created.config == csv_config(tmp_path)
    page = sources.list_sources(database, PageRequest(limit=1))
    assert [standing.source.name for standing in page.items] == ["benefits"]
    rest = sources.list_sources(database, PageRequest(limit=1, after=page.next_position))
    assert [standing.source.name for standing in rest.items] == ["housing"]
    assert rest.items[0].records == 0
    assert rest.items[0].last_sync is None

    changed = sources.update_source(
        database, "housing", trust=2, config=csv_config(tmp_path, delimiter=";")
    )
    assert (changed.trust, changed.config["delimiter"]) == (2, ";")
    assert sources.get_source(database, "housing").label == "Housing"


@pytest.mark.parametrize(
    ("connector", "config", "field"),
    [
        ("ftp", {}, "connector"),
        ("csv", {"mapping": MAPPING}, "config.path"),
        ("csv", {"path": "x", "mapping": MAPPING, "delimiter": ";;"}, "config.delimiter"),
        ("csv", {"path": "x", "mapping": {"record_id": "id"}}, "config.mapping"),
        ("csv", {"path": "x", "mapping": MAPPING, "colour": "red"}, "config.colour"),
        ("sql", {**SQL, "url": "postgresql://u:pw@h/db"}, "config.url"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    database: Database, connector: str, config: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        sources.register_source(
            database, name="housing", label="Housing", connector=connector, config=config, trust=1
        )

    assert [error.field for error in refused.value.errors] == [field]
    assert sources.all_sources(database) == []


def test_a_name_label_and_trust_are_checked_and_a_name_is_never_taken_twice(
    database: Database, tmp_path: Path
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        sources.register_source(
            database, name="Housing!", label=" ", connector="csv",
            config=csv_config(tmp_path), trust=0,
        )  # fmt: skip
    assert [error.field for error in refused.value.errors] == ["name", "label", "trust"]

    sources.register_source(
        database, name="housing", label="Housing", connector="csv",
        config=csv_config(tmp_path), trust=1,
    )  # fmt: skip
    with pytest.raises(Conflict):
        sources.register_source(
            database, name="housing", label="Again", connector="csv",
            config=csv_config(tmp_path), trust=1,
        )  # fmt: skip
    with pytest.raises(NotFound):
        sources.get_source(database, "parking")
    with pytest.raises(NotFound):
        sources.update_source(database, "parking", trust=2)
