"""The end-to-end benchmark's paced sender (bench/load.py): every message, one id each,
kept-alive connections, and a refusal named rather than counted.

Against a small HTTP/1.1 server of the test's own (the stdlib's), never a timed assertion.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import load


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn
    refuse = False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        with server.lock:
            server.bodies.append(body)
            server.peers.add(self.client_address)
            server.auth.add(self.headers.get("Authorization"))
        if self.refuse:
            answer, status = b'{"title": "Onbekende sleutel"}', 401
        else:
            answer, status = json.dumps({"id": str(uuid.uuid4())}).encode(), 202
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    def start(refuse: bool = False):
        handler = type("Handler", (_Recorder,), {"refuse": refuse})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.bodies, httpd.peers, httpd.auth, httpd.lock = [], set(), set(), threading.Lock()
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return httpd

    started: list[ThreadingHTTPServer] = []
    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def paced(url: str, **options) -> dict[str, float]:
    """``load.paced`` on a thread of its own, as in the benchmark's process: a test before
    this one on the same worker may have left an event loop running on this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(load.paced, url, **options).result(timeout=120)


def test_every_message_is_sent_once_on_kept_alive_connections(server):
    httpd = server()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    sent = paced(url, key="whk_test", run="r1", rate=200, seconds=0.5)
    assert len(sent) == len(httpd.bodies) == 100
    assert all(isinstance(at, float) for at in sent.values())
    # The bodies are the load's arrears signals, each source_ref once.
    refs = [body["source_ref"] for body in httpd.bodies]
    assert len(set(refs)) == 100
    assert httpd.auth == {"Bearer whk_test"}
    # Open loop on kept-alive connections: far fewer connections than messages.
    assert len(httpd.peers) < 50


def test_a_refused_message_fails_the_run_with_its_answer(server):
    httpd = server(refuse=True)
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    with pytest.raises(RuntimeError, match=r"10 of 10 paced messages were refused.*401.*Onbekende"):
        paced(url, key="whk_wrong", run="r2", rate=100, seconds=0.1)
