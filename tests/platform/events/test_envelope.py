"""The CloudEvents envelope: what every webhook, feed item and stream entry carries."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudevents.core.formats.json import JSONFormat

from townhall.platform.events.envelope import sequence_of, source_of, to_dict, to_json_bytes
from townhall.platform.events.models import OutboxEvent


def _event(position: int = 7, **overrides: object) -> OutboxEvent:
    values: dict[str, object] = {
        "position": position,
        "id": "0b6f1c8e-3f1a-4a8e-9d0c-1a2b3c4d5e6f",
        "type": "uk.gov.townhall.property.updated",
        "domain": "addresses",
        "subject": "100021045723",
        # SQLite gives stored times back naive; the envelope must still say UTC.
        "time": datetime(2026, 11, 23, 9, 30, 5, 123456),  # noqa: DTZ001
        "data": {"uprn": 100021045723, "changes": {"postcode": {"old": "E8 1DY", "new": "E8 1DZ"}}},
        "correlation_id": "req-1",
        "consumer_id": None,
    }
    values.update(overrides)
    return OutboxEvent(**values)


def test_the_envelope_is_structured_cloudevents_json_the_sdk_reads_back() -> None:
    body = to_json_bytes(_event(), council_code="E09000012")
    event = JSONFormat().read(None, body)

    assert event.get_specversion() == "1.0"
    assert event.get_id() == "0b6f1c8e-3f1a-4a8e-9d0c-1a2b3c4d5e6f"
    assert event.get_source() == "urn:townhall:e09000012:addresses"
    assert event.get_type() == "uk.gov.townhall.property.updated"
    assert event.get_subject() == "100021045723"
    assert event.get_time() == datetime(2026, 11, 23, 9, 30, 5, 123456, tzinfo=UTC)
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("correlationid") == "req-1"
    assert event.get_extension("sequence") == "00000000000000000007"
    assert event.get_data() == _event().data


def test_unknown_extensions_are_left_out_rather_than_sent_empty() -> None:
    envelope = to_dict(_event(correlation_id=None), council_code="E09000012")
    assert "correlationid" not in envelope
    assert "consumerid" not in envelope
    with_consumer = to_dict(_event(consumer_id="partner-app"), council_code="E09000012")
    assert with_consumer["consumerid"] == "partner-app"


def test_sequences_sort_as_text_the_way_positions_sort_as_numbers() -> None:
    positions = [1, 9, 10, 99, 100, 12_345_678_901]
    assert sorted(sequence_of(p) for p in positions) == [sequence_of(p) for p in positions]


def test_the_source_names_the_council_and_the_domain() -> None:
    assert source_of("E09000012", "addresses") == "urn:townhall:e09000012:addresses"
