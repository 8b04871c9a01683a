"""The people domain's words for the audit trail: its service and the kinds of data it holds."""

from __future__ import annotations

from townhall.platform.audit.vocabulary import DataKind, Service

PEOPLE = Service("people", "Council records about you")
SOURCE_RECORD = DataKind(
    "source-record",
    "a council system's record of you (name, date of birth, contact details and address)",
)

SERVICES = (PEOPLE,)
DATA_KINDS = (SOURCE_RECORD,)
