"""Constrained clustering of scored pairs into residents, and keeping residents' ids stable.

This module owns two pure steps of linking (no database): ``cluster`` joins source records by
their scored pairs, strongest first, never putting a kept-apart pair in one cluster and always
joining what staff confirmed; ``assign_ids`` gives each new cluster the id of the existing
resident holding most of its records, so a re-run on the same pairs changes nothing and ids
move as little as the new clusters allow. A resident whose records all went elsewhere is merged
into the cluster that took most of them: an id once given out always leads somewhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from townhall.domains.people.linkage.results import ScoredPair, ordered


class _Components:
    """Union-find over record ids that refuses a union joining a kept-apart pair."""

    def __init__(self, records: Iterable[int], kept_apart: Iterable[tuple[int, int]]) -> None:
        self.parent: dict[int, int] = {record: record for record in records}
        self.members: dict[int, set[int]] = {record: {record} for record in self.parent}
        # Per component root: the records some member is kept apart from.
        self.apart: dict[int, set[int]] = {}
        for left, right in kept_apart:
            if left in self.parent and right in self.parent:
                self.apart.setdefault(left, set()).add(right)
                self.apart.setdefault(right, set()).add(left)

    def find(self, record: int) -> int:
        root = record
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[record] != root:  # path compression
            self.parent[record], record = root, self.parent[record]
        return root

    def union(self, a: int, b: int) -> bool:
        """Join the components of ``a`` and ``b``; False when a kept-apart pair forbids it."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return True
        if len(self.members[root_a]) < len(self.members[root_b]):
            root_a, root_b = root_b, root_a
        apart_a = self.apart.get(root_a, set())
        apart_b = self.apart.get(root_b, set())
        if apart_a & self.members[root_b] or apart_b & self.members[root_a]:
            return False
        self.parent[root_b] = root_a
        self.members[root_a] |= self.members.pop(root_b)
        if apart_b:
            self.apart[root_a] = apart_a | self.apart.pop(root_b)
        return True

    def clusters(self) -> list[frozenset[int]]:
        return [frozenset(members) for members in self.members.values()]


def cluster(
    records: Iterable[int],
    pairs: Iterable[ScoredPair],
    *,
    link_threshold: float,
    kept_apart: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
) -> list[frozenset[int]]:
    """Every record in exactly one cluster: joined by must-links, then pairs at the threshold.

    Must-links (staff-confirmed: accepted review items, staff merges) join first; then pairs at
    or above ``link_threshold``, strongest first (ties by record ids, so the result does not
    depend on the order pairs arrive in). A join that would put a kept-apart pair in one cluster
    is skipped. A record in no pair is a cluster of its own. Clusters are sorted by their
    smallest record.
    """
    components = _Components(records, kept_apart)
    for left, right in sorted(ordered(a, b) for a, b in must_link):
        if left in components.parent and right in components.parent:
            components.union(left, right)
    strong = sorted(
        (pair for pair in pairs if pair.match_probability >= link_threshold),
        key=lambda pair: (-pair.match_probability, -pair.match_weight, pair.left, pair.right),
    )
    for pair in strong:
        if pair.left in components.parent and pair.right in components.parent:
            components.union(pair.left, pair.right)
    return sorted(components.clusters(), key=min)


@dataclass(frozen=True)
class ExistingResident:
    """A resident before the run: when it was created (ties go to the older) and its records."""

    id: str
    created_at: datetime
    records: frozenset[int]


@dataclass
class Assignment:
    """Which id each cluster takes, and what becomes of residents no cluster took."""

    # Cluster (by its records) to resident id, for every cluster.
    ids: dict[frozenset[int], str] = field(default_factory=dict)
    # Ids drawn for clusters no existing resident could give its id to.
    new_ids: set[str] = field(default_factory=set)
    # An existing resident left with no records, to the id of the cluster that took most of them.
    merged: dict[str, str] = field(default_factory=dict)


def assign_ids(
    clusters: Iterable[frozenset[int]],
    existing: Iterable[ExistingResident],
    new_id: Callable[[], str],
) -> Assignment:
    """Give each cluster a stable id: the existing resident's holding most of its records.

    Candidates are taken greedily, most shared records first, then the older resident, then the
    smaller id, then the cluster with the smallest record; each id goes to at most one cluster.
    A cluster left over takes ``new_id()``. An existing resident with records that no cluster
    took is merged into the cluster holding most of its old records (ties: that cluster's
    smallest record), so its id leads to where its records went.
    """
    residents = {resident.id: resident for resident in existing if resident.records}
    resident_of: dict[int, str] = {}
    for resident in residents.values():
        for record in resident.records:
            resident_of[record] = resident.id
    ordered_clusters = sorted(clusters, key=min)
    overlaps: list[tuple[int, datetime, str, int, frozenset[int]]] = []
    for members in ordered_clusters:
        counts = Counter(resident_of[record] for record in members if record in resident_of)
        for resident_id, count in counts.items():
            created = residents[resident_id].created_at
            overlaps.append((-count, created, resident_id, min(members), members))
    overlaps.sort(key=lambda item: item[:4])
    assignment = Assignment()
    taken: set[str] = set()
    for _count, _created, resident_id, _first, members in overlaps:
        if resident_id in taken or members in assignment.ids:
            continue
        assignment.ids[members] = resident_id
        taken.add(resident_id)
    for members in ordered_clusters:
        if members not in assignment.ids:
            fresh = new_id()
            assignment.ids[members] = fresh
            assignment.new_ids.add(fresh)
    cluster_of = {record: members for members in ordered_clusters for record in members}
    for resident_id in sorted(set(residents) - taken):
        destinations = Counter(
            cluster_of[record] for record in residents[resident_id].records if record in cluster_of
        )
        if not destinations:
            continue
        target = min(destinations, key=lambda members: (-destinations[members], min(members)))
        assignment.merged[resident_id] = assignment.ids[target]
    return assignment


def placements(assignment: Assignment) -> Mapping[int, str]:
    """Each record's resident id under ``assignment``."""
    return {record: resident for members, resident in assignment.ids.items() for record in members}
