"""Output shapes taken straight from the real BMS OpenAPI document.

Why: the document's DTOs forbid additional properties, so instead of hand-typing
~60 field names per DTO we project our (superset) internal records onto the
document's property lists. Live BMS answers camelCase, so every property name is
emitted with its first letter lower-cased (``AccountName`` -> ``accountName``,
``PONumber`` -> ``pONumber``; see README for this literal rule).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .data import Ts

OPENAPI_PATH = Path(__file__).with_name("openapi") / "bms-openapi.json"


def lcfirst(name: str) -> str:
    return name[:1].lower() + name[1:]


@cache
def document() -> dict[str, Any]:
    with OPENAPI_PATH.open("rb") as fh:
        return json.load(fh)


def schemas() -> dict[str, Any]:
    return document()["components"]["schemas"]


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Prop:
    key: str  # camelCase output name
    default: Any  # value used when the internal record lacks the key
    sub: str | None  # nested DTO schema name (object or array items)
    is_array: bool


def _default_for(spec: dict[str, Any]) -> Any:
    if spec.get("nullable") or "$ref" in spec:
        return None
    return {"integer": 0, "number": 0.0, "boolean": False, "array": []}.get(spec.get("type", ""))


@cache
def props(schema_name: str) -> tuple[Prop, ...]:
    spec = schemas()[schema_name]
    out = []
    for name, p in spec.get("properties", {}).items():
        sub, is_array = None, False
        if "$ref" in p:
            target = schemas()[_ref_name(p["$ref"])]
            sub = _ref_name(p["$ref"]) if target.get("type") == "object" else None
        elif p.get("type") == "array" and "$ref" in p.get("items", {}):
            sub, is_array = _ref_name(p["items"]["$ref"]), True
        out.append(Prop(lcfirst(name), _default_for(p), sub, is_array))
    return tuple(out)


def project(schema_name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Return exactly the DTO's properties (camelCase), recursing into nested DTOs."""
    out: dict[str, Any] = {}
    get = record.get
    for p in props(schema_name):
        v = get(p.key, p.default)
        if v is not None:
            if p.sub is not None:
                v = [project(p.sub, x) for x in v] if p.is_array else project(p.sub, v)
            elif v.__class__ is Ts:  # format here: json's `default` hook is slow per value
                v = v.iso()
        out[p.key] = v
    return out


@dataclass(frozen=True)
class ResponseShape:
    envelope: str | None  # envelope schema name, None for a bare DTO
    item: str | None  # DTO of `result` (or of each element when is_list)
    is_list: bool
    paged: bool  # envelope has TotalRecords


@cache
def response_shape(method: str, path: str) -> ResponseShape:
    """How the document says `method path` answers (HTTP 200, application/json)."""
    op = document()["paths"][path][method.lower()]
    content = op["responses"]["200"].get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" not in schema:
        return ResponseShape(None, None, False, False)
    name = _ref_name(schema["$ref"])
    p = schemas()[name].get("properties", {})
    if "Success" not in p:
        return ResponseShape(None, name, False, False)  # bare DTO, no envelope
    res = p.get("Result", {})
    if res.get("type") == "array":
        item = _ref_name(res["items"]["$ref"]) if "$ref" in res.get("items", {}) else None
        return ResponseShape(name, item, True, "TotalRecords" in p)
    item = _ref_name(res["$ref"]) if "$ref" in res else None
    return ResponseShape(name, item, False, "TotalRecords" in p)
