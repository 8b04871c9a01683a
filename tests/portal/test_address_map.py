"""The property map's geometry: true distances, north up, the block, labels that never overlap."""

from __future__ import annotations

import math
import random

import pytest

from townhall.portal.address_map import (
    HEIGHT,
    MAX_NEIGHBOURS,
    WIDTH,
    Label,
    MapPlace,
    MapStreet,
    MarkerKind,
    compass_point,
    draw_property_map,
    nice_length,
)

E, N = 534_800.0, 183_950.0


def place(uprn: int, d_east: float = 0.0, d_north: float = 0.0, **more: str | None) -> MapPlace:
    return MapPlace(
        str(uprn), E + d_east, N + d_north, f"{uprn} Test Street", more.pop("short", None), **more
    )


STREET = MapStreet("20400008", "Test Street", E - 100, N - 20, E + 150, N + 40)


@pytest.mark.parametrize(
    ("target", "expected"), [(0.4, 1), (1, 1), (3, 2), (7.5, 5), (10, 10), (180, 100), (260, 200)]
)
def test_a_scale_bar_length_is_one_two_or_five_times_a_power_of_ten(
    target: float, expected: float
) -> None:
    assert nice_length(target) == expected


@pytest.mark.parametrize(
    ("d_east", "d_north", "direction"),
    [(0, 10, "north"), (10, 10, "north-east"), (10, 0, "east"), (-3, -9, "south"), (-8, 1, "west")],
)
def test_compass_points(d_east: float, d_north: float, direction: str) -> None:
    assert compass_point(d_east, d_north) == direction


def test_a_metre_is_as_long_east_as_north_and_north_is_up() -> None:
    east, north = place(2, d_east=60), place(3, d_north=60)
    drawn = draw_property_map(place(1), neighbours=[east, north])

    by_uprn = {marker.places[0].uprn: marker for marker in drawn.markers}
    subject, to_east, to_north = by_uprn["1"], by_uprn["2"], by_uprn["3"]
    assert to_east.y == subject.y
    assert to_east.x > subject.x
    assert to_north.x == subject.x
    assert to_north.y < subject.y  # the drawing's y grows downwards
    assert math.isclose(to_east.x - subject.x, subject.y - to_north.y, abs_tol=0.2)
    assert math.isclose((to_east.x - subject.x) * drawn.metres_per_unit, 60, rel_tol=0.01)


def test_the_scale_bar_is_as_long_as_the_metres_it_says() -> None:
    drawn = draw_property_map(place(1), street=STREET, neighbours=[place(2, 40, 5)])

    bar = drawn.scale_bar
    assert bar.metres in {1, 2, 5, 10, 20, 50, 100, 200, 500}
    assert math.isclose(bar.length * drawn.metres_per_unit, bar.metres, rel_tol=0.01)
    assert bar.text == f"{bar.metres} m"


def test_everything_drawn_is_inside_the_drawing() -> None:
    neighbours = [place(10 + i, d_east=i * 7 - 90, d_north=(i % 5) * 9) for i in range(30)]
    drawn = draw_property_map(place(1), street=STREET, neighbours=neighbours)

    assert drawn.street is not None
    for x, y in [
        (drawn.street.x1, drawn.street.y1),
        (drawn.street.x2, drawn.street.y2),
        *((m.x, m.y) for m in drawn.markers),
    ]:
        assert 0 < x < WIDTH
        assert 0 < y < HEIGHT


def test_a_flat_is_drawn_in_its_block_with_one_label_for_both() -> None:
    parent = place(100, short="Hill House")
    flats = [place(101 + i, parent_uprn="100", short=f"Flat {i + 1}") for i in range(12)]
    drawn = draw_property_map(flats[0], block=[parent, *flats[1:]], street=STREET)

    block = drawn.block_marker
    assert block is not None
    assert block.href == "/staff/addresses/100"  # the square links to the block itself
    assert (block.x, block.y) == (drawn.subject_marker.x, drawn.subject_marker.y)
    label = drawn.subject_marker.label
    assert label is not None
    assert label.lines == ("This property", "in Hill House (12 units)")
    # The units on the block's point are the square, not twelve circles on top of each other.
    assert drawn.neighbour_markers == ()
    assert drawn.legend_block == "its block (12 units)"
    assert "Its block is the square: 12 units" in drawn.description


