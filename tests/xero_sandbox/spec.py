"""Validate sandbox responses against the Xero OpenAPI documents (xero_sandbox/openapi/).

The documents' schemas are turned into JSON Schema (draft 7) and made *stricter* than
the documents: every object with declared properties forbids other properties, so the
sandbox cannot emit a field the document does not know. `uuid` formats are checked.
Quirks of the documents accommodated here (listed in xero_sandbox/README.md):

1. Envelope: the list wrappers (Contacts, Invoices, ...) allow Id, Status, ProviderName
   and DateTimeUTC, present in every example of the document but in no schema.
2. Invoice allows DateString and DueDateString (in the document's examples, not its schema).
3. Element (validation errors) allows Payment's properties: Xero echoes the submitted object.
4. The identity document has no token endpoint: a token answer is checked against its
   AccessToken schema, which lacks `scope` (Xero sends it): allowed.
5. `date-time` formats are not checked: the identity service's dates carry no zone.
6. Paths match case-insensitively (the identity document says /Connections, Xero serves
   /connections).
7. An operation that lists no 400 (GET /Contacts, GET /Invoices...) still answers a bad
   `where` or header with 400: checked against the document's shared 400Error (Error).
Statuses the documents do not describe (401, 403, 404, 429, 5xx of the gateway) are
checked against PROBLEM below, Xero's problem-details body.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker

OPENAPI = Path(__file__).resolve().parents[2] / "xero_sandbox" / "openapi"
API_BASE = "/api.xro/2.0"
ENVELOPE = {"Id", "Status", "ProviderName", "DateTimeUTC"}
EXTRA_PROPS: dict[str, set[str]] = {
    "Contacts": ENVELOPE,
    "Invoices": ENVELOPE,
    "Payments": ENVELOPE,
    "Accounts": ENVELOPE,
    "Organisations": ENVELOPE,
    "Invoice": {"DateString", "DueDateString"},
    "AccessToken": {"scope"},
}
PROBLEM = {
    "type": "object",
    "required": ["Title", "Status", "Detail"],
    "additionalProperties": False,
    "properties": {
        "Type": {"type": ["string", "null"]},
        "Title": {"type": "string"},
        "Status": {"type": "integer"},
        "Detail": {"type": "string"},
        "Instance": {"type": "string", "format": "uuid"},
        "Extensions": {"type": "object"},
    },
}
OAUTH_ERROR = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
_DROP = {"description", "example", "externalDocs", "readOnly", "format", "default", "x-is-msdate", "x-is-msdate-time"}


@cache
def document(name: str) -> dict[str, Any]:
    with (OPENAPI / name).open("rb") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


def _translate(node: Any, name: str | None = None) -> Any:
    if isinstance(node, list):
        return [_translate(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k in _DROP and not (k == "format" and v == "uuid") or k.startswith("x-"):
            continue
        if k == "$ref":
            out[k] = v.replace("#/components/schemas/", "#/definitions/")
        elif k == "properties":
            out[k] = {pk: _translate(pv) for pk, pv in v.items()}
        else:
            out[k] = _translate(v)
    if "$ref" in out:
        return {"$ref": out["$ref"]}  # OpenAPI 3.0: siblings of $ref are ignored
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out:
        out.setdefault("type", "object")
        for extra in EXTRA_PROPS.get(name or "", ()):
            out["properties"].setdefault(extra, {})
        out["additionalProperties"] = False
    return out


@cache
def definitions(doc: str) -> dict[str, Any]:
    schemas = document(doc)["components"]["schemas"]
    defs = {n: _translate(s, n) for n, s in schemas.items()}
    if "Element" in defs and "Payment" in defs:  # quirk 3
        for k, v in defs["Payment"]["properties"].items():
            defs["Element"]["properties"].setdefault(k, v)
    return defs


def _validator(doc: str, schema: dict[str, Any]) -> Draft7Validator:
    return Draft7Validator(
        {**_translate(schema), "definitions": definitions(doc)}, format_checker=FormatChecker(formats=["uuid"])
    )


def _resolve_response(doc: str, resp: dict[str, Any]) -> dict[str, Any]:
    ref = resp.get("$ref")
    if ref:
        return document(doc)["components"]["responses"][ref.rsplit("/", 1)[-1]]
    return resp


def _template(doc: str, path: str) -> str | None:
    for tpl in document(doc)["paths"]:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(tpl)) + "/?$"
        if re.match(pattern, path, re.IGNORECASE):
            return tpl
    return None


def response_schema(method: str, path: str, status: int, content_type: str) -> tuple[str, dict[str, Any]] | None:
    """(document, schema) the documents give for this answer, None when they describe none."""
    low = path.lower()
    if low == "/connect/token" and status == 200:
        return "xero-identity.yaml", {"$ref": "#/components/schemas/AccessToken"}
    if low.startswith(API_BASE.lower()):
        doc, rel = "xero_accounting.yaml", path[len(API_BASE) :]
    else:
        doc, rel = "xero-identity.yaml", path
    tpl = _template(doc, rel)
    if tpl is None:
        return None
    # GET /Invoices/{id} with Accept: application/pdf is the document's /Invoices/{InvoiceID}/pdf
    if "application/pdf" in content_type and tpl == "/Invoices/{InvoiceID}":
        tpl = "/Invoices/{InvoiceID}/pdf"
    op = document(doc)["paths"][tpl].get(method.lower())
    if op is None:
        return None
    resp = op["responses"].get(str(status))
    if resp is None and status == 400 and doc == "xero_accounting.yaml":
        resp = {"$ref": "#/components/responses/400Error"}  # quirk 7: a 400 the operation does not list
    if resp is None:
        return None
    content = _resolve_response(doc, resp).get("content", {})
    media = "application/pdf" if "application/pdf" in content_type else "application/json"
    if media not in content:
        raise AssertionError(f"{method} {path} -> {status}: the document has no {media} answer ({sorted(content)})")
    return doc, content[media].get("schema", {})


def validate(method: str, path: str, status: int, content_type: str, body: bytes) -> str:
    """Validate one answer; returns what it was checked against. Raises AssertionError."""
    import json

    if status == 204:
        assert body == b"", f"{method} {path}: 204 with a body"
        doc = "xero-identity.yaml" if not path.lower().startswith(API_BASE.lower()) else "xero_accounting.yaml"
        tpl = _template(doc, path if doc == "xero-identity.yaml" else path[len(API_BASE) :])
        assert tpl and "204" in document(doc)["paths"][tpl][method.lower()]["responses"], (
            f"{method} {path}: 204 undocumented"
        )
        return f"{doc}:{method} {path} 204"
    found = response_schema(method, path, status, content_type)
    if "application/pdf" in content_type:
        assert found is not None, f"{method} {path}: a PDF where the document has none"
        assert body.startswith(b"%PDF-"), "not a PDF"
        return "pdf"
    if "json" not in content_type:
        assert status in (204, 302, 404, 405) or path.lower().startswith(("/identity/", "/connect/revocation")), (
            f"{method} {path} -> {status}: unexpected {content_type}"
        )
        return "non-json"
    data = json.loads(body)
    if found is None:
        oauth = path.lower().startswith("/connect/") and status < 429
        schema = OAUTH_ERROR if oauth else PROBLEM
        errors = sorted(
            Draft7Validator(schema, format_checker=FormatChecker(formats=["uuid"])).iter_errors(data), key=str
        )
        assert not errors, f"{method} {path} -> {status}: {errors[0].message} at {list(errors[0].absolute_path)}"
        return "problem" if schema is PROBLEM else "oauth-error"
    doc, schema = found
    errors = sorted(_validator(doc, schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        raise AssertionError(
            f"{method} {path} -> {status}: {e.message} at {list(e.absolute_path)} ({len(errors)} errors)"
        )
    return f"{doc}:{method} {path} {status}"
