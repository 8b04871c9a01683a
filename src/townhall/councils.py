"""Names of local authorities by GSS code, from the ONS lookup the authorities package ships.

This module owns turning ``TOWNHALL_COUNCIL_CODE`` into a name a person recognises. The data is
the ONS Lower Tier Local Authority list of 2021 (England and Wales, Open Government Licence):
councils created since then, and Scottish and Northern Irish ones, have no name here, and an
instance for them sets ``TOWNHALL_COUNCIL_NAME``.
"""

from __future__ import annotations

import importlib
from functools import lru_cache


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    # The package replaces its own module with an object whose `records` reads the JSON file.
    authorities = importlib.import_module("qlacref_authorities")
    return {record["LTLA21CD"]: record["LTLA21NM"] for record in authorities.records}


def council_name(code: str) -> str | None:
    """The authority's name for a GSS code ("Hackney" for E09000012), or None if unknown."""
    return _names().get(code)


def default_council_name(code: str) -> str:
    """How the portal names a council whose instance did not set a name."""
    name = council_name(code)
    return f"{name} Council" if name else f"Council {code}"