def test_units_at_another_point_share_one_marker_that_links_to_their_block() -> None:
    other_block = [place(200, 30, 30, short="Ash Court")] + [
        place(201 + i, 30, 30, parent_uprn="200") for i in range(5)
    ]
    drawn = draw_property_map(place(1, short="1"), street=STREET, neighbours=other_block)

    (marker,) = drawn.neighbour_markers
    assert marker.kind == MarkerKind.NEIGHBOUR
    assert marker.href == "/staff/addresses/200"
    assert len(marker.places) == 6
    assert marker.label is not None
    assert marker.label.lines == ("Ash Court (6 units)",)
    assert marker.title == "200 Test Street and 5 more"


def test_the_description_says_in_words_what_the_map_shows() -> None:
    drawn = draw_property_map(
        place(1), street=STREET, neighbours=[place(2, d_east=12, d_north=12), place(3, 90, 30)]
    )

    assert drawn.title == "Map of 1 Test Street"
    assert "This property, 1 Test Street, is the diamond at easting 534,800, northing 183,950" in (
        drawn.description
    )
    assert "Test Street is the grey line from its start to its end, 257 metres long" in (
        drawn.description
    )
    assert "running east-north-east" not in drawn.description  # eight points only
    assert "2 other properties on the street are circles" in drawn.description
    assert "the nearest is 2 Test Street, 17 metres to the north-east" in drawn.description
    assert f"The scale bar is {drawn.scale_bar.text}." in drawn.description


def _boxes(labels: list[Label]) -> list[tuple[float, float, float, float]]:
    """Generous boxes of horizontal labels (as the placer estimates them)."""
    boxes = []
    for label in labels:
        width = max(len(line) for line in label.lines) * 0.58 * 13
        left = {"start": label.x, "end": label.x - width, "middle": label.x - width / 2}
        top = label.y - 13 * 0.8
        height = 13 * 1.05 + 16 * (len(label.lines) - 1)
        boxes.append((left[label.anchor], top, left[label.anchor] + width, top + height))
    return boxes


def test_labels_never_overlap_each_other_and_this_property_is_always_labelled() -> None:
    generator = random.Random(7)
    neighbours = [
        place(10 + i, generator.uniform(-80, 80), generator.uniform(-50, 50), short=str(i))
        for i in range(80)
    ]
    drawn = draw_property_map(place(1), street=STREET, neighbours=neighbours)

    labels = [m.label for m in drawn.markers if m.label is not None]
    assert drawn.subject_marker.label is not None
    assert drawn.subject_marker.label.lines == ("This property",)
    assert 10 < len(labels) < 81  # crowded: some are left out rather than overlapping
    boxes = _boxes([label for label in labels if label.rotate == 0])
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_a_street_with_more_properties_than_the_map_draws_keeps_the_nearest() -> None:
    far = [place(10_000 + i, d_east=300 + i / 10) for i in range(MAX_NEIGHBOURS)]
    near = [place(20_000 + i, d_east=5 + i / 10, d_north=3) for i in range(10)]
    drawn = draw_property_map(place(1), neighbours=far + near)

    drawn_uprns = {p.uprn for m in drawn.neighbour_markers for p in m.places}
    assert {p.uprn for p in near} <= drawn_uprns
    assert drawn.neighbour_count == MAX_NEIGHBOURS
    assert drawn.left_out == 10


def test_a_lone_property_is_drawn_at_a_street_sized_scale() -> None:
    drawn = draw_property_map(place(1))

    # At least 90 metres across, so one point is not drawn at the scale of a room.
    assert drawn.metres_per_unit * (HEIGHT - 96) >= 90 - 0.01
    assert drawn.street is None
    assert drawn.block_marker is None
