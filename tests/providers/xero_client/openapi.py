"""A small OpenAPI 3.0 contract checker over Xero's own documents (``xero_sandbox/openapi``).

It checks a recorded HTTP exchange the way Xero would read it:
- the path and method exist (an operation's ``x-path`` counts as a path too: the invoice PDF is
  documented under ``/Invoices/{InvoiceID}/pdf`` with ``x-path: /Invoices/{InvoiceID}``);
- path and query parameters are declared and their values fit their schemas (``uuid`` checked),
  required ones are present;
- every header beyond the plain HTTP ones is declared; ``Accept`` names a documented answer type;
- the request body has a documented content type and validates against its schema, strictly:
  no property the schema does not name, no ``readOnly`` property;
- an answer validates against the documented schema of its status (Xero's envelope fields
  ``Id``/``Status``/``ProviderName``/``DateTimeUTC`` aside, which the schemas omit), also strictly,
  so a misspelt field in a canned answer fails.

Schemas are validated with ``jsonschema`` (Draft 4, the base of OpenAPI 3.0's dialect) through a
``referencing`` registry holding the whole document, so ``$ref`` resolves like in the spec.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_DIR = Path(__file__).resolve().parents[3] / "xero_sandbox" / "openapi"
ACCOUNTING_URI = "urn:xero:accounting"
IDENTITY_URI = "urn:xero:identity"

#: Headers any HTTP client sends that an OpenAPI document never declares.
PLAIN_HEADERS = {"host", "user-agent", "accept-encoding", "connection", "content-length", "content-type"}
#: Xero's answer envelope: present on every accounting answer, absent from the schemas.
ENVELOPE_KEYS = {"Id", "Status", "ProviderName", "DateTimeUTC"}
METHODS = ("get", "put", "post", "delete", "patch")

_formats = FormatChecker(formats=())


@_formats.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value.lower()


_PROPERTIES = Draft4Validator.VALIDATORS["properties"]


def _strict_properties(validator, properties, instance, schema) -> Iterator[ValidationError]:
    yield from _PROPERTIES(validator, properties, instance, schema)
    if validator.is_type(instance, "object"):
        for name in instance:
            if name not in properties:
                yield ValidationError(f"{name!r} is not a property of this schema")


def _read_only(validator, read_only, instance, schema) -> Iterator[ValidationError]:
    if read_only:
        yield ValidationError("a readOnly property was sent")


ResponseValidator = jsonschema.validators.extend(Draft4Validator, {"properties": _strict_properties})
RequestValidator = jsonschema.validators.extend(ResponseValidator, {"readOnly": _read_only})


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    pointer: str  # JSON pointer of the operation object
    op: dict[str, Any]
    path_parameters: list[Any]


class OpenApiDocument:
    def __init__(self, path: Path, uri: str, *, prefix: str = "", case_insensitive: bool = False) -> None:
        with path.open("rb") as stream:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # a safe loader, in C when available
            self.doc: dict[str, Any] = yaml.load(stream, Loader=loader)  # noqa: S506
        self.uri = uri
        self.prefix = prefix
        self.registry = Registry().with_resource(uri, Resource.from_contents(self.doc, default_specification=DRAFT4))
        flags = re.IGNORECASE if case_insensitive else 0
        self._routes: list[tuple[re.Pattern[str], str, str, list[Any]]] = []
        for template, item in self.doc["paths"].items():
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                pointer = f"/paths/{_escape(template)}/{method}"
                for reachable in {template, op.get("x-path", template)}:
                    pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(reachable)) + "$", flags)
                    self._routes.append((pattern, reachable, pointer, item.get("parameters", [])))

    # --- lookups ---------------------------------------------------------------------------------

    def operations(self, method: str, path: str) -> list[Operation]:
        if not path.startswith(self.prefix):
            return []
        local = path[len(self.prefix) :]
        found = []
        for pattern, template, pointer, path_params in self._routes:
            if pattern.match(local) and pointer.endswith("/" + method.lower()):
                found.append(Operation(template, method.lower(), pointer, self._at(pointer), path_params))
        return found

    def knows_path(self, path: str) -> bool:
        local = path[len(self.prefix) :] if path.startswith(self.prefix) else None
        return local is not None and any(p.match(local) for p, *_ in self._routes)

    def _at(self, pointer: str) -> Any:
        node: Any = self.doc
        for part in pointer.lstrip("/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def _deref(self, node: Any, pointer: str) -> tuple[Any, str]:
        while isinstance(node, Mapping) and "$ref" in node:
            pointer = node["$ref"].lstrip("#")
            node = self._at(pointer)
        return node, pointer

    def _validate(self, pointer: str, instance: Any, *, request: bool) -> list[str]:
        cls = RequestValidator if request else ResponseValidator
        validator = cls({"$ref": f"{self.uri}#{pointer}"}, registry=self.registry, format_checker=_formats)
        errors = validator.iter_errors(instance)
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]

    def _parameters(self, operation: Operation) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
        """(in, name) → (parameter, its pointer); operation parameters override path-level ones."""
        out: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        sources = [
            (operation.path_parameters, operation.pointer.rsplit("/", 1)[0] + "/parameters"),
            (operation.op.get("parameters", []), operation.pointer + "/parameters"),
        ]
        for params, base in sources:
            for index, raw in enumerate(params):
                param, pointer = self._deref(raw, f"{base}/{index}")
                key = (param["in"], param["name"].lower() if param["in"] == "header" else param["name"])
                out[key] = (param, pointer)
        return out

    # --- requests --------------------------------------------------------------------------------

    def request_errors(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> list[str]:
        """Why the request does not fit the document ([] when it fits some matching operation)."""
        operations = self.operations(method, path)
        if not operations:
            return [f"{method} {path}: no such operation in the document"]
        problems: list[str] = []
        for operation in operations:
            errors = self._operation_errors(operation, path, query, headers, body)
            if not errors:
                return []
            problems += [f"{method} {operation.template}: {e}" for e in errors]
        return problems

    def _operation_errors(
        self, operation: Operation, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> list[str]:
        errors: list[str] = []
        params = self._parameters(operation)
        lowered = {k.lower(): v for k, v in headers.items()}
        # path parameters
        names = re.findall(r"\{([^}]+)\}", operation.template)
        pattern = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(operation.template))
        match = re.match("^" + pattern + "$", path[len(self.prefix) :], re.IGNORECASE)
        values = dict(zip(names, match.groups(), strict=True)) if match else {}
        for name, value in values.items():
            if ("path", name) not in params:
                errors.append(f"path parameter {name} is not declared")
                continue
            param, pointer = params[("path", name)]
            errors += [f"path {name}: {e}" for e in self._validate(pointer + "/schema", value, request=True)]
        # query parameters
        for name, given in query.items():
            if ("query", name) not in params:
                errors.append(f"query parameter {name!r} is not declared")
                continue
            param, pointer = params[("query", name)]
            if len(given) != 1:
                errors.append(f"query parameter {name!r} sent {len(given)} times")
                continue
            value = _coerce(given[0], param.get("schema", {}))
            errors += [f"query {name}: {e}" for e in self._validate(pointer + "/schema", value, request=True)]
        # headers
        for name, value in lowered.items():
            if name in PLAIN_HEADERS:
                continue
            if name == "authorization":
                if not operation.op.get("security") and not self.doc.get("security"):
                    errors.append("Authorization sent to an operation without security")
                elif not value.startswith("Bearer "):
                    errors.append("Authorization is not a bearer token")
                continue
            if name == "accept":
                accepted = self._answer_types(operation)
                if value not in accepted and value != "*/*":
                    errors.append(f"Accept {value!r} is not among the documented answers {sorted(accepted)}")
                continue
            if ("header", name) not in params:
                errors.append(f"header {name!r} is not declared")
                continue
            param, pointer = params[("header", name)]
            errors += [f"header {name}: {e}" for e in self._validate(pointer + "/schema", value, request=True)]
        # required parameters
        for (where, name), (param, _pointer) in params.items():
            present = {"query": name in query, "header": name in lowered, "path": name in values}.get(where, True)
            if param.get("required") and not present:
                errors.append(f"required {where} parameter {param['name']!r} is missing")
        errors += self._body_errors(operation, lowered, body)
        return errors

    def _answer_types(self, operation: Operation) -> set[str]:
        types: set[str] = set()
        for status, raw in operation.op.get("responses", {}).items():
            if str(status).startswith("2"):
                response, _ = self._deref(raw, "")
                types |= set(response.get("content", {}))
        return types

    def _body_errors(self, operation: Operation, headers: Mapping[str, str], body: bytes) -> list[str]:
        raw = operation.op.get("requestBody")
        if raw is None:
            return ["a body was sent to an operation that takes none"] if body else []
        request_body, pointer = self._deref(raw, operation.pointer + "/requestBody")
        if not body:
            return ["the required request body is missing"] if request_body.get("required") else []
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if content_type not in request_body.get("content", {}):
            return [f"body content type {content_type!r} is not documented"]
        if content_type != "application/json":
            return []
        try:
            instance = json.loads(body)
        except ValueError:
            return ["the body is not JSON"]
        schema_pointer = f"{pointer}/content/{_escape(content_type)}/schema"
        return [f"body {e}" for e in self._validate(schema_pointer, instance, request=True)]

    # --- answers ---------------------------------------------------------------------------------

    def response_errors(
        self, method: str, path: str, status: int, content_type: str, body: bytes, accept: str | None = None
    ) -> list[str] | None:
        """Why an answer does not fit the document; None when the document says nothing about it."""
        problems: list[str] = []
        documented = False
        for operation in self.operations(method, path):
            responses = operation.op.get("responses", {})
            raw = responses.get(str(status), responses.get(status))
            if raw is None:
                continue
            response, pointer = self._deref(raw, f"{operation.pointer}/responses/{status}")
            kind = content_type.split(";")[0].strip()
            if accept and accept != "*/*" and accept not in response.get("content", {}):
                continue
            documented = True
            if kind not in response.get("content", {}):
                problems.append(f"{operation.template}: answer type {kind!r} is not documented")
                continue
            if kind != "application/json":
                return []
            instance = json.loads(body)
            if isinstance(instance, dict):
                instance = {k: v for k, v in instance.items() if k not in ENVELOPE_KEYS}
            errors = self._validate(f"{pointer}/content/{_escape(kind)}/schema", instance, request=False)
            if not errors:
                return []
            problems += [f"{operation.template}: {e}" for e in errors]
        return problems if documented else None


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _coerce(value: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value) if re.fullmatch(r"-?\d+", value) else value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if kind == "array":
        return [_coerce(v, schema.get("items", {})) for v in value.split(",")]
    return value


@functools.cache
def accounting() -> OpenApiDocument:
    return OpenApiDocument(SPEC_DIR / "xero_accounting.yaml", ACCOUNTING_URI, prefix="/api.xro/2.0")


@functools.cache
def identity() -> OpenApiDocument:
    # Xero's documents spell it /Connections; Xero serves (and documents elsewhere) /connections.
    return OpenApiDocument(SPEC_DIR / "xero-identity.yaml", IDENTITY_URI, case_insensitive=True)
