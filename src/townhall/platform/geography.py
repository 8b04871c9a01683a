"""Coordinates: British National Grid (OSGB36) eastings and northings to WGS84 latitude/longitude.

This module owns the conversion the gazetteer needs for every property. It is the Ordnance
Survey's published method ("A guide to coordinate systems in Great Britain"): the inverse
Transverse Mercator projection on the Airy 1830 ellipsoid, then a seven-parameter Helmert
transform to WGS84 through Cartesian coordinates. The Helmert step is good to about 5 metres
across Great Britain; OSTN15 would do better but needs a 15 MB grid, and a few metres is
plenty for a map pin. It works on numpy arrays because a large borough has a million points.
It also owns the bounding box that keeps invented points inside the council's area.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Airy 1830, the ellipsoid of OSGB36, and the National Grid's projection.
_AIRY_A = 6_377_563.396
_AIRY_B = 6_356_256.909
_SCALE_AT_ORIGIN = 0.9996012717
_TRUE_ORIGIN_LATITUDE = np.radians(49.0)
_TRUE_ORIGIN_LONGITUDE = np.radians(-2.0)
_FALSE_EASTING = 400_000.0
_FALSE_NORTHING = -100_000.0

# GRS80, which WGS84 matches to well under a millimetre.
_GRS80_A = 6_378_137.0
_GRS80_B = 6_356_752.314140

# OSGB36 to WGS84 (the OS's WGS84-to-OSGB36 parameters with every sign reversed).
_TX, _TY, _TZ = 446.448, -125.157, 542.060
_SCALE = -20.4894e-6
_ARCSECOND = np.pi / (180 * 3600)
_RX, _RY, _RZ = 0.1502 * _ARCSECOND, 0.2470 * _ARCSECOND, 0.8421 * _ARCSECOND

# Digits kept: the seventh decimal place of a degree is about a centimetre.
_DECIMALS = 7


def grid_to_wgs84(
    eastings: Sequence[float] | FloatArray, northings: Sequence[float] | FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Latitudes and longitudes (WGS84, degrees) of National Grid eastings and northings."""
    easting = np.asarray(eastings, dtype=np.float64)
    northing = np.asarray(northings, dtype=np.float64)
    latitude, longitude = _inverse_transverse_mercator(easting, northing)
    x, y, z = _to_cartesian(latitude, longitude, _AIRY_A, _AIRY_B)
    x, y, z = _helmert(x, y, z)
    latitude, longitude = _from_cartesian(x, y, z, _GRS80_A, _GRS80_B)
    return (
        np.asarray(np.round(np.degrees(latitude), _DECIMALS), dtype=np.float64),
        np.asarray(np.round(np.degrees(longitude), _DECIMALS), dtype=np.float64),
    )


def _meridional_arc(latitude: FloatArray) -> FloatArray:
    a, b = _AIRY_A, _AIRY_B
    n = (a - b) / (a + b)
    below = latitude - _TRUE_ORIGIN_LATITUDE
    above = latitude + _TRUE_ORIGIN_LATITUDE
    arc: FloatArray = (
        b
        * _SCALE_AT_ORIGIN
        * (
            (1 + n + 5 / 4 * n**2 + 5 / 4 * n**3) * below
            - (3 * n + 3 * n**2 + 21 / 8 * n**3) * np.sin(below) * np.cos(above)
            + (15 / 8 * n**2 + 15 / 8 * n**3) * np.sin(2 * below) * np.cos(2 * above)
            - 35 / 24 * n**3 * np.sin(3 * below) * np.cos(3 * above)
        )
    )
    return arc


def _inverse_transverse_mercator(
    easting: FloatArray, northing: FloatArray
) -> tuple[FloatArray, FloatArray]:
    a, b = _AIRY_A, _AIRY_B
    e2 = 1 - b**2 / a**2
    northing_from_origin = northing - _FALSE_NORTHING
    latitude = northing_from_origin / (a * _SCALE_AT_ORIGIN) + _TRUE_ORIGIN_LATITUDE
    # Iterate until the meridional arc matches the northing to a hundredth of a millimetre.
    while True:
        residual = northing_from_origin - _meridional_arc(latitude)
        if np.all(np.abs(residual) < 1e-5):
            break
        latitude = latitude + residual / (a * _SCALE_AT_ORIGIN)

    sin_lat = np.sin(latitude)
    nu = a * _SCALE_AT_ORIGIN / np.sqrt(1 - e2 * sin_lat**2)
    rho = a * _SCALE_AT_ORIGIN * (1 - e2) / (1 - e2 * sin_lat**2) ** 1.5
    eta2 = nu / rho - 1
    tan = np.tan(latitude)
    sec = 1 / np.cos(latitude)
    vii = tan / (2 * rho * nu)
    viii = tan / (24 * rho * nu**3) * (5 + 3 * tan**2 + eta2 - 9 * tan**2 * eta2)
    ix = tan / (720 * rho * nu**5) * (61 + 90 * tan**2 + 45 * tan**4)
    x = sec / nu
    xi = sec / (6 * nu**3) * (nu / rho + 2 * tan**2)
    xii = sec / (120 * nu**5) * (5 + 28 * tan**2 + 24 * tan**4)
    xiia = sec / (5040 * nu**7) * (61 + 662 * tan**2 + 1320 * tan**4 + 720 * tan**6)
    de = easting - _FALSE_EASTING
    phi = latitude - vii * de**2 + viii * de**4 - ix * de**6
    lam = _TRUE_ORIGIN_LONGITUDE + x * de - xi * de**3 + xii * de**5 - xiia * de**7
    return phi, lam


def _to_cartesian(
    latitude: FloatArray, longitude: FloatArray, a: float, b: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    e2 = 1 - b**2 / a**2
    nu = a / np.sqrt(1 - e2 * np.sin(latitude) ** 2)
    return (
        nu * np.cos(latitude) * np.cos(longitude),
        nu * np.cos(latitude) * np.sin(longitude),
        (1 - e2) * nu * np.sin(latitude),
    )


def _helmert(
    x: FloatArray, y: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    scale = 1 + _SCALE
    return (
        _TX + scale * x - _RZ * y + _RY * z,
        _TY + _RZ * x + scale * y - _RX * z,
        _TZ - _RY * x + _RX * y + scale * z,
    )


def _from_cartesian(
    x: FloatArray, y: FloatArray, z: FloatArray, a: float, b: float
) -> tuple[FloatArray, FloatArray]:
    e2 = 1 - b**2 / a**2
    p = np.hypot(x, y)
    latitude = np.arctan2(z, p * (1 - e2))
    # Five rounds take the latitude below a micrometre anywhere in Great Britain.
    for _ in range(5):
        nu = a / np.sqrt(1 - e2 * np.sin(latitude) ** 2)
        latitude = np.arctan2(z + e2 * nu * np.sin(latitude), p)
    return latitude, np.arctan2(y, x)


class BoundingBox(NamedTuple):
    """The smallest grid rectangle around a set of points (a council's postcodes)."""

    min_easting: float
    min_northing: float
    max_easting: float
    max_northing: float

    @classmethod
    def around(cls, points: Iterable[tuple[float, float]]) -> BoundingBox:
        """The box around (easting, northing) points."""
        eastings, northings = zip(*points, strict=True)
        return cls(min(eastings), min(northings), max(eastings), max(northings))

    def clamp(self, easting: float, northing: float) -> tuple[float, float]:
        """The point moved inside the box if it is outside, rounded to the centimetre."""
        return (
            round(min(max(easting, self.min_easting), self.max_easting), 2),
            round(min(max(northing, self.min_northing), self.max_northing), 2),
        )
