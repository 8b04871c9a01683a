"""GOV.UK Notify: sending email through its API, authenticated with its JSON web tokens.

This module owns the Notify client. An API key is ``{name}-{service id}-{secret}``: each request
carries a fresh HS256 JWT whose issuer is the service id and whose ``iat`` is now, signed with the
secret (Notify refuses tokens more than 30 seconds old, so one is made per request). The JWT is
two claims in a fixed shape, so it is signed here with the standard library rather than with a
JWT library. Errors are logged with Notify's status and error codes, never the recipient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from townhall.platform.logging import get_logger
from townhall.platform.notifications import SIGN_IN_CODE, NotificationFailed
from townhall.settings import Settings

EMAIL_PATH = "/v2/notifications/email"
_UUID_LENGTH = 36
TIMEOUT_SECONDS = 10.0

log = get_logger(__name__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def split_api_key(api_key: str) -> tuple[str, str]:
    """The service id and the secret in a Notify API key; ValueError if it is not one."""
    minimum = 2 * _UUID_LENGTH + 2
    if len(api_key) < minimum or api_key[-_UUID_LENGTH - 1] != "-":
        msg = "a Notify API key ends with its service id and secret, two UUIDs"
        raise ValueError(msg)
    secret = api_key[-_UUID_LENGTH:]
    service_id = api_key[-2 * _UUID_LENGTH - 1 : -_UUID_LENGTH - 1]
    return service_id, secret


def notify_token(service_id: str, secret: str, issued_at: int) -> str:
    """The bearer token for one request to Notify."""
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    claims = _b64(json.dumps({"iss": service_id, "iat": issued_at}, separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode("ascii")
    signature = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64(signature)}"


class NotifySender:
    """Sends email through GOV.UK Notify."""

    def __init__(
        self,
        *,
        api_key: str,
        templates: Mapping[str, str],
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._service_id, self._secret = split_api_key(api_key)
        self._templates = dict(templates)
        self._client = httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS, transport=transport)
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> NotifySender:
        """A sender for the key and templates in ``settings``."""
        assert settings.notify_api_key is not None
        templates = {}
        if settings.notify_sign_in_template_id:
            templates[SIGN_IN_CODE] = settings.notify_sign_in_template_id
        return cls(
            api_key=settings.notify_api_key.get_secret_value(),
            templates=templates,
            base_url=settings.notify_base_url,
            transport=transport,
        )

    def send_email(self, to: str, template: str, personalisation: Mapping[str, str]) -> None:
        template_id = self._templates.get(template)
        if template_id is None:
            msg = f"no Notify template is configured for {template!r}"
            raise NotificationFailed(msg)
        token = notify_token(self._service_id, self._secret, int(self._clock()))
        body: dict[str, Any] = {
            "email_address": to,
            "template_id": template_id,
            "personalisation": dict(personalisation),
        }
        try:
            response = self._client.post(
                EMAIL_PATH, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            log.warning("notification_failed", template=template, error=type(exc).__name__)
            msg = "Notify could not be reached"
            raise NotificationFailed(msg) from exc
        if response.status_code != 201:
            log.warning(
                "notification_failed",
                template=template,
                status=response.status_code,
                errors=_error_codes(response),
            )
            msg = f"Notify refused the email ({response.status_code})"
            raise NotificationFailed(msg)
        log.info("notification_sent", template=template, notification_id=_id_of(response))

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()


def _error_codes(response: httpx.Response) -> list[str]:
    # Notify's messages can quote the address or the personalisation; its error codes cannot.
    try:
        errors = response.json().get("errors", [])
    except (ValueError, AttributeError):
        return []
    return [str(error.get("error", "")) for error in errors if isinstance(error, dict)]


def _id_of(response: httpx.Response) -> str | None:
    try:
        found = response.json().get("id")
    except (ValueError, AttributeError):
        return None
    return str(found) if found is not None else None
