"""Cursor pagination: every list is ``{"items": [...], "next_cursor": ...}`` plus ``Link``.

This module owns the whole of it, in three parts that never mix:

* the cursor: an opaque, signed token holding the position after the last item returned and
  a fingerprint of the list it belongs to (its path and filters). A cursor that was changed, made
  up, or reused on a list with other filters is a 400 ``invalid-cursor``, never a wrong page;
* the keyset query (``keyset_page``), which services call: ``WHERE (keys) > (position)
  ORDER BY keys LIMIT n + 1``. Keys must be unique together, so a page boundary is exact and
  stable when rows are inserted before or after it: no item is skipped or shown twice;
* the HTTP side (``PageParams`` and ``page_response``), which routers call: ``limit`` and
  ``cursor`` parameters, and the ``Link: <...>; rel="next"`` header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import Session

from townhall.errors import InvalidCursor

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_CURSOR_VERSION = 1
_PAGING_PARAMETERS = frozenset({"cursor", "limit"})

Scalar = str | int | float | bool | None
T = TypeVar("T")
Row = TypeVar("Row")


class CursorCodec:
    """Signs and reads cursors with the instance's key, fetched the first time it is needed."""

    def __init__(self, key: bytes | Callable[[], bytes]) -> None:
        self._key_source = key
        self._key: bytes | None = key if isinstance(key, bytes) else None

    def _signing_key(self) -> bytes:
        if self._key is None:
            assert callable(self._key_source)
            self._key = self._key_source()
        return self._key

    def encode(self, position: Sequence[Scalar], *, scope: str) -> str:
        """A cursor for ``position`` in the list identified by ``scope``."""
        payload = json.dumps(
            {"v": _CURSOR_VERSION, "p": list(position)}, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload, scope))}"

    def decode(self, cursor: str, *, scope: str) -> tuple[Scalar, ...]:
        """The position a cursor holds; InvalidCursor if it is not one this list gave out."""
        try:
            payload_part, signature_part = cursor.split(".")
            payload = _unb64(payload_part)
            signature = _unb64(signature_part)
        except (ValueError, binascii.Error) as exc:
            raise InvalidCursor("The cursor is malformed.") from exc
        if not hmac.compare_digest(signature, self._sign(payload, scope)):
            raise InvalidCursor(
                "The cursor was not issued for this list: it was changed, or the filters differ."
            )
        try:
            data = json.loads(payload)
            position = data["p"]
        except (ValueError, KeyError, TypeError) as exc:  # pragma: no cover - signed by us
            raise InvalidCursor("The cursor is malformed.") from exc
        if data.get("v") != _CURSOR_VERSION or not isinstance(position, list):
            raise InvalidCursor("The cursor is from an older version: start from the first page.")
        return tuple(position)

    def _sign(self, payload: bytes, scope: str) -> bytes:
        message = scope.encode() + b"\n" + payload
        return hmac.new(self._signing_key(), message, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        msg = "empty part"
        raise ValueError(msg)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- the query side: what services call -------------------------------------------------------


@dataclass(frozen=True)
class PageRequest:
    """Which page a caller wants: at most ``limit`` items after ``after`` (None: the first)."""

    limit: int = DEFAULT_LIMIT
    after: tuple[Scalar, ...] | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items, and the position to continue from (None on the last page)."""

    items: list[T]
    next_position: tuple[Scalar, ...] | None


def keyset_page(
    session: Session,
    statement: Select[Any],
    keys: Sequence[ColumnElement[Any]],
    page: PageRequest,
    position_of: Callable[[Any], Sequence[Any]],
    *,
    descending: bool = False,
) -> Page[Any]:
    """Run ``statement`` for one page, ordered by ``keys`` (unique together), after a position.

    ``position_of`` gives a returned row's values of ``keys``: the next page starts after the
    last row's position. ``descending`` lists the largest keys first (newest first).
    """
    if page.after is not None:
        if len(page.after) != len(keys):
            raise InvalidCursor("The cursor does not fit this list.")
        after = [_from_json(value, key) for value, key in zip(page.after, keys, strict=True)]
        left = keys[0] if len(keys) == 1 else tuple_(*keys)
        right = after[0] if len(keys) == 1 else tuple_(*after)
        statement = statement.where(left < right if descending else left > right)
    order = [key.desc() for key in keys] if descending else list(keys)
    rows = list(session.execute(statement.order_by(*order).limit(page.limit + 1)))
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_position = (
        tuple(_jsonable(value) for value in position_of(rows[-1])) if has_more and rows else None
    )
    return Page(items=rows, next_position=next_position)


def _from_json(value: Scalar, key: ColumnElement[Any]) -> Any:
    """A position value as the key column's Python type (dates travel as ISO strings)."""
    try:
        python_type = key.type.python_type
    except NotImplementedError:
        return value
    if isinstance(value, str) and python_type in (date, datetime):
        try:
            return python_type.fromisoformat(value)
        except ValueError as exc:
            raise InvalidCursor("The cursor is malformed.") from exc
    return value


def _jsonable(value: Any) -> Scalar:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# --- the HTTP side: what routers call ---------------------------------------------------------


class PageOut(BaseModel, Generic[T]):
    """A page of a collection, as every list in every API returns it."""

    model_config = ConfigDict(extra="forbid")

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page.",
        examples=["eyJ2IjoxLCJwIjpbMjAwMDAxMjNdfQ.1J0b9a6Q3xqkq0x2b4M5Vg"],
    )


