"""The property map: a property, its block and its street, drawn from the gazetteer's coordinates.

This module owns the geometry of the map on a property's page. No tile server can be reached, so
the map is the gazetteer itself: the property, the other units of its block, the other properties
on its street as points, and the street as a line from its start to its end (DTF type 11 holds
only those two points). It works in British National Grid metres, where a metre is the same
length east and north, so the map keeps true distances; one scale turns metres into the SVG's
units, with grid north up. ``draw_property_map`` returns plain numbers and words; the template
partial ``addresses/_map.html`` turns them into an inline SVG (no script, no style attribute: the
portal's Content Security Policy allows neither). The same words describe the map in its
``<desc>``, so a person who cannot see it learns what it shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

# The drawing's own units (CSS pixels at its natural size); it scales to the page's width.
WIDTH = 720.0
HEIGHT = 440.0
# Room kept clear at the edges for labels, the scale bar and the north arrow.
PADDING = 48.0
# The least ground the map covers, so a lone property is not drawn at an absurd scale.
MIN_EXTENT_M = 90.0
# Points closer than this are one place (the units of a block share the block's coordinates).
SAME_PLACE_M = 0.5
# Labels are drawn in this size; their width is estimated from the number of characters.
FONT_SIZE = 13.0
LINE_HEIGHT = 16.0
_CHARACTER_WIDTH = 0.58 * FONT_SIZE
# The most other properties drawn: a street rarely has more, and the page stays small.
MAX_NEIGHBOURS = 600
_NICE_STEPS = (1.0, 2.0, 5.0)
# Labels keep out of the bottom-left corner (the scale bar) and the top-right (the north arrow).
SCALE_CORNER = (WIDTH / 4 + 40, HEIGHT - 44)
NORTH_CORNER = (WIDTH - 56, 52)

_COMPASS = (
    "north",
    "north-east",
    "east",
    "south-east",
    "south",
    "south-west",
    "west",
    "north-west",
)


@dataclass(frozen=True)
class MapPlace:
    """A property to put on the map: where it is and what it is called."""

    uprn: str
    easting: float
    northing: float
    # The full address: the link's name and its tooltip.
    address: str
    # What is written next to its point, such as a house number or a block's name.
    short_label: str | None = None
    parent_uprn: str | None = None


@dataclass(frozen=True)
class MapStreet:
    """A street as the gazetteer draws it: a line from its start to its end."""

    usrn: str
    name: str
    start_easting: float
    start_northing: float
    end_easting: float
    end_northing: float

    @property
    def length_m(self) -> float:
        """The straight-line length from start to end."""
        return math.hypot(
            self.end_easting - self.start_easting, self.end_northing - self.start_northing
        )


class MarkerKind(StrEnum):
    """What a marker stands for, which decides its shape (never its colour alone)."""

    SUBJECT = "subject"  # the property of the page: a diamond, labelled "This property"
    BLOCK = "block"  # its block: a square around the point
    NEIGHBOUR = "neighbour"  # another property on the street: a circle


@dataclass(frozen=True)
class Label:
    """Text at a point of the drawing: ``x``, ``y`` is where its first line's baseline is
    anchored (its middle for a label along a line); later lines go below."""

    lines: tuple[str, ...]
    x: float
    y: float
    anchor: str = "start"
    rotate: float = 0.0

    @property
    def text(self) -> str:
        """All the label's lines, as one line."""
        return " ".join(self.lines)


@dataclass(frozen=True)
class Marker:
    """One place on the map: one property, or several sharing a point (a block's units)."""

    kind: MarkerKind
    x: float
    y: float
    href: str
    title: str
    places: tuple[MapPlace, ...]
    label: Label | None = None

    @property
    def diamond_points(self) -> str:
        """The subject's diamond, as a polygon's ``points``."""
        r = 9.0
        return (
            f"{self.x:.1f},{self.y - r:.1f} {self.x + r:.1f},{self.y:.1f} "
            f"{self.x:.1f},{self.y + r:.1f} {self.x - r:.1f},{self.y:.1f}"
        )


