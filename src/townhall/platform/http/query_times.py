"""A time in a query string, as the OpenAPI document promises it: RFC 3339 text, never a number.

Pydantic in lax mode reads ``?modified_since=123`` as 123 seconds after 1970, but the published
schema says a ``date-time`` string, so a client (or a contract test) sending a number is told so
with a 422 instead of getting answers from 1970.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator


def _not_a_number(value: Any) -> Any:
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, int | float) or (
        isinstance(text, str) and text.lstrip("+-").replace(".", "", 1).isdigit()
    ):
        msg = "Give a time like 2026-11-01T09:30:00Z, not a number"
        raise ValueError(msg)
    return value


QueryTime = Annotated[datetime, BeforeValidator(_not_a_number)]
