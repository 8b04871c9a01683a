"""The staff pages about people: residents, the review queue of possible matches, decisions."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.templating import Jinja2Templates

from townhall.platform.context import AppContext


def build_people_pages(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The pages under ``/staff/people``."""
    del context, templates
    return APIRouter(include_in_schema=False)
