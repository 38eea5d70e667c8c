"""Benchmarks of the hub against the limits of the machine it runs on (issue 9).

``python -m bench all`` runs every benchmark and regenerates docs/performance.md;
``python -m bench NAME`` runs one. See bench/README.md.
"""
