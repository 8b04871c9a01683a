"""National Grid to WGS84: checked against points converted by PROJ with the same transform."""

from __future__ import annotations

import math

import pytest

from townhall.platform.geography import BoundingBox, grid_to_wgs84

METRES_PER_DEGREE_OF_LATITUDE = 111_200


@pytest.mark.parametrize(
    ("easting", "northing", "latitude", "longitude"),
    [
        # The Ordnance Survey's worked example (Caister water tower): WGS84 by PROJ's Helmert.
        (651_409.903, 313_177.270, 52.65797860, 1.71605199),
        # A postcode centroid in Hackney (E1 6AW).
        (533_581.0, 182_292.0, 51.52375333, -0.07592207),
        # Trafalgar Square.
        (530_034.0, 180_381.0, 51.50740693, -0.12772401),
    ],
)
def test_grid_points_convert_to_within_a_metre(
    easting: float, northing: float, latitude: float, longitude: float
) -> None:
    latitudes, longitudes = grid_to_wgs84([easting], [northing])

    north_error = (latitudes[0] - latitude) * METRES_PER_DEGREE_OF_LATITUDE
    east_error = (
        (longitudes[0] - longitude)
        * METRES_PER_DEGREE_OF_LATITUDE
        * math.cos(math.radians(latitude))
    )
    assert math.hypot(north_error, east_error) < 1.0


def test_many_points_convert_at_once() -> None:
    latitudes, longitudes = grid_to_wgs84([533_581.0, 530_034.0], [182_292.0, 180_381.0])

    assert latitudes.shape == longitudes.shape == (2,)
    assert latitudes[0] > latitudes[1]  # E1 6AW is north of Trafalgar Square


def test_a_bounding_box_keeps_points_inside_it() -> None:
    box = BoundingBox.around([(100.0, 200.0), (300.0, 400.0)])

    assert box == BoundingBox(100.0, 200.0, 300.0, 400.0)
    assert box.clamp(50.0, 500.0) == (100.0, 400.0)
    assert box.clamp(150.123, 250.456) == (150.12, 250.46)
