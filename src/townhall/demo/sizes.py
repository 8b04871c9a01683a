"""How big a synthetic borough is: the three sizes and what each one means in rows.

A size sets how many properties the borough has and how much of the council's area they cover;
residents follow from the households living in them (about 2.5 a property).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BoroughSize(StrEnum):
    """How big a synthetic borough to build."""

    SMALL = "small"  # a neighbourhood: tests and a quick `make demo`
    BOROUGH = "borough"  # a whole London borough: about 100,000 properties
    LARGE = "large"  # about a million addresses: benchmarks


@dataclass(frozen=True)
class SizeProfile:
    """What a size means: the properties to place, over how many of the council's postcodes."""

    properties: int
    postcodes: int | None  # None: every postcode of the council


PROFILES: dict[BoroughSize, SizeProfile] = {
    BoroughSize.SMALL: SizeProfile(properties=400, postcodes=30),
    BoroughSize.BOROUGH: SizeProfile(properties=100_000, postcodes=None),
    # About 8% of properties have a second (alternative or historic) address: ~1,000,000 LPIs.
    BoroughSize.LARGE: SizeProfile(properties=925_000, postcodes=None),
}
