"""Every implemented endpoint's real response validates against the OpenAPI document.

The document's property names are PascalCase, live BMS answers camelCase: we validate
against a copy whose property names have their first letter lower-cased. OpenAPI 3.0
`nullable: true` becomes a JSON-schema null type; `$ref` properties (e.g. the envelope's
Error, null on success, which Swashbuckle cannot mark nullable) also accept null.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft7Validator

from bms_sandbox.constants import INVOICE_MODULE_ID
from bms_sandbox.schema import document, lcfirst

from .conftest import Api


def _translate(node: Any) -> Any:
    if isinstance(node, list):
        return [_translate(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _translate(v) for k, v in node.items() if k not in ("readOnly", "format")}
    if "$ref" in node:
        return {"anyOf": [{"$ref": node["$ref"].replace("#/components/schemas/", "#/definitions/")}, {"type": "null"}]}
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"]
    if isinstance(node.get("properties"), dict):
        node["properties"] = {lcfirst(k): v for k, v in node["properties"].items()}
        if "required" in node:
            node["required"] = [lcfirst(k) for k in node["required"]]
    return node


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return _translate(copy.deepcopy(document()["components"]["schemas"]))


def _validator(definitions: dict[str, Any], method: str, path: str) -> Draft7Validator:
    ref = document()["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
    name = ref["$ref"].rsplit("/", 1)[-1]
    return Draft7Validator({"$ref": f"#/definitions/{name}", "definitions": definitions})


def _cases(api: Api) -> list[tuple[str, str, Any]]:
    ticket = api.post(
        "/v2/servicedesk/tickets",
        {
            "Title": "Schema",
            "Details": "check",
            "AccountId": 2,
            "LocationId": 3,
            "StatusId": 1,
            "PriorityId": 2,
            "TypeId": 1,
            "SourceId": 1,
            "OpenDate": "2026-01-05T10:00:00",
        },
    )
    tokens = api.session.post(
        api.url + "/v2/security/authenticate",
        data={"GrantType": "password", "UserName": api.username, "Password": api.password, "Tenant": api.tenant},
    )
    tk = tokens.json()["result"]
    refreshed = api.session.post(
        api.url + "/v2/security/refreshtoken",
        data={"AccessToken": tk["accessToken"], "RefreshToken": tk["refreshToken"]},
    )
    att = api.get(f"/v2/system/attachments/{INVOICE_MODULE_ID}/4")
    return [
        ("POST", "/v2/security/authenticate", tokens),
        ("POST", "/v2/security/refreshtoken", refreshed),
        ("GET", "/v2/security/userinfo", api.get("/v2/security/userinfo")),
        ("GET", "/v2/crm/accounts/summary", api.get("/v2/crm/accounts/summary", PageSize=100)),
        ("GET", "/v2/crm/accounts/summary/{id}", api.get("/v2/crm/accounts/summary/20")),
        ("GET", "/v2/crm/accounts/{accountId}/locations/lookup", api.get("/v2/crm/accounts/8/locations/lookup")),
        ("GET", "/v2/crm/accounts/{accountId}/locations/{locationId}", api.get("/v2/crm/accounts/5/locations/9")),
        ("GET", "/v2/crm/contacts/summary", api.get("/v2/crm/contacts/summary", PageSize=100)),
        ("GET", "/v2/crm/contacts/summary/{id}", api.get("/v2/crm/contacts/summary/7")),
        ("GET", "/v2/crm/contacts/search", api.get("/v2/crm/contacts/search", PageSize=100)),
        ("GET", "/v2/finance/contracts/summary", api.get("/v2/finance/contracts/summary", PageSize=100)),
        ("GET", "/v2/finance/contracts/lookup", api.get("/v2/finance/contracts/lookup", AccountId=3)),
        ("GET", "/v2/finance/invoices/summary", api.get("/v2/finance/invoices/summary", PageSize=100)),
        ("GET", "/v2/finance/invoices/{id}", api.get("/v2/finance/invoices/11")),
        ("POST", "/v2/finance/invoices/details", api.post("/v2/finance/invoices/details", {"PageSize": 100})),
        ("POST", "/v2/servicedesk/tickets/search", api.post("/v2/servicedesk/tickets/search", {"PageSize": 100})),
        ("GET", "/v2/servicedesk/tickets/{ticketId}", api.get("/v2/servicedesk/tickets/3")),
        ("POST", "/v2/servicedesk/tickets", ticket),
        ("GET", "/v2/system/queues/lookup", api.get("/v2/system/queues/lookup")),
        ("GET", "/v2/system/priorities/lookup", api.get("/v2/system/priorities/lookup")),
        ("GET", "/v2/system/statuses/lookup", api.get("/v2/system/statuses/lookup")),
        ("GET", "/v2/system/issuetypes/lookup", api.get("/v2/system/issuetypes/lookup")),
        (
            "GET",
            "/v2/system/issuetypes/{issueTypeId}/issuesubtypes/lookup",
            api.get("/v2/system/issuetypes/2/issuesubtypes/lookup"),
        ),
        ("GET", "/v2/system/lookup/{tableName}", api.get("/v2/system/lookup/TicketSource")),
        ("GET", "/v2/system/attachments/{moduleId}/{objectId}", att),
        # an error envelope must validate too
        ("GET", "/v2/finance/invoices/{id}", api.get("/v2/finance/invoices/999999")),
    ]


def test_responses_match_openapi_document(api: Api, definitions: dict[str, Any]) -> None:
    failures = []
    for method, path, resp in _cases(api):
        body = resp.json()
        errors = sorted(_validator(definitions, method, path).iter_errors(body), key=str)
        if errors:
            failures.append(f"{method} {path}: {errors[0].message} at {list(errors[0].absolute_path)}")
        if isinstance(body, dict) and body.get("success") is not False:
            assert resp.status_code == 200, (path, resp.text)
    assert not failures, "\n".join(failures)


def test_every_route_is_in_the_document() -> None:
    from bms_sandbox import api as api_module
    from bms_sandbox.app import Sandbox
    from bms_sandbox.data import Options

    app = Sandbox(Options(accounts=1))
    api_module.register(app)
    for route in app.routes:
        assert route.method.lower() in document()["paths"][route.template], route.template