def list_scope(request: Request) -> str:
    """What identifies a list for its cursors: the path and every filter but paging ones."""
    filters = sorted(
        (name, value)
        for name, value in request.query_params.multi_items()
        if name not in _PAGING_PARAMETERS
    )
    return request.url.path + "?" + json.dumps(filters, separators=(",", ":"))


async def cursor_codec(request: Request) -> CursorCodec:
    """The app's cursor codec (built by create_app); async, so it costs no threadpool hop."""
    codec = request.app.state.townhall.cursors
    assert isinstance(codec, CursorCodec)
    return codec


@dataclass(frozen=True)
class PageParams:
    """The page a request asks for, with its cursor already checked."""

    request: PageRequest
    scope: str
    codec: CursorCodec


def page_params(
    request: Request,
    codec: Annotated[CursorCodec, Depends(cursor_codec)],
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}."),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="`next_cursor` of the previous page; omit for the first page.",
        ),
    ] = None,
) -> PageParams:
    """Read ``limit`` and ``cursor``; a cursor that this list did not issue is a 400."""
    # A plain def, run in the threadpool: the first cursor may read the instance key from the
    # database (when TOWNHALL_SECRET_KEY is unset), which must not block the event loop.
    scope = list_scope(request)
    after = codec.decode(cursor, scope=scope) if cursor is not None else None
    return PageParams(request=PageRequest(limit=limit, after=after), scope=scope, codec=codec)


PageParamsDep = Annotated[PageParams, Depends(page_params)]


def page_response(
    page: Page[Any],
    params: PageParams,
    request: Request,
    response: Response,
    items: list[T],
) -> PageOut[T]:
    """The page body for ``items`` (the page's rows, shaped), with its ``Link`` header set."""
    next_cursor = (
        params.codec.encode(page.next_position, scope=params.scope)
        if page.next_position is not None
        else None
    )
    links = [f'<{_url_with_cursor(request, None)}>; rel="first"']
    if next_cursor is not None:
        links.insert(0, f'<{_url_with_cursor(request, next_cursor)}>; rel="next"')
    response.headers["Link"] = ", ".join(links)
    return PageOut[T](items=items, next_cursor=next_cursor)


def _url_with_cursor(request: Request, cursor: str | None) -> str:
    url = request.url.remove_query_params("cursor")
    return str(url.include_query_params(cursor=cursor) if cursor is not None else url)
