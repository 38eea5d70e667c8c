"""Builders shared by the tests (and usable by partner-plugin authors)."""