@dataclass(frozen=True)
class StreetLine:
    """The street's line in the drawing's units, and its name along it."""

    href: str
    title: str
    x1: float
    y1: float
    x2: float
    y2: float
    label: Label | None = None


@dataclass(frozen=True)
class ScaleBar:
    """A bar ``length`` units long standing for ``metres`` on the ground."""

    x: float
    y: float
    length: float
    metres: int

    @property
    def text(self) -> str:
        """The bar's label, such as ``50 m``."""
        return f"{self.metres:,} m"


@dataclass(frozen=True)
class PropertyMap:
    """Everything the template draws, and the words that describe it."""

    width: float
    height: float
    title: str
    description: str
    metres_per_unit: float
    street: StreetLine | None
    markers: tuple[Marker, ...]
    scale_bar: ScaleBar
    north_x: float
    north_y: float
    grid_lines: tuple[tuple[float, float, float, float], ...]
    legend_block: str | None
    legend_street: str | None
    neighbour_count: int
    left_out: int = 0

    @property
    def view_box(self) -> str:
        """The SVG ``viewBox``."""
        return f"0 0 {self.width:g} {self.height:g}"

    @property
    def neighbour_markers(self) -> tuple[Marker, ...]:
        """The other properties on the street (drawn first, under the rest)."""
        return tuple(m for m in self.markers if m.kind == MarkerKind.NEIGHBOUR)

    @property
    def block_marker(self) -> Marker | None:
        """The block's square, if the property is part of a block."""
        return next((m for m in self.markers if m.kind == MarkerKind.BLOCK), None)

    @property
    def subject_marker(self) -> Marker:
        """The property's diamond."""
        return next(m for m in self.markers if m.kind == MarkerKind.SUBJECT)


def property_href(uprn: str) -> str:
    """The staff page of a property."""
    return f"/staff/addresses/{uprn}"


def street_href(usrn: str) -> str:
    """Where a street's name links to: the search for its properties."""
    return f"/staff/addresses?usrn={usrn}"


