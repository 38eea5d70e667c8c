"""The engine: envelope, hookspecs, plugin manager, store, outbox, router, delivery."""
