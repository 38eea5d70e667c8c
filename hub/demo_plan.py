"""``hub demo``, step g (issue 17): the household plan, shared with the partner in it.

The regisseur writes Fatima's plan with her goal and three agreements (Fatima, her
sister, Woonbron); Fatima agrees and lets Woonbron see its agreement; Woonbron's own
API (a small server on 127.0.0.1 standing in for it) receives exactly that agreement
and reports progress; Fatima asks a question and the regisseur sees it; Fatima
revokes the sharing consent and the next plan update is not sent to Woonbron.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ARRANGEMENT = "Betalingsregeling voor de huurachterstand"


class PartnerApi:
    """Woonbron's own API for the demo: records every JSON body the hub posts to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                body = b'{"id": "WB-PLAN-1"}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return  # the demo narrates; no access log

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wijkhub"

    @contextmanager
    def running(self) -> Iterator[PartnerApi]:
        """Serve in a thread for the duration of the block."""
        thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                  name="demo-woonbron")
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=10)


def plan_shared(story: Any, woonbron_api: PartnerApi, partner_id: str, say, poll) -> None:
    """g. One plan; the agreement for Woonbron reaches Woonbron only with Fatima's consent."""
    story.step = "f"
    say("\nStep g: one household, one plan; Woonbron gets its agreement only with consent")
    household = story.items_of("signal.arrears.rent")[0]["household_id"]
    url = f"/api/v1/households/{household}/plan"
    body = {"goals": [{"domain": "financien", "text": "Ik wil weer rust over geld",
                       "score_start": 2}],
            "agreements": [
                {"domain": "financien", "text": "Ik open elke week mijn post",
                 "who": "resident"},
                {"domain": "sociaal-netwerk", "text": "Mijn zus gaat mee naar de bank",
                 "who": "network", "network_person": "mijn zus"},
                {"domain": "financien", "text": ARRANGEMENT, "who": "partner",
                 "partner_id": partner_id, "due": "2027-01-31"}],
            "evaluation_date": "2027-03-01"}
    plan = story.call("PUT", url, story.regisseur, 200, json=body)
    mine = plan["agreements"][2]
    story.check(mine["share"]["status"] == "not_shared",
                "expected the Woonbron agreement to wait for Fatima's consent")
    say(f"  The regisseur saves version {plan['version']}: 1 goal, 3 agreements (Fatima, "
        "her sister, Woonbron). Woonbron gets nothing yet.")
    seen = story.call("GET", "/api/v1/me/plan", story.fatima, 200)
    story.check(seen["goals"][0]["text"] == body["goals"][0]["text"],
                "expected Fatima to read her own goal on /api/v1/me/plan")
    story.call("POST", "/api/v1/me/plan/agree", story.fatima, 201)
    [asked] = [r for r in story.pending_requests() if r.get("purpose") == "plan.share"]
    say(f"  Fatima reads her plan and agrees. She is asked: {asked['text']!r}")
    story.call("POST", f"/api/v1/me/requests/{asked['id']}/approve", story.fatima, 200)
    got = poll(lambda: list(woonbron_api.received) or None)
    story.check(got is not None and len(got) == 1, "expected Woonbron to receive one message")
    data = got[0]["data"]
    story.check(data["text"] == ARRANGEMENT and "post" not in json.dumps(got[0]),
                "expected Woonbron to receive exactly its own agreement")
    say(f"  Fatima says yes; Woonbron receives {got[0]['type']!r}: {data['text']!r}, due "
        f"{data['due']} - nothing else of the plan.")
    story.call("POST", "/api/v1/plan/progress", story.woonbron, 201, json={
        "agreement_id": data["agreement_id"], "state": "in_progress",
        "note": "Regeling van 50 euro per maand afgesproken"})
    say("  Woonbron reports progress on that agreement: 'in_progress'.")
    story.call("POST", "/api/v1/me/questions", story.fatima, 201,
               json={"text": "Kunt u mij bellen over de brief van de gemeente?"})
    question = story.items_of("resident.question")
    story.check(len(question) == 1 and question[0]["basis"] == "own_request",
                "expected Fatima's question in the regisseur's inbox")
    say(f"  Fatima asks a question; the regisseur sees {question[0]['summary']!r}, basis "
        f"{question[0]['basis']!r}.")
    [share] = [c for c in story.call("GET", "/api/v1/me/consents", story.fatima, 200)
               if c["purpose"] == "plan.share" and c["status"] == "active"]
    story.call("POST", f"/api/v1/me/consents/{share['id']}/revoke", story.fatima, 200)
    body["agreements"][2].update(id=mine["id"], due="2027-02-28")
    body["based_on"] = plan["version"]
    after = story.call("PUT", url, story.regisseur, 200, json=body)
    story.check(after["agreements"][2]["share"]["status"] == "not_shared",
                "expected the revoked sharing to stop updates to Woonbron")
    say("  Fatima revokes the sharing; the regisseur moves the date: the update is not sent "
        f"to Woonbron (it received {len(woonbron_api.received)} message in all).")
