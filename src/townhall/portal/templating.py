"""The portal's template environment: GOV.UK Frontend's Jinja macros, our templates, our filters.

This module owns how a page is rendered: where templates are found, autoescaping, the values
every page shares (the council's name, asset paths, the service navigation, the CSP nonce) and the
presentational filters templates may use. It is built per app by ``build_templates(settings)``,
never at import time. It must not query anything: views hand templates what they show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from townhall.platform.auth.sessions import VIEWER_STATE_KEY
from townhall.platform.auth.sign_in_models import SessionKind
from townhall.settings import Settings

STATIC_PATH = "/static"
GOVUK_FRONTEND = "vendor/govuk-frontend"
SWAGGER_UI = "vendor/swagger-ui"
SOURCE_URL = "https://github.com/townhall-uk/townhall"

# The link to a signed-in person's own pages, in the service navigation.
_ACCOUNT_LINKS = {
    SessionKind.STAFF: ("Staff", "/staff"),
    SessionKind.RESIDENT: ("Your account", "/account"),
}

# Problem explanations and other catalogue text mark code with backticks, as in Markdown.
_INLINE_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class NavigationItem:
    """One link of the service navigation."""

    text: str
    href: str

    def as_params(self, current_path: str) -> dict[str, Any]:
        """The item as ``govukServiceNavigation`` wants it: current on its page, active below it."""
        below = self.href != "/" and current_path.startswith(self.href + "/")
        return {
            "text": self.text,
            "href": self.href,
            "current": current_path == self.href,
            "active": below,
        }


def static_url(path: str) -> str:
    """The URL of a file under the portal's static directory."""
    return f"{STATIC_PATH}/{path}"


def inline_code(text: str) -> Markup:
    """Escape ``text`` and show its `backticked` parts as code."""
    escaped = str(escape(text))
    return Markup(_INLINE_CODE.sub(r'<code class="app-code">\1</code>', escaped))  # noqa: S704


def moment(when: datetime) -> str:
    """A time as people read it: ``22 November 2026 at 2:05pm (UTC)``."""
    hour = when.hour % 12 or 12
    return f"{when.day} {when:%B %Y} at {hour}:{when:%M}{'am' if when.hour < 12 else 'pm'} (UTC)"


def thousands(number: int) -> str:
    """``123456`` as ``123,456``."""
    return f"{number:,}"


# RFC 9110's names, where Python's (before 3.13) are the older RFC 7231 ones.
_RFC_9110_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_phrase(status: int) -> str:
    """``404`` as ``404 Not Found``."""
    return f"{status} {_RFC_9110_PHRASES.get(status) or HTTPStatus(status).phrase}"


class CompiledTemplates(jinja2.BytecodeCache):
    """Templates compiled once per process, whichever app's environment asked first.

    Each app has its own environment (its council's name and settings are its globals), and an
    environment compiles every template it renders, GOV.UK Frontend's macros included: about
    0.3 s of an app's first pages. What is compiled does not depend on the globals, only on the
    environment's options, which ``build_templates`` gives every app alike; Jinja checks the
    template source's checksum before using a compiled one, so an edited template is compiled
    again.
    """

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        compiled = self._compiled.get(bucket.key)
        if compiled is not None:
            bucket.bytecode_from_string(compiled)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


_COMPILED = CompiledTemplates()


def build_templates(settings: Settings) -> Jinja2Templates:
    """The template renderer of one app."""
    environment = jinja2.Environment(
        bytecode_cache=_COMPILED,
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("townhall.portal", "templates"),
                # The macros import each other as "govuk_frontend_jinja/components/..." (the
                # loader their README gives).
                jinja2.PrefixLoader(
                    {"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja")}
                ),
            ]
        ),
        autoescape=True,
        # Block tags leave no blank lines behind, so the served HTML stays readable.
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        inline_code=inline_code,
        thousands=thousands,
        status_phrase=status_phrase,
        moment=moment,
    )
    navigation = [NavigationItem("Home", "/")]
    if settings.api_docs_enabled:
        navigation.append(NavigationItem("API reference", "/api/docs"))
    navigation.append(NavigationItem("Problem types", "/problems"))
    environment.globals.update(
        council_name=settings.council_name,
        api_docs_enabled=settings.api_docs_enabled,
        source_url=SOURCE_URL,
        static_url=static_url,
        # GOV.UK Frontend's template reads assetPath for its icons; the CSS finds its own.
        assetPath=static_url(f"{GOVUK_FRONTEND}/assets"),
        govuk_frontend=static_url(GOVUK_FRONTEND),
        idle_minutes=settings.session_idle_minutes,
        absolute_hours=settings.session_absolute_hours,
    )

    def page_context(request: Request) -> dict[str, Any]:
        """What every page needs from its request."""
        state = request.scope.get("state", {})
        # Who is signed in, if the page looked (``identify_viewer``): the header offers sign-out.
        viewer = state.get(VIEWER_STATE_KEY)
        items = list(navigation)
        if viewer is not None:
            items.append(NavigationItem(*_ACCOUNT_LINKS[viewer.kind]))
        return {
            "cspNonce": state.get("csp_nonce", ""),
            "navigation": [item.as_params(request.url.path) for item in items],
            "viewer": viewer,
        }

    return Jinja2Templates(env=environment, context_processors=[page_context])
