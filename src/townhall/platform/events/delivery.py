"""Sending one webhook, and what its answer means: delivered, try again later, or give up.

This module owns one try at one delivery (``send``) and the retry policy (``RetryPolicy``), and
nothing about which deliveries are due or how results are stored (that is the dispatcher's).

A try POSTs the event's CloudEvents structured JSON body, signed as Standard Webhooks asks
(``webhook-id`` the event's id, the same on every try so receivers de-duplicate;
``webhook-timestamp``; ``webhook-signature``), follows no redirect, and first resolves the
target's host again and refuses it when it has turned private (server-side request forgery
through DNS that changed after the subscription was checked), unless private targets are allowed.

A 2xx answer is delivered. Network errors, timeouts, 5xx and 429 are worth another try: after
an exponential backoff with full jitter, or after the receiver's ``Retry-After`` when it gives
one (both capped). Any other answer (a 3xx, since redirects are not followed, or a 4xx) says
the receiver will never take this event, so it is dead at once, as is a refused target. The
error text recorded in the delivery log never holds the body, the secret or the answer's body.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from townhall import __version__
from townhall.platform.events.envelope import CONTENT_TYPE
from townhall.platform.events.signing_secrets import sign
from townhall.platform.events.targets import TargetRefused, check_target_addresses
from townhall.platform.events.webhook_client import (
    WebhookClient,
    WebhookNetworkError,
    WebhookResponse,
    WebhookTimeout,
)

USER_AGENT = f"Townhall-Webhooks/{__version__}"
# The delivery log's error column holds this much.
ERROR_LENGTH = 300

DELIVERED = "delivered"
RETRY = "retry"
DEAD = "dead"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before trying a delivery again, and when to give up."""

    base_seconds: float
    max_seconds: float
    max_attempts: int

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed try: full jitter over a doubling cap.

        Full jitter (a uniform draw between 0 and the cap) spreads the retries of many
        deliveries that failed together, so a receiver coming back is not hit by all at once.
        """
        cap = min(self.max_seconds, self.base_seconds * 2.0 ** max(attempts - 1, 0))
        return (rng or _RANDOM).uniform(0.0, cap)

    def gives_up(self, attempts: int) -> bool:
        """Whether ``attempts`` tries are all a delivery gets."""
        return attempts >= self.max_attempts


# Jitter needs no cryptographic strength.
_RANDOM = random.Random()  # noqa: S311


@dataclass(frozen=True)
class TryResult:
    """What one try came to.

    ``outcome`` is ``delivered``, ``retry`` (worth another try) or ``dead`` (never worth one);
    the dispatcher turns a ``retry`` into ``dead`` when the attempts are used up.
    ``retry_after`` is the receiver's own wait, in seconds, when it gave one.
    """

    outcome: str
    status_code: int | None
    error: str | None
    latency_ms: float
    retry_after: float | None = None


@dataclass(frozen=True)
class Webhook:
    """One request to make: where, what, and the secret to sign it with."""

    url: str
    event_id: str
    body: bytes
    secret: str


def signed_headers(webhook: Webhook, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a webhook request, signed as Standard Webhooks asks."""
    moment = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
        "webhook-id": webhook.event_id,
        "webhook-timestamp": str(moment),
        "webhook-signature": sign(webhook.secret, webhook.event_id, moment, webhook.body),
    }


async def send(
    client: WebhookClient,
    webhook: Webhook,
    *,
    timeout: float,
    allow_private: bool,
) -> TryResult:
    """Try once to deliver ``webhook``; never raises for anything the network or receiver does."""
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000.0, 3)

    if not allow_private:
        try:
            await check_target_addresses(webhook.url, allow_private=False)
        except TargetRefused as exc:
            if isinstance(exc.__cause__, OSError | UnicodeError):
                # The name did not resolve: DNS may be failing for a moment; try again later.
                return TryResult(RETRY, None, _short(str(exc)), elapsed())
            return TryResult(DEAD, None, _short(f"target refused: {exc}"), elapsed())
    try:
        response = await client.post(
            webhook.url, webhook.body, signed_headers(webhook), timeout=timeout
        )
    except WebhookTimeout:
        return TryResult(RETRY, None, f"no answer within {timeout:g} s", elapsed())
    except WebhookNetworkError as exc:  # refused, reset, TLS, protocol errors
        return TryResult(RETRY, None, _short(str(exc)), elapsed())
    return classify(response, latency_ms=elapsed())


def classify(response: WebhookResponse, *, latency_ms: float) -> TryResult:
    """What a receiver's answer means for the delivery."""
    status = response.status_code
    if 200 <= status < 300:
        return TryResult(DELIVERED, status, None, latency_ms)
    if status == 429 or status >= 500:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        reason = f"HTTP {status} {response.reason}".strip()
        return TryResult(RETRY, status, _short(reason), latency_ms, wait)
    if 300 <= status < 400:
        reason = f"HTTP {status}: redirects are not followed; subscribe the final URL"
    else:
        reason = f"HTTP {status} {response.reason}".strip()
    return TryResult(DEAD, status, _short(reason), latency_ms)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # an HTTP date is always GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _short(text: str) -> str:
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"
