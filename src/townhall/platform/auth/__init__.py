"""Access control for Townhall's APIs: consumers, tokens, signing keys and route guards.

``principal`` and ``dependencies`` are what routes use; ``keys``, ``tokens`` and ``access``
(signing keys, the token endpoint, verification with its caches) are how it is done; consumers
and their grants live in ``consumers``.
"""
