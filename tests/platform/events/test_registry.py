"""Event types: names, filters, and the registry's refusals."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from townhall.errors import UnprocessableContent
from townhall.event_types import ALL_EVENT_TYPES, event_registry
from townhall.platform.events.registry import EventRegistry, EventType, any_matches, type_matches


class _Data(BaseModel):
    value: int


def _type(name: str) -> EventType:
    return EventType(name=name, domain="notes", summary="s", subject="id", data=_Data)


def test_a_type_is_the_prefix_and_its_name() -> None:
    assert _type("note.updated").type == "uk.gov.townhall.note.updated"


@pytest.mark.parametrize("name", ["updated", "Note.updated", "note..updated", "note.updated."])
def test_badly_formed_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="must look like"):
        _type(name)


def test_a_type_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        EventRegistry([_type("note.updated"), _type("note.updated")])


def test_filters_select_whole_types_or_prefixes() -> None:
    assert type_matches("uk.gov.townhall.note.updated", "uk.gov.townhall.note.updated")
    assert not type_matches("uk.gov.townhall.note.updated", "uk.gov.townhall.note.updated2")
    assert type_matches("uk.gov.townhall.note.*", "uk.gov.townhall.note.deleted")
    assert not type_matches("uk.gov.townhall.note.*", "uk.gov.townhall.notebook.deleted")
    assert any_matches(["uk.gov.townhall.x.y", "uk.gov.townhall.*"], "uk.gov.townhall.note.a")


def test_a_good_filter_is_returned_and_a_bad_one_is_a_422() -> None:
    registry = EventRegistry([_type("note.updated"), _type("note.deleted")])
    assert registry.check_filter("uk.gov.townhall.note.*") == "uk.gov.townhall.note.*"
    assert [t.name for t in registry.matching("uk.gov.townhall.note.*")] == [
        "note.deleted",
        "note.updated",
    ]
    with pytest.raises(UnprocessableContent, match="not an event type filter"):
        registry.check_filter("note.updated")
    with pytest.raises(UnprocessableContent, match="not an event type filter"):
        registry.check_filter("uk.gov.townhall.no*te")
    with pytest.raises(UnprocessableContent, match="selects no event type"):
        registry.check_filter("uk.gov.townhall.person.*")


def test_every_declared_type_has_an_example_its_data_model_accepts() -> None:
    registry = event_registry()
    assert len(registry) == len(ALL_EVENT_TYPES)
    for event_type in registry:
        event_type.data.model_validate(event_type.example)
        assert event_type.summary.endswith(".")
        assert event_type.subject
