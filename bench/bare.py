"""The baseline: a bare FastAPI endpoint that only parses the body the hub is sent.

    python -m bench.bare --port 8001

Same framework, same server and the same uvicorn settings as ``hub serve``
(one process, access log off), no middleware, no auth, no store: whatever the
hub does above this line is what its ratio to this endpoint shows.
"""

from __future__ import annotations

import argparse
import json
import uuid

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.get("/healthz")
def healthz() -> dict:
    """Alive."""
    return {"status": "ok"}


@app.post("/api/v1/messages", status_code=202)
async def post_message(request: Request) -> JSONResponse:
    """Parse the JSON body and answer as the hub does; nothing else."""
    json.loads(await request.body())
    return JSONResponse({"id": str(uuid.uuid4()), "status": "received"}, status_code=202)


def main() -> None:
    """Serve on 127.0.0.1 with the hub's uvicorn settings."""
    from bench.common import UVICORN

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, **UVICORN)


if __name__ == "__main__":
    main()
