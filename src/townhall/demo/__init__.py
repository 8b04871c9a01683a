"""The synthetic borough: a realistic, deterministic council built from real postcodes.

``build_borough`` generates a council's streets, properties, residents and their records in
five source systems from a seed, and writes them through the addresses and people services.
"""

from townhall.demo.build import BuildReport, borough_is_built, build_borough, latest_build
from townhall.demo.exceptions import (
    DatabaseNotEmpty,
    DemoBuildRefused,
    InvalidSeed,
    UnknownCouncil,
)
from townhall.demo.sizes import BoroughSize

__all__ = [
    "BoroughSize",
    "BuildReport",
    "DatabaseNotEmpty",
    "DemoBuildRefused",
    "InvalidSeed",
    "UnknownCouncil",
    "borough_is_built",
    "build_borough",
    "latest_build",
]
