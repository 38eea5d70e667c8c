"""Consent registry and legal-basis engine of Wijkhub.

The package decides, message by message, whether a message may reach the
household's regisseur, on which basis and with which fields:

- :mod:`consent.model`: the frozen value types (grants, facts, decisions);
- :mod:`consent.policy`: the legal bases per message type, read from TOML;
- :mod:`consent.engine`: the pure decision and the read-time re-check;
- :mod:`consent.explain`: the plain-Dutch reasons a resident reads;
- :mod:`consent.tables`: the tables, on their own ``metadata``;
- :mod:`consent.registry`: the storage API, working in the caller's
  SQLAlchemy session (implemented in :mod:`consent.grants` and
  :mod:`consent.requests`, with :mod:`consent.records` for its row types
  and :mod:`consent.errors` for its errors).

It depends on nothing in ``hub`` or ``plugins``; the dependencies point the
other way (DESIGN.md, "Layout").
"""
