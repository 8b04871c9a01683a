"""Token verification for every protected request, with the three caches that keep it cheap.

This module owns ``AccessControl``: given a bearer token and the scope a route needs, it answers
with a ``Principal`` or refuses (401 ``invalid_token``, 403 ``insufficient_scope``). It keeps
three per-process caches (docs/adr/0012-revocation-cache.md):

* the **verification keys**, by ``kid``: read again when a token names a key not yet known (at
  most once a second, so tokens with made-up key ids cannot make every request read the
  database) and every ``KEY_REFRESH_SECONDS`` (so a key retired at once reaches every worker);
* each consumer's **current access** (enabled, grants in force, rate limits), kept for
  ``TOWNHALL_ACCESS_CACHE_SECONDS``: disabling a consumer or revoking a grant takes effect within
  that time, and a busy consumer costs one database read per worker per interval, not per call.
* the **tokens already verified**, by their exact text: a token's signature and claims are
  checked once per worker, and on each later use only what can change is checked again (its
  expiry, its key's retirement, the consumer's access). Verifying an ES256 signature and
  parsing the JWT was the largest cost of a protected request (bench/gateway.py).

A token is accepted only while all hold: its signature verifies with a key that is not retired,
it is for this instance and within its lifetime, its consumer is enabled, and the scope is both
in the token and still granted to the consumer in this environment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from townhall.platform.auth.consumers import ClientAccess, consumer_access
from townhall.platform.auth.dependencies import insufficient_scope, invalid_token
from townhall.platform.auth.keys import SigningKeys, VerificationKey
from townhall.platform.auth.principal import Principal
from townhall.platform.auth.tokens import (
    LEEWAY_SECONDS,
    InvalidToken,
    TokenClaims,
    unverified_key_id,
    verify_token,
)
from townhall.platform.db import Database
from townhall.platform.ratelimit import RateLimitPolicy
from townhall.settings import Settings

KEY_REFRESH_SECONDS = 30.0
# Made-up key ids must not turn every request into a database read.
UNKNOWN_KEY_REFRESH_SECONDS = 1.0
MAX_CACHED_CONSUMERS = 100_000
# Tokens live minutes, so a busy instance holds a few thousand at once (about 1 kB each here).
MAX_VERIFIED_TOKENS = 20_000
_LEEWAY = timedelta(seconds=LEEWAY_SECONDS)


@dataclass(frozen=True)
class _VerifiedToken:
    claims: TokenClaims
    kid: str


@dataclass(frozen=True)
class _CachedAccess:
    access: ClientAccess | None
    fetched_at: float


class AccessControl:
    """Verifies bearer tokens for one app (``TokenAuthority`` for ``require``)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        keys: SigningKeys,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.database = database
        self.keys = keys
        self._monotonic = monotonic
        self._now = now
        self._lock = threading.Lock()
        self._verification_keys: dict[str, VerificationKey] = {}
        self._keys_read_at: float | None = None
        self._access: dict[str, _CachedAccess] = {}
        self._verified: dict[str, _VerifiedToken] = {}

    def authenticate(self, token: str, scope: str) -> Principal:
        """The principal for ``token`` if it may use ``scope`` now; 401 or 403 otherwise."""
        claims = self._verified_claims(token)
        return _principal(claims, self.current_access(claims.consumer_id), scope)

    def authenticate_at_once(
        self, token: str, scope: str
    ) -> tuple[Principal, list[RateLimitPolicy]] | None:
        """``authenticate`` and ``policies_for`` from warm caches alone, or None.

        None when answering would read the database (a token not seen before, keys or the
        consumer's access due to be read again): call ``authenticate`` off the event loop then.
        Otherwise the same answer, refusals included, without waiting on anything.
        """
        monotonic = self._monotonic()
        with self._lock:
            seen = self._verified.get(token)
            if seen is None:
                return None
            keys_read_at = self._keys_read_at
            key = self._verification_keys.get(seen.kid)
            cached = self._access.get(seen.claims.consumer_id)
        if (
            key is None
            or keys_read_at is None
            or monotonic - keys_read_at >= KEY_REFRESH_SECONDS
            or cached is None
            or monotonic - cached.fetched_at >= self.settings.access_cache_seconds
        ):
            return None
        self._check_still_valid(token, seen, key)
        principal = _principal(seen.claims, cached.access, scope)
        return principal, self._policies(cached.access)

    def _verified_claims(self, token: str) -> TokenClaims:
        """The claims of ``token``, whose signature is checked the first time this worker sees it.

        A token already verified is the same text, so only what time can change is checked again:
        its expiry (with the same leeway as verification) and whether its key is still held and
        not retired (through the same key cache as verification).
        """
        with self._lock:
            seen = self._verified.get(token)
        if seen is not None:
            key = self._verification_key(seen.kid)
            if key is None:
                self._forget_token(token)
                raise invalid_token("the token was signed by a key this instance does not hold")
            self._check_still_valid(token, seen, key)
            return seen.claims
        now = self._now()
        try:
            kid = unverified_key_id(token)
            key = self._verification_key(kid)
            if key is None:
                raise invalid_token("the token was signed by a key this instance does not hold")
            claims = verify_token(token, key, self.settings, now=now)
        except InvalidToken as exc:
            raise invalid_token(str(exc)) from exc
        with self._lock:
            if len(self._verified) >= MAX_VERIFIED_TOKENS:
                self._forget_expired_tokens(now)
            self._verified[token] = _VerifiedToken(claims=claims, kid=kid)
        return claims

    def _check_still_valid(self, token: str, seen: _VerifiedToken, key: VerificationKey) -> None:
        """Refuse a token verified before whose key has retired or which has expired since."""
        now = self._now()
        if key.retire_after is not None and now >= key.retire_after:
            self._forget_token(token)
            raise invalid_token("the key that signed the token is retired")
        if now >= seen.claims.expires_at + _LEEWAY:
            self._forget_token(token)
            raise invalid_token("the token has expired")

    def _forget_token(self, token: str) -> None:
        with self._lock:
            self._verified.pop(token, None)

    def _forget_expired_tokens(self, now: datetime) -> None:
        # Called with the lock held. Tokens that cannot pass again go first; if every one still
        # could, all go: the cost is one signature check each on their next use.
        expired = [
            t for t, seen in self._verified.items() if now >= seen.claims.expires_at + _LEEWAY
        ]
        for token in expired:
            del self._verified[token]
        if len(self._verified) >= MAX_VERIFIED_TOKENS:
            self._verified.clear()

    def policies_for(self, principal: Principal) -> list[RateLimitPolicy]:
        """The consumer's own rate limit and quota where set, the instance's otherwise."""
        return self._policies(self.current_access(principal.consumer_id))

    def _policies(self, access: ClientAccess | None) -> list[RateLimitPolicy]:
        per_minute = self.settings.rate_limit_per_minute
        per_day = self.settings.quota_per_day
        if access is not None:
            per_minute = access.rate_limit_per_minute or per_minute
            per_day = access.quota_per_day or per_day
        return [
            RateLimitPolicy("per-minute", per_minute, 60),
            RateLimitPolicy("per-day", per_day, 86_400),
        ]

    def current_access(self, consumer_id: str) -> ClientAccess | None:
        """What ``consumer_id`` may do now, at most ``access_cache_seconds`` old."""
        now = self._monotonic()
        with self._lock:
            cached = self._access.get(consumer_id)
        if cached is not None and now - cached.fetched_at < self.settings.access_cache_seconds:
            return cached.access
        access = consumer_access(
            self.database, consumer_id, environment=self.settings.environment.value
        )
        with self._lock:
            if len(self._access) >= MAX_CACHED_CONSUMERS:
                self._forget_stale(now)
            self._access[consumer_id] = _CachedAccess(access=access, fetched_at=now)
        return access

    def forget_consumer(self, consumer_id: str) -> None:
        """Drop what this process knows of a consumer, so a change made here applies at once."""
        with self._lock:
            self._access.pop(consumer_id, None)

    def _forget_stale(self, now: float) -> None:
        ttl = self.settings.access_cache_seconds
        stale = [cid for cid, cached in self._access.items() if now - cached.fetched_at >= ttl]
        for consumer_id in stale:
            del self._access[consumer_id]
        if len(self._access) >= MAX_CACHED_CONSUMERS:
            self._access.clear()

    def _verification_key(self, kid: str) -> VerificationKey | None:
        now = self._monotonic()
        with self._lock:
            key = self._verification_keys.get(kid)
            read_at = self._keys_read_at
        age = None if read_at is None else now - read_at
        stale = age is None or age >= KEY_REFRESH_SECONDS
        unknown_may_refresh = key is None and (age is None or age >= UNKNOWN_KEY_REFRESH_SECONDS)
        if stale or unknown_may_refresh:
            keys = {found.kid: found for found in self.keys.verification_keys()}
            with self._lock:
                self._verification_keys = keys
                self._keys_read_at = now
            key = keys.get(kid)
        return key


def _principal(claims: TokenClaims, access: ClientAccess | None, scope: str) -> Principal:
    """Who calls, if the consumer is enabled and ``scope`` is in the token and still granted."""
    if access is None:
        raise invalid_token("the consumer is disabled or no longer exists")
    if scope not in claims.scopes:
        raise insufficient_scope(
            scope, f"This operation needs the scope {scope}, which the token does not carry."
        )
    granted = {grant.scope for grant in access.grants}
    if scope not in granted:
        raise insufficient_scope(
            scope,
            f"The grant of the scope {scope} to this consumer was revoked or has expired.",
        )
    return Principal(
        consumer_id=claims.consumer_id,
        client_id=claims.client_id,
        scopes=claims.scopes & granted,
        # The purpose of the grant this operation relies on, as it stands now: what the audit
        # trail records for a use of personal data (the token's claim joins every scope's).
        purpose=next(grant.purpose for grant in access.grants if grant.scope == scope),
        token_id=claims.token_id,
        expires_at=claims.expires_at,
    )
