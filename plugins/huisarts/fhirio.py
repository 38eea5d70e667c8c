"""Reading and writing FHIR R4 as JSON and XML, safely; errors as OperationOutcome.

Pure: no database, no logging of content. The models are ``fhir.resources.R4B``
(R4B's Task, ServiceRequest, Patient, Practitioner(Role), Organization and
Communication are R4's 4.0.1 unchanged).

XML is parsed in three steps. A scan with expat (linear, no tree) first counts
what makes fhir.resources' XML reader slow — namespace declarations, attributes,
nesting depth, elements — and refuses a body past :data:`XML_CAPS` before any
tree is built (issue 13, item 3: 42,000 namespaces once held the event loop for
80 s; the reader is quadratic in them). defusedxml then reads the bytes and refuses any
DTD, entity declaration or external reference (a billion-laughs payload stops
at its ``<!DOCTYPE``, before a single entity is expanded). Only then does lxml,
which fhir.resources needs, build the tree, with a parser that resolves no
entities, loads no DTD, opens no network connection and refuses huge trees.
"""

from __future__ import annotations

import importlib
import json
import xml.parsers.expat
from collections.abc import Mapping
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from fhir.resources.R4B.operationoutcome import OperationOutcome
from lxml import etree
from pydantic import ValidationError

from hub.plugin import FhirRefused, Issue, operation_outcome, parse_json

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
FHIR_NS = "http://hl7.org/fhir"
# What a client may send as Content-Type, and what it may ask for in Accept or _format.
JSON_TYPES = frozenset({FHIR_JSON, "application/json", "json"})
XML_TYPES = frozenset({FHIR_XML, "application/xml", "text/xml", "xml"})

# Every resource the hub reads; anything else is refused as not supported, by name.
SUPPORTED = ("Bundle", "Task", "ServiceRequest", "Patient", "Practitioner", "PractitionerRole",
             "Organization", "Communication")

__all__ = ["FHIR_JSON", "FHIR_XML", "FhirRefused", "Issue", "parse_body", "render",
           "render_outcome", "resource_class", "validate_resource"]


def resource_class(resource_type: str) -> type:
    """The R4B model class of a supported resource type (KeyError for any other)."""
    if resource_type not in SUPPORTED:
        raise KeyError(resource_type)
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


def _xml_parser() -> etree.XMLParser:
    # Belt and braces behind defusedxml: nothing external, nothing expanded, nothing huge.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, dtd_validation=False, remove_comments=True)


def _path(root: str, loc: tuple[Any, ...]) -> str:
    # pydantic's location -> a FHIRPath: ("entry", 0, "resource", "for_fhir") is
    # Bundle.entry[0].resource.for
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "resource_type":
            out += ".resourceType"
        else:
            out += f".{str(part).removesuffix('_fhir')}"
    return out


def validation_issues(root: str, exc: ValidationError) -> list[Issue]:
    """One issue per pydantic error, with its FHIRPath; input values are never repeated."""
    issues = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        reason = " ".join(str(err["msg"]).removeprefix("Value error, ").split())
        code = "required" if "missing" in err["type"] else "invalid"
        issues.append(Issue(_path(root, tuple(err["loc"])), reason, code))
    return issues


def validate_resource(data: Any, path: str, *, expected: tuple[str, ...] = SUPPORTED) -> Any:
    """Validate decoded JSON as one of the ``expected`` resources, or raise FhirRefused.

    ``path`` is the FHIRPath of where the resource sits (``Bundle.entry[2].resource``),
    so every issue names the faulty element in the request as sent.
    """
    if not isinstance(data, Mapping):
        raise FhirRefused([Issue(path, "must be a JSON object (a FHIR resource)", "structure")])
    kind = data.get("resourceType")
    if not isinstance(kind, str) or not kind:
        raise FhirRefused([Issue(f"{path}.resourceType", "is required", "required")])
    if kind not in expected:
        raise FhirRefused([Issue(f"{path}.resourceType", "must be one of "
                                 + ", ".join(expected) + f", not {kind[:40]!r}",
                                 "not-supported")])
    cls = resource_class(kind)
    try:
        return cls.model_validate(dict(data))
    except ValidationError as exc:
        raise FhirRefused(validation_issues(path, exc)) from None
    except (TypeError, ValueError, KeyError, RecursionError) as exc:
        # fhir.resources raises plain errors for some shapes (a nested unknown resourceType).
        raise FhirRefused([Issue(path, f"is not a valid {kind} ({type(exc).__name__})",
                                 "structure")]) from None


