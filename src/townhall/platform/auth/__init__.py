"""Access control for Townhall's APIs: consumers, tokens, signing keys and route guards.

``principal`` and ``dependencies`` are what routes use; ``keys``, ``tokens`` and ``access``
(signing keys, the token endpoint, verification with its caches) are how it is done. Consumers
live in ``consumers``, their secrets in ``client_secrets``, their grants of ``scopes`` in
``grants``, the log of changes to all three in ``changes``, and their admin API in ``admin_api``.
"""
