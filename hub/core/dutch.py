"""Dutch grammar for texts the hub and its plugins show: one place, so every plugin
that counts writes "1 maand" and "2 maanden" the same way (issue 13, item 16)."""

from __future__ import annotations

from consent.dutch import count

__all__ = ["count"]
