"""A tiny resource used only by tests to exercise the HTTP conventions end to end.

It is built the way a domain is (table, schemas, service, thin router on ``api_router``) but
its table lives in its own metadata, so it never enters Townhall's migrations.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Integer, MetaData, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from townhall.errors import (
    InvalidCursor,
    InvalidHeader,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from townhall.platform.db import Database
from townhall.platform.http.concurrency import (
    IfMatchDep,
    answer_not_modified,
    etag_of,
    with_etag,
)
from townhall.platform.http.pagination import PageOut, PageParamsDep, keyset_page, page_response
from townhall.platform.http.problems import error_responses
from townhall.platform.http.routing import add_operations, api_router


class _TestBase(DeclarativeBase):
    metadata = MetaData()


class Note(_TestBase):
    __tablename__ = "test_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(String(500))


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(min_length=1, max_length=50)
    text: str = Field(min_length=1, max_length=500)


class NoteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str | None = Field(default=None, min_length=1, max_length=50)
    text: str | None = Field(default=None, min_length=1, max_length=500)


class NotePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    topic: str
    text: str


def _public(note: Note) -> NotePublic:
    return NotePublic(id=str(note.id), topic=note.topic, text=note.text)


def create_tables(database: Database) -> None:
    _TestBase.metadata.create_all(database.engine)


def drop_tables(database: Database) -> None:
    _TestBase.metadata.drop_all(database.engine)


def build_notes_router(database: Database) -> APIRouter:
    router = api_router("/notes", tag="notes")

    @router.post("", status_code=201)
    def create_note(body: NoteCreate, request: Request, response: Response) -> NotePublic:
        with database.write() as session:
            note = Note(topic=body.topic, text=body.text)
            session.add(note)
            session.flush()
            public = _public(note)
        response.headers["Location"] = str(request.url_for("create_note")) + "/" + public.id
        with_etag(response, etag_of(public))
        return public

    @router.get("", responses=error_responses(InvalidCursor))
    def list_notes(
        params: PageParamsDep,
        request: Request,
        response: Response,
        topic: Annotated[str | None, Query(max_length=50)] = None,
    ) -> PageOut[NotePublic]:
        statement = select(Note)
        if topic is not None:
            statement = statement.where(Note.topic == topic)
        with database.read() as session:
            page = keyset_page(session, statement, [Note.id], params.request, lambda r: [r[0].id])
            items = [_public(row[0]) for row in page.items]
        return page_response(page, params, request, response, items)

    @router.get("/{note_id}", responses=error_responses(NotFound, InvalidHeader))
    def get_note(
        note_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, response: Response
    ) -> Any:
        with database.read() as session:
            note = session.get(Note, note_id)
            if note is None:
                raise NotFound(f"There is no note {note_id}.")
            public = _public(note)
        etag = etag_of(public)
        if answer_not_modified(request, etag):
            return Response(status_code=304, headers={"ETag": etag})
        with_etag(response, etag)
        return public

    @router.patch(
        "/{note_id}",
        responses=error_responses(
            NotFound, InvalidHeader, PreconditionFailed, PreconditionRequired
        ),
    )
    def update_note(
        note_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
        body: NoteUpdate,
        precondition: IfMatchDep,
        response: Response,
    ) -> NotePublic:
        with database.write() as session:
            note = session.get(Note, note_id)
            if note is None:
                raise NotFound(f"There is no note {note_id}.")
            precondition.check(etag_of(_public(note)))
            for name, value in body.model_dump(exclude_unset=True).items():
                if value is not None:
                    setattr(note, name, value)
            session.flush()
            public = _public(note)
        with_etag(response, etag_of(public))
        return public

    # Out of the schema so the contract test runs clean; a test includes it to prove it fails.
    @router.get("-failing", include_in_schema=False)
    def fail_unexpectedly() -> NotePublic:
        msg = "secret internal detail: connection string postgres://admin:hunter2@db"
        raise RuntimeError(msg)

    return router


def mount_notes(app: FastAPI, database: Database) -> None:
    create_tables(database)
    add_operations(app, build_notes_router(database))
    app.openapi_schema = None
