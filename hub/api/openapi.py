"""The OpenAPI document as the hub really behaves: bodies it parses itself, problem+json errors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from hub.api.problems import PROBLEM_JSON
from hub.api.schemas import MessageCreate

_REF = "#/components/schemas/{model}"


class FieldError(BaseModel):
    """One faulty field and why."""

    field: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details, with each faulty field named."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] = []


def _register(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _message_types(app: FastAPI, schemas: dict[str, Any]) -> tuple[list, list]:
    # What the loaded plugins accept: each inbound type's data schema, and each CSV
    # format's header, so a partner reads its contract in the document (issue 16).
    ctx = getattr(app.state, "hub", None)
    if ctx is None:
        return [], []
    catalog = ctx.plugins.catalog
    types = []
    for mt in sorted(catalog.types.values(), key=lambda t: t.name):
        if not mt.inbound:
            continue
        schema = mt.data_model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[f"data.{mt.name}"] = schema
        types.append({"type": mt.name, "partner_kinds": list(mt.partner_kinds),
                      "category": mt.category,
                      "data": {"$ref": _REF.format(model=f"data.{mt.name}")}})
    formats = [{"partner_kinds": list(fmt.partner_kinds), "message_type": fmt.message_type,
                "header": ",".join(fmt.header)}
               for fmt in sorted(catalog.csv_formats.values(), key=lambda f: f.message_type)]
    return types, formats


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with a builder that documents what the routes really do."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        message_ref = _register(schemas, MessageCreate)
        message_types, csv_formats = _message_types(app, schemas)
        problem = {"description": "Client error: which field, and why",
                   "content": {PROBLEM_JSON: {"schema": _register(schemas, Problem)}}}
        for path, operations in doc["paths"].items():
            for operation in operations.values():
                if path == "/api/v1/messages" and "requestBody" in operation:
                    operation["requestBody"]["content"]["application/json"]["schema"] = \
                        message_ref
                    operation["x-message-types"] = message_types
                if path == "/api/v1/messages/batch" and "requestBody" in operation:
                    operation["x-csv-formats"] = csv_formats
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                # A route that declares its own 4XX bodies (a plugin's FHIR route answers
                # OperationOutcome) keeps them, next to problem+json (the body limit's 413).
                declared = responses.get("4XX") or {}
                responses["4XX"] = {
                    "description": declared.get("description", problem["description"]),
                    "content": {**problem["content"], **declared.get("content", {})}}
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = doc
        return doc

    app.openapi = build
