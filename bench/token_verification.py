"""Benchmark: what checking an access token costs, per algorithm and through ``require``.

    python bench/token_verification.py              # SQLite in a temporary directory
    python bench/token_verification.py --count 20000

Part one signs and verifies the same claims with PyJWT under EdDSA (Ed25519), ES256 (P-256) and
RS256 (RSA 2048), the candidates for Townhall's tokens (docs/adr/0013-es256-access-tokens.md),
and prints microseconds per token and each token's size. Part two times
``AccessControl.authenticate`` on a real instance with warm caches (what every protected request
pays) and with the access cache off (``TOWNHALL_ACCESS_CACHE_SECONDS=0``: one database read per
request), so the cache's worth is a ratio measured on the machine at hand.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from townhall.platform.auth.access import AccessControl
from townhall.platform.auth.consumers import create_consumer, verify_client_secret
from townhall.platform.auth.grants import NewGrant
from townhall.platform.auth.keys import instance_signing_keys
from townhall.platform.auth.oauth import token_for
from townhall.platform.db import Database
from townhall.platform.migrations import upgrade
from townhall.settings import Settings

CLAIMS: dict[str, Any] = {
    "iss": "urn:townhall:E09000012:production",
    "aud": "urn:townhall:E09000012:production:api",
    "sub": "con_3f9a0c1d2b4e5f60",
    "client_id": "thcid_0123456789abcdef01234567",
    "scope": "addresses:read people:read",
    "purpose": "Shows permit applications to parking staff.",
    "jti": "q1w2e3r4t5y6u7i8o9p0aa",
    "iat": 1_795_000_000,
    "nbf": 1_795_000_000,
    "exp": 4_102_444_800,
}


def per_call_us(action: Callable[[], object], count: int) -> float:
    """Microseconds per call of ``action``, the best of three runs of ``count`` calls."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            action()
        best = min(best, (time.perf_counter() - started) / count * 1e6)
    return best


def compare_algorithms(count: int) -> None:
    candidates: list[tuple[str, Any]] = [
        ("EdDSA", ed25519.Ed25519PrivateKey.generate()),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ]
    print(f"{'algorithm':<10}{'sign µs':>10}{'verify µs':>12}{'token bytes':>14}")
    for algorithm, key in candidates:
        public = key.public_key()
        token = jwt.encode(CLAIMS, key, algorithm=algorithm, headers={"kid": "k"})

        def sign(key: Any = key, algorithm: str = algorithm) -> str:
            return jwt.encode(CLAIMS, key, algorithm=algorithm, headers={"kid": "k"})

        def verify(public: Any = public, algorithm: str = algorithm, token: str = token) -> Any:
            return jwt.decode(token, public, algorithms=[algorithm], audience=CLAIMS["aud"])

        print(
            f"{algorithm:<10}{per_call_us(sign, count // 4):>10.1f}"
            f"{per_call_us(verify, count):>12.1f}{len(token):>14}"
        )


def time_require(count: int, directory: Path) -> None:
    url = f"sqlite:///{directory / 'bench.db'}"
    database = Database(url)
    upgrade(database)
    settings = Settings(
        environment="production",
        database_url=url,
        secret_key="bench-only-secret-key",  # noqa: S106 - a throwaway instance
    )
    registered = create_consumer(
        database,
        name="Benchmark",
        kind="council_service",
        actor="bench",
        grants=[NewGrant(scope="consumers:read", purpose="Benchmark", environment="production")],
    )
    keys = instance_signing_keys(settings, database)
    access = verify_client_secret(
        database,
        registered.consumer.client_id,
        registered.client_secret,
        environment="production",
    )
    assert access is not None
    token = token_for(access, settings, keys, None).token
    for label, cache_seconds in (("warm caches", 5.0), ("no access cache", 0.0)):
        control = AccessControl(
            settings.model_copy(update={"access_cache_seconds": cache_seconds}), database, keys
        )
        control.authenticate(token, "consumers:read")
        calls = count if cache_seconds else max(count // 10, 100)

        def check(control: AccessControl = control) -> object:
            return control.authenticate(token, "consumers:read")

        cost = per_call_us(check, calls)
        print(f"authenticate, {label}: {cost:.1f} µs per request")
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="verifications per run")
    options = parser.parse_args()
    compare_algorithms(options.count)
    with tempfile.TemporaryDirectory() as directory:
        time_require(options.count, Path(directory))


if __name__ == "__main__":
    main()
