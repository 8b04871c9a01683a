"""The people domain's words for the audit trail: its service and the kinds of data it holds."""

from __future__ import annotations

from townhall.platform.audit.vocabulary import DataKind, Service

PEOPLE = Service("people", "Council records about you")
SOURCE_RECORD = DataKind(
    "source-record",
    "a council system's record of you (name, date of birth, contact details and address)",
)

RESIDENT = DataKind(
    "resident",
    "the council's joined-up record of you (your details as its systems agree on them)",
)
LINKS = DataKind(
    "links",
    "which of the council's records are about you, and the decisions that joined them",
)
REVIEW_ITEM = DataKind(
    "review-item",
    "a possible match between your records that a member of staff checked",
)

SERVICES = (PEOPLE,)
DATA_KINDS = (SOURCE_RECORD, RESIDENT, LINKS, REVIEW_ITEM)