def media_type(content_type: str | None) -> str:
    """``json`` or ``xml`` for a Content-Type header; FhirRefused (415) for anything else."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in JSON_TYPES:
        return "json"
    if media in XML_TYPES:
        return "xml"
    raise UnsupportedMedia(media)


class UnsupportedMedia(ValueError):
    """The body is neither FHIR JSON nor FHIR XML."""


def parse_body(raw: bytes, fmt: str, *, root: str) -> dict[str, Any]:
    """Decode a request body (``json`` or ``xml``) to FHIR JSON, or raise FhirRefused.

    XML becomes the same JSON a JSON client would have sent, so one validation
    serves both. ``root`` names the body in issues (``Bundle``).
    """
    if fmt == "json":
        try:
            data = parse_json(raw)
        except FhirRefused:
            raise FhirRefused([Issue(root, "is not valid JSON", "structure")]) from None
        if not isinstance(data, dict):
            raise FhirRefused([Issue(root, "must be a JSON object (a FHIR resource)",
                                     "structure")])
        return data
    return _parse_xml(raw, root=root)


# A referral (Bundle of Patient, ServiceRequest, Task, a practitioner) has a few
# hundred elements, depth under 15, one namespace (FHIR's, plus XHTML for a narrative)
# and at most a handful of attributes per element: the caps leave ample room for that.
XML_CAPS = {"namespaces": 8, "attributes": 16, "depth": 48, "elements": 10_000}


class _OverCap(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def scan_xml(raw: bytes, *, root: str) -> None:
    """Refuse (FhirRefused, code ``too-costly``) XML past :data:`XML_CAPS` or with a DTD.

    Linear in the body and builds nothing, so a hostile body costs little: run it
    before any parser that builds a tree or a model.
    """
    parser = xml.parsers.expat.ParserCreate()
    counts = {"namespaces": 0, "elements": 0}
    depth = 0

    def start(_name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        counts["elements"] += 1
        counts["namespaces"] += sum(1 for a in attrs if a == "xmlns" or a.startswith("xmlns:"))
        for what, value in (("depth", depth), ("elements", counts["elements"]),
                            ("namespaces", counts["namespaces"]),
                            ("attributes", len(attrs))):
            if value > XML_CAPS[what]:
                raise _OverCap(what)

    def end(_name: str) -> None:
        nonlocal depth
        depth -= 1

    def doctype(*_args: Any) -> None:
        raise FhirRefused([Issue(root, "XML with a DTD, entity declarations or external "
                                 "references is not accepted", "security")])

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(raw, True)
    except _OverCap as exc:
        limit = XML_CAPS[exc.what]
        what = {"namespaces": "namespace declarations", "attributes": "attributes on one "
                "element", "depth": "levels of nesting", "elements": "elements"}[exc.what]
        raise FhirRefused([Issue(root, f"XML may have at most {limit} {what}",
                                 "too-costly")]) from None
    except xml.parsers.expat.ExpatError:
        raise FhirRefused([Issue(root, "is not well-formed XML", "structure")]) from None
    except LookupError:
        # The XML declaration names an encoding Python has no codec for.
        raise FhirRefused([_unknown_encoding(root)]) from None


def _unknown_encoding(root: str) -> Issue:
    return Issue(root, "declares an XML encoding that is not known; send UTF-8", "structure")


def _parse_xml(raw: bytes, *, root: str) -> dict[str, Any]:
    scan_xml(raw, root=root)
    try:
        SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise FhirRefused([Issue(root, "XML with a DTD, entity declarations or external "
                                 "references is not accepted", "security")]) from None
    except (SafeET.ParseError, ValueError):
        raise FhirRefused([Issue(root, "is not well-formed XML", "structure")]) from None
    except LookupError:
        raise FhirRefused([_unknown_encoding(root)]) from None
    try:
        element = etree.fromstring(raw, parser=_xml_parser())
    except (etree.XMLSyntaxError, ValueError):
        raise FhirRefused([Issue(root, "is not well-formed XML", "structure")]) from None
    qname = etree.QName(element)
    if qname.namespace != FHIR_NS:
        raise FhirRefused([Issue(root, f"the root element must be in the FHIR namespace "
                                 f"{FHIR_NS}", "structure")])
    kind = qname.localname
    if kind not in SUPPORTED:
        raise FhirRefused([Issue(f"{root}.resourceType", "must be one of "
                                 + ", ".join(SUPPORTED) + f", not {kind[:40]!r}",
                                 "not-supported")])
    cls = resource_class(kind)
    try:
        model = cls.model_validate_xml(raw, xmlparser=_xml_parser())
    except ValidationError as exc:
        raise FhirRefused(validation_issues(kind, exc)) from None
    except KeyError as exc:
        # fhir.resources names the element it does not know, or the type it cannot find.
        name = str(exc.args[0]) if exc.args else "?"
        raise FhirRefused([Issue(kind, f"unknown element or resource type {name[:60]!r}",
                                 "structure")]) from None
    except (TypeError, ValueError, AttributeError, IndexError, RecursionError,
            etree.LxmlError) as exc:
        raise FhirRefused([Issue(kind, f"is not a valid {kind} ({type(exc).__name__})",
                                 "structure")]) from None
    return model.model_dump(mode="json")


def wanted_format(accept: str | None, fmt_param: str | None, default: str = "json") -> str:
    """``json`` or ``xml``: the ``_format`` parameter wins, then Accept, then ``default``."""
    for value in (fmt_param, accept):
        if not value:
            continue
        for part in value.split(","):
            media = part.split(";")[0].strip().lower()
            if media in JSON_TYPES:
                return "json"
            if media in XML_TYPES:
                return "xml"
    return default


def render(resource: dict[str, Any], fmt: str) -> tuple[bytes, str]:
    """FHIR JSON as the body of an answer in ``fmt``: (bytes, media type)."""
    if fmt == "xml":
        model = resource_class_any(resource["resourceType"]).model_validate(resource)
        return model.model_dump_xml(), FHIR_XML
    return json.dumps(resource, ensure_ascii=False).encode(), FHIR_JSON


def resource_class_any(resource_type: str) -> type:
    """The R4B model class of any resource the hub writes (also CapabilityStatement, Bundle)."""
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


def render_outcome(issues: list[Issue], fmt: str) -> tuple[bytes, str]:
    """An OperationOutcome naming each issue's FHIRPath, in ``fmt``."""
    outcome = operation_outcome(issues)
    if fmt == "xml":
        return OperationOutcome.model_validate(outcome).model_dump_xml(), FHIR_XML
    return json.dumps(outcome, ensure_ascii=False).encode(), FHIR_JSON
