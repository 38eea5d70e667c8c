"""The hub's HTTP API (FastAPI): thin routes over the core."""
