"""Events: what changed, told to everyone who cares, within a fraction of a second, never lost.

A service writes its events into the outbox (``outbox.emit``) in the same unit of work as the
change they describe, so a change that rolls back tells nobody. The dispatcher reads the outbox
after commit and hands each event to its subscribers (signed webhooks), to the Redis Streams sink
and to the read models kept current by events. Every event is a CloudEvents 1.0 envelope
(``envelope``) whose type is declared in a registry (``registry``) that the AsyncAPI document is
generated from.

The package is platform code: it knows no domain. Domains declare their event types in their own
``events.py``; ``townhall.event_types`` gathers them for the app.
"""
