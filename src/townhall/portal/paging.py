"""Pages of a keyset-paged list on a portal page: the signed cursor in the link, and the links.

This module owns how a page list moves on: the query string carries the filters, a signed
cursor (scoped to the list and its filters, so it cannot be replayed on another) and the page's
number for its caption. An edited or stale cursor starts the list again rather than showing a
wrong page. ``templates/_pagination.html`` draws the links.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from townhall.errors import InvalidCursor
from townhall.platform.http.pagination import CursorCodec, Page, Scalar

# A page number longer than this is not one a person followed.
_MAX_PAGE_DIGITS = 6


def filled_filters(form: Any) -> dict[str, str]:
    """A list form's filters that were filled in, trimmed: every field but ``cursor`` and ``page``.

    ``form`` is the dataclass a list page reads its query string into.
    """
    values: dict[str, str] = asdict(form)
    del values["cursor"], values["page"]
    return {name: value.strip() for name, value in values.items() if value.strip()}


@dataclass
class PageLinks:
    """Where a page is in its list, and the links to the first and the next page."""

    page_number: int = 1
    restarted: bool = False
    next_url: str | None = None
    first_url: str | None = None


def page_url(path: str, filters: dict[str, str], cursor: str | None, page_number: int) -> str:
    """A link to a page of a list; relative, so it works behind any proxy."""
    query = dict(filters)
    if cursor is not None:
        query["cursor"] = cursor
        query["page"] = str(page_number)
    return f"{path}?{urlencode(query)}" if query else path


@dataclass(frozen=True)
class PagedList:
    """One list at ``path`` with ``filters``: reads its cursor, makes its links."""

    cursors: CursorCodec
    path: str
    filters: dict[str, str]

    @property
    def scope(self) -> str:
        """What a cursor of this list is signed for: the path and the filters."""
        return self.path + "?" + json.dumps(sorted(self.filters.items()), separators=(",", ":"))

    def position(self, cursor: str, page: str, links: PageLinks) -> tuple[Scalar, ...] | None:
        """Where to start from the query's ``cursor`` (None: the first page)."""
        if not cursor:
            return None
        try:
            after = self.cursors.decode(cursor, scope=self.scope)
        except InvalidCursor:
            links.restarted = True
            return None
        digits = page.isdigit() and len(page) <= _MAX_PAGE_DIGITS
        links.page_number = max(2, int(page)) if digits else 2
        return after

    def links(self, found: Page[Any], links: PageLinks) -> None:
        """Fill in the links to the next page (if there is one) and to the first."""
        if found.next_position is not None:
            cursor = self.cursors.encode(found.next_position, scope=self.scope)
            links.next_url = page_url(self.path, self.filters, cursor, links.page_number + 1)
        if links.page_number > 1:
            links.first_url = page_url(self.path, self.filters, None, 1)
