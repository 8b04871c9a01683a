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
    # About 5% of properties have a second (alternative or historic) address: 955,000 properties
    # give just over 1,000,000 LPIs (seed 42: measured 971,206 LPIs for 925,000 properties).
    BoroughSize.LARGE: SizeProfile(properties=955_000, postcodes=None),
}