def nice_length(target: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten that is at most ``target`` (at least 1)."""
    if target <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(target))
    return max(step * power for step in _NICE_STEPS if step * power <= target)


def compass_point(d_east: float, d_north: float) -> str:
    """The eight-point compass direction of a displacement, such as ``north-east``."""
    bearing = math.degrees(math.atan2(d_east, d_north)) % 360
    return _COMPASS[round(bearing / 45) % 8]


def _apart(a: MapPlace, b: MapPlace) -> float:
    """Metres between two places."""
    return math.hypot(b.easting - a.easting, b.northing - a.northing)


def _direction(origin: MapPlace, to: MapPlace) -> str:
    """Which way ``to`` lies from ``origin``."""
    return compass_point(to.easting - origin.easting, to.northing - origin.northing)


def _heading(street: MapStreet) -> str:
    return compass_point(
        street.end_easting - street.start_easting, street.end_northing - street.start_northing
    )


def _distance_to_segment(px: float, py: float, street: MapStreet) -> float:
    ax, ay = street.start_easting, street.start_northing
    bx, by = street.end_easting, street.end_northing
    dx, dy = bx - ax, by - ay
    length_squared = dx * dx + dy * dy
    t = 0.0 if length_squared == 0 else ((px - ax) * dx + (py - ay) * dy) / length_squared
    t = min(1.0, max(0.0, t))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


@dataclass
class _Projection:
    """National Grid metres to the drawing's units: one scale for both axes, north up."""

    min_e: float
    max_n: float
    units_per_metre: float
    offset_x: float
    offset_y: float

    @classmethod
    def fit(cls, points: Iterable[tuple[float, float]]) -> _Projection:
        eastings, northings = zip(*points, strict=True)
        min_e, max_e = min(eastings), max(eastings)
        min_n, max_n = min(northings), max(northings)
        # Too small an area is widened about its centre, so the scale stays street-sized.
        if (grow := MIN_EXTENT_M - (max_e - min_e)) > 0:
            min_e, max_e = min_e - grow / 2, max_e + grow / 2
        if (grow := MIN_EXTENT_M - (max_n - min_n)) > 0:
            min_n, max_n = min_n - grow / 2, max_n + grow / 2
        inner_w, inner_h = WIDTH - 2 * PADDING, HEIGHT - 2 * PADDING
        scale = min(inner_w / (max_e - min_e), inner_h / (max_n - min_n))
        # Centred: the spare room of the narrower axis is shared between its two sides.
        offset_x = PADDING + (inner_w - (max_e - min_e) * scale) / 2
        offset_y = PADDING + (inner_h - (max_n - min_n) * scale) / 2
        return cls(min_e, max_n, scale, offset_x, offset_y)

    def __call__(self, easting: float, northing: float) -> tuple[float, float]:
        x = self.offset_x + (easting - self.min_e) * self.units_per_metre
        y = self.offset_y + (self.max_n - northing) * self.units_per_metre
        return round(x, 1), round(y, 1)

    def easting_at(self, x: float) -> float:
        return self.min_e + (x - self.offset_x) / self.units_per_metre

    def northing_at(self, y: float) -> float:
        return self.max_n - (y - self.offset_y) / self.units_per_metre


@dataclass
class _LabelPlacer:
    """Puts labels where they overlap nothing already placed, or leaves them out."""

    taken: list[tuple[float, float, float, float]] = field(default_factory=list)
    # The street's line: kept clear of every label but the street's own name.
    line: list[tuple[float, float, float, float]] = field(default_factory=list)

    def reserve(self, x: float, y: float, half: float) -> None:
        """Keep a marker's square clear of labels."""
        self.taken.append((x - half, y - half, x + half, y + half))

    def reserve_line(self, x1: float, y1: float, x2: float, y2: float, half: float) -> None:
        """Keep a line clear of labels, as a chain of small squares along it."""
        steps = max(1, math.ceil(math.hypot(x2 - x1, y2 - y1) / half))
        for step in range(steps + 1):
            x, y = x1 + (x2 - x1) * step / steps, y1 + (y2 - y1) * step / steps
            self.line.append((x - half, y - half, x + half, y + half))

    def _fits(self, box: tuple[float, float, float, float], *, on_line: bool = False) -> bool:
        left, top, right, bottom = box
        if left < 2 or top < 2 or right > WIDTH - 2 or bottom > HEIGHT - 2:
            return False
        # The scale bar's corner and the north arrow's corner are kept clear too.
        if (left < SCALE_CORNER[0] and bottom > SCALE_CORNER[1]) or (
            right > NORTH_CORNER[0] and top < NORTH_CORNER[1]
        ):
            return False
        return all(
            right <= o_left or left >= o_right or bottom <= o_top or top >= o_bottom
            for o_left, o_top, o_right, o_bottom in (
                self.taken if on_line else [*self.taken, *self.line]
            )
        )

    def place(
        self, lines: Sequence[str], x: float, y: float, gap: float, *, always: bool = False
    ) -> Label | None:
        """A label beside the point ``x``, ``y``: right, left, above or below, the first free.

        With ``always`` the label is drawn even where every side is crowded: over other markers
        (its halo keeps it readable), though still inside the drawing.
        """
        width = max(len(line) for line in lines) * _CHARACTER_WIDTH
        ascent, descent = FONT_SIZE * 0.8, FONT_SIZE * 0.25
        height = ascent + descent + (len(lines) - 1) * LINE_HEIGHT
        # Baselines of the first line that centre the block of lines on the point, or put it
        # above or below the point.
        beside = y - height / 2 + ascent
        candidates = (
            (x + gap, beside, "start"),
            (x - gap, beside, "end"),
            (x, y - gap - height + ascent, "middle"),
            (x, y + gap + ascent, "middle"),
        )
        boxes = []
        for lx, baseline, anchor in candidates:
            left = {"start": lx, "end": lx - width, "middle": lx - width / 2}[anchor]
            box = (left, baseline - ascent, left + width, baseline - ascent + height)
            boxes.append((box, Label(tuple(lines), round(lx, 1), round(baseline, 1), anchor)))
        tests = [self._fits, self._inside] if always else [self._fits]
        for fits in tests:
            for box, label in boxes:
                if fits(box):
                    self.taken.append(box)
                    return label
        if always:
            self.taken.append(boxes[0][0])
            return boxes[0][1]
        return None

    @staticmethod
    def _inside(box: tuple[float, float, float, float]) -> bool:
        left, top, right, bottom = box
        return left >= 2 and top >= 2 and right <= WIDTH - 2 and bottom <= HEIGHT - 2

    def place_along(self, text: str, x1: float, y1: float, x2: float, y2: float) -> Label | None:
        """A label along a line, upright, beside its middle; left out if it would overlap."""
        angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
        if angle > 90:
            angle -= 180
        elif angle <= -90:
            angle += 180
        width = len(text) * _CHARACTER_WIDTH
        radians = math.radians(angle)
        half_w = abs(math.cos(radians)) * width / 2 + abs(math.sin(radians)) * FONT_SIZE / 2
        half_h = abs(math.sin(radians)) * width / 2 + abs(math.cos(radians)) * FONT_SIZE / 2
        # Tried beside the middle of the line first, then further along it, on either side, a
        # little off it so the text never sits on the line.
        for along in (0.5, 0.35, 0.65, 0.2, 0.8):
            mx, my = x1 + (x2 - x1) * along, y1 + (y2 - y1) * along
            for side in (-1.0, 1.0):
                offset = 6.0 + FONT_SIZE / 2
                lx = mx - math.sin(radians) * side * offset
                ly = my + math.cos(radians) * side * offset
                box = (lx - half_w, ly - half_h, lx + half_w, ly + half_h)
                if self._fits(box, on_line=True):
                    self.taken.append(box)
                    return Label((text,), round(lx, 1), round(ly, 1), "middle", round(angle, 1))
        return None


def _group(places: Iterable[MapPlace]) -> list[list[MapPlace]]:
    """Places at the same point together (a block and its units), in first-seen order."""
    groups: dict[tuple[int, int], list[MapPlace]] = {}
    for place in places:
        key = (round(place.easting / SAME_PLACE_M), round(place.northing / SAME_PLACE_M))
        groups.setdefault(key, []).append(place)
    return list(groups.values())


def _head(group: Sequence[MapPlace]) -> MapPlace:
    """The place a group links to: the block they share (their parent) when it is there."""
    uprns = {place.uprn for place in group}
    for place in group:
        if place.parent_uprn is None or place.parent_uprn not in uprns:
            return place
    return group[0]


def _distinct(places: Iterable[MapPlace], *, skip: set[str]) -> list[MapPlace]:
    """``places`` without repeats and without the UPRNs in ``skip``."""
    kept: dict[str, MapPlace] = {}
    for place in places:
        if place.uprn not in skip:
            kept.setdefault(place.uprn, place)
    return list(kept.values())


def _unit_count(block: Sequence[MapPlace]) -> int:
    """How many units a block has: its places, less the parent that holds them."""
    uprns = {place.uprn for place in block}
    parents = {place.parent_uprn for place in block if place.parent_uprn in uprns}
    return len(block) - len(parents)


def _units(count: int) -> str:
    return f"{count} unit" if count == 1 else f"{count} units"


@dataclass
class _Layout:
    """Places the map's parts in the drawing, most important label first."""

    project: _Projection
    placer: _LabelPlacer
    street_ends: tuple[float, float, float, float] | None = None
    street_name: str = ""
    street_label: Label | None = None

    def street(self, street: MapStreet | None) -> StreetLine | None:
        """The street's line; kept clear of labels other than its own name."""
        if street is None:
            return None
        self.street_ends = (
            *self.project(street.start_easting, street.start_northing),
            *self.project(street.end_easting, street.end_northing),
        )
        self.placer.reserve_line(*self.street_ends, 5)
        self.street_name = street.name
        return StreetLine(
            street_href(street.usrn), f"{street.name} (USRN {street.usrn})", *self.street_ends
        )

    def markers(
        self,
        subject: MapPlace,
        block: Sequence[MapPlace],
        block_name: str | None,
        others: Sequence[MapPlace],
    ) -> tuple[Marker, ...]:
        """Every marker: other properties under the block, the block under the property."""
        x, y = self.project(subject.easting, subject.northing)
        # Units of the block on the property's own point are drawn by the block's square.
        elsewhere = _group(p for p in (*block, *others) if _apart(subject, p) >= SAME_PLACE_M)
        self.placer.reserve(x, y, 16 if block else 10)
        for group in elsewhere:
            self.placer.reserve(*self.project(group[0].easting, group[0].northing), 6)

        block_marker = None
        lines = ["This property"]
        if block:
            all_block = [subject, *block]
            head = _head(all_block)
            name = f"{block_name or head.short_label or head.address}"
            described = f"{name} ({_units(_unit_count(all_block))})"
            bx, by = self.project(head.easting, head.northing)
            together = (bx, by) == (x, y)
            if together:
                # One label for both: the square and the diamond share the point.
                lines.append(f"in {described}")
            block_marker = Marker(
                MarkerKind.BLOCK,
                bx,
                by,
                property_href(head.uprn),
                f"{head.address}: the block, {_units(_unit_count(all_block))}",
                tuple(all_block),
            )
        subject_marker = Marker(
            MarkerKind.SUBJECT,
            x,
            y,
            property_href(subject.uprn),
            subject.address,
            (subject,),
            self.placer.place(lines, x, y, 18 if block else 13, always=True),
        )
        # The street's name comes after "This property", so it never takes the property's place.
        self._name_street()
        found: list[Marker] = []
        if block_marker is not None:
            if (block_marker.x, block_marker.y) != (x, y):
                label = self.placer.place([described], block_marker.x, block_marker.y, 18)
                block_marker = replace(block_marker, label=label)
            found.append(block_marker)
        neighbours = [self._neighbour(group) for group in elsewhere]
        return (*neighbours, *found, subject_marker)

    def _name_street(self) -> None:
        if self.street_ends is not None:
            self.street_label = self.placer.place_along(self.street_name, *self.street_ends)

    def _neighbour(self, group: Sequence[MapPlace]) -> Marker:
        head = _head(group)
        x, y = self.project(head.easting, head.northing)
        text = head.short_label
        if len(group) > 1:
            text = f"{text or head.address} ({_units(len(group))})"
        title = head.address if len(group) == 1 else f"{head.address} and {len(group) - 1} more"
        return Marker(
            MarkerKind.NEIGHBOUR,
            x,
            y,
            property_href(head.uprn),
            title,
            tuple(group),
            self.placer.place([text], x, y, 8) if text else None,
        )


def draw_property_map(
    subject: MapPlace,
    *,
    block: Sequence[MapPlace] = (),
    block_name: str | None = None,
    street: MapStreet | None = None,
    neighbours: Sequence[MapPlace] = (),
) -> PropertyMap:
    """The map of ``subject``: its block (its parent and that parent's other units, or its own
    units), its street, and the other properties on the street."""
    block_places = _distinct(block, skip={subject.uprn})
    others = _distinct(neighbours, skip={subject.uprn} | {p.uprn for p in block_places})
    left_out = max(0, len(others) - MAX_NEIGHBOURS)
    # The nearest are kept when a street has more than the map draws.
    others.sort(key=lambda p: _apart(subject, p))
    others = others[:MAX_NEIGHBOURS]

    points = [(subject.easting, subject.northing)]
    points += [(p.easting, p.northing) for p in block_places + others]
    if street is not None:
        points += [
            (street.start_easting, street.start_northing),
            (street.end_easting, street.end_northing),
        ]
    project = _Projection.fit(points)
    layout = _Layout(project, _LabelPlacer())
    street_line = layout.street(street)
    markers = layout.markers(subject, block_places, block_name, others)
    if street_line is not None:
        street_line = replace(street_line, label=layout.street_label)

    scale_metres = nice_length((WIDTH / 4) / project.units_per_metre)
    scale_metres = nice_length((WIDTH / 4) / project.units_per_metre)
    scale = ScaleBar(
        x=16.0,
        y=HEIGHT - 18.0,
        length=round(scale_metres * project.units_per_metre, 1),
        metres=int(scale_metres),
    )
    return PropertyMap(
        width=WIDTH,
        height=HEIGHT,
        title=f"Map of {subject.address}",
        description=_describe(subject, block_places, block_name, street, others, scale),
        metres_per_unit=1 / project.units_per_metre,
        street=street_line,
        markers=tuple(markers),
        scale_bar=scale,
        north_x=WIDTH - 28.0,
        north_y=22.0,
        grid_lines=_grid(project, scale_metres),
        legend_block=(
            f"{block_name or 'its block'} ({_units(_unit_count([subject, *block_places]))})"
            if block_places
            else None
        ),
        legend_street=street.name if street is not None else None,
        neighbour_count=len(others),
        left_out=left_out,
    )


def _grid(project: _Projection, spacing: float) -> tuple[tuple[float, float, float, float], ...]:
    """National Grid lines every ``spacing`` metres across the drawing (faint, for scale)."""
    lines = []
    first_e = math.ceil(project.easting_at(0) / spacing) * spacing
    easting = first_e
    while (x := project(easting, 0)[0]) < WIDTH:
        lines.append((x, 0.0, x, HEIGHT))
        easting += spacing
    first_n = math.ceil(project.northing_at(HEIGHT) / spacing) * spacing
    northing = first_n
    while (y := project(0, northing)[1]) > 0:
        lines.append((0.0, y, WIDTH, y))
        northing += spacing
    return tuple(lines)


def _describe(  # noqa: PLR0917 -- one sentence per part of the map
    subject: MapPlace,
    block: Sequence[MapPlace],
    block_name: str | None,
    street: MapStreet | None,
    others: Sequence[MapPlace],
    scale: ScaleBar,
) -> str:
    """The map in words: what is drawn where, with distances and directions."""
    sentences = [
        "Drawn from the gazetteer's own British National Grid coordinates, grid north up.",
        f"This property, {subject.address}, is the diamond at easting "
        f"{subject.easting:,.0f}, northing {subject.northing:,.0f}.",
    ]
    if block:
        name = block_name or "Its block"
        sentences.append(
            f"{name} is the square: {_units(_unit_count([subject, *block]))}, "
            "which share the block's point unless the gazetteer places them apart."
        )
    if street is not None:
        distance = _distance_to_segment(subject.easting, subject.northing, street)
        sentences.append(
            f"{street.name} is the grey line from its start to its end, "
            f"{street.length_m:,.0f} metres long, running {_heading(street)}; "
            f"the property is {distance:,.0f} metres from it."
        )
    if others:
        nearest = others[0]
        distance = math.hypot(
            nearest.easting - subject.easting, nearest.northing - subject.northing
        )
        where = (
            "at the same point"
            if distance < SAME_PLACE_M
            else f"{distance:,.0f} metres to the {_direction(subject, nearest)}"
        )
        shown = (
            "1 other property on the street is a circle"
            if len(others) == 1
            else f"{len(others):,} other properties on the street are circles"
        )
        sentences.append(f"{shown}; the nearest is {nearest.address}, {where}.")
    sentences.append(f"The scale bar is {scale.text}.")
    return " ".join(sentences)
