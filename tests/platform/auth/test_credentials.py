"""Client ids and secrets: unguessable, recognisable, checked only against their hashes."""

from __future__ import annotations

from townhall.platform.auth.credentials import (
    hash_secret,
    new_client_id,
    new_id,
    new_secret,
    secret_matches,
)


def test_secrets_are_prefixed_and_never_repeat() -> None:
    made = {new_secret() for _ in range(200)}
    assert len(made) == 200
    assert all(secret.startswith("thsec_") and len(secret) == 49 for secret in made)


def test_ids_are_prefixed_and_opaque() -> None:
    assert new_id("con").startswith("con_")
    assert len(new_id("con")) == 20
    assert new_client_id().startswith("thcid_")
    assert new_client_id() != new_client_id()


def test_a_hash_matches_only_its_secret() -> None:
    secret = new_secret()
    stored = hash_secret(secret)
    assert stored.startswith("$argon2id$")
    assert secret not in stored
    assert secret_matches(stored, secret)
    assert not secret_matches(stored, new_secret())
    assert not secret_matches("not a hash", secret)
