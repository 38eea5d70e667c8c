"""A real third-party FHIR client (SMART on FHIR's ``fhirclient``) against the hub over HTTP.

The client reads the CapabilityStatement with its own R4 models, sends a referral
built with its own models, reads the Task back and searches as a polling GP would.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from fhirclient import client as fhir_client
from fhirclient.models.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhirclient.models.patient import Patient
from fhirclient.models.practitioner import Practitioner
from fhirclient.models.servicerequest import ServiceRequest
from fhirclient.models.task import Task

from hub.app import create_app
from tests.plugins.huisarts.fhirdata import example, patient

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def base_url(ctx) -> Iterator[str]:
    """The hub served by uvicorn on a free loopback port, in this process."""
    app = create_app(ctx, run_worker=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    waiting = threading.Event()
    while not server.started and thread.is_alive():
        waiting.wait(0.05)
    try:
        yield f"http://127.0.0.1:{port}/fhir/r4/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _entry(resource, url, full_url):
    entry = BundleEntry()
    entry.fullUrl = full_url
    entry.resource = resource
    entry.request = BundleEntryRequest({"method": "POST", "url": url})
    return entry


def test_fhirclient_sends_a_referral_reads_the_task_and_polls(ctx, base_url, practice,
                                                              patient_resident):
    _, key = practice
    smart = fhir_client.FHIRClient(settings={"app_id": "praktijk-his", "api_base": base_url})
    smart.server.session.headers["Authorization"] = key["Authorization"]
    smart.prepare()
    capability = smart.server.capabilityStatement
    assert capability.fhirVersion == "4.0.1"
    assert [r.type for r in capability.rest[0].resource] == ["Task"]

    gp = Practitioner(example("nl-core-HealthProfessional-Practitioner-01.xml"))
    pat = Patient(patient())
    request = ServiceRequest({
        "status": "active", "intent": "order", "priority": "routine",
        "subject": {"reference": "urn:uuid:p"}, "requester": {"reference": "urn:uuid:gp"},
        "reasonCode": [{"text": "Somberheid na ontslag, geldzorgen"}]})
    task = Task({"status": "requested", "intent": "order",
                 "identifier": [{"system": "urn:his:task", "value": "HIS-77"}],
                 "focus": {"reference": "urn:uuid:sr"}, "for": {"reference": "urn:uuid:p"},
                 "owner": {"reference": "Organization/wijkteam"}})
    bundle = Bundle({"type": "transaction"})
    bundle.entry = [_entry(pat, "Patient", "urn:uuid:p"),
                    _entry(request, "ServiceRequest", "urn:uuid:sr"),
                    _entry(task, "Task", "urn:uuid:task"),
                    _entry(gp, "Practitioner", "urn:uuid:gp")]
    response = smart.server.post_json("", bundle.as_json())
    answer = Bundle(response.json())
    assert answer.type == "transaction-response"
    assert answer.entry[2].response.status == "201 Created"
    task_id = answer.entry[2].response.location.split("/")[1]

    read = Task.read(task_id, smart.server)
    assert (read.status, read.intent, read.identifier[0].value) == ("requested", "order",
                                                                    "HIS-77")
    polled = Task.where(struct={"status": "requested",
                                "owner": "Organization/wijkteam"}).perform_resources(
        smart.server)
    assert [t.id for t in polled] == [task_id]
    assert Task.where(struct={"status": "completed"}).perform_resources(smart.server) == []
