"""Authentication, refresh, token expiry and rights, over real HTTP."""

from __future__ import annotations

from typing import Any

import requests

from bms_sandbox.constants import MAIN_MENU_IDS

from .conftest import Api

AUTH = "/v2/security/authenticate"


def _auth(sbx: Any, **fields: str) -> requests.Response:
    data = {"GrantType": "password", "UserName": sbx.username, "Password": sbx.password, "Tenant": sbx.tenant}
    data.update(fields)
    return requests.post(sbx.url + AUTH, data={k: v for k, v in data.items() if v is not None}, timeout=10)


def test_authenticate_form_encoded(bms_sandbox: Any) -> None:
    r = _auth(bms_sandbox)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["error"] is None
    assert set(body["result"]) == {"accessToken", "refreshToken", "accessTokenExpireOn", "refreshTokenExpireOn"}
    assert body["result"]["accessTokenExpireOn"].count("T") == 1


def test_authenticate_multipart_and_case_insensitive_fields(bms_sandbox: Any) -> None:
    files = {
        "granttype": (None, "password"),
        "USERNAME": (None, bms_sandbox.username),
        "Password": (None, bms_sandbox.password),
        "tenant": (None, bms_sandbox.tenant.lower()),
    }
    r = requests.post(bms_sandbox.url + AUTH, files=files, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["result"]["accessToken"]


def test_authenticate_failures_are_distinct(bms_sandbox: Any) -> None:
    missing_tenant = _auth(bms_sandbox, Tenant="")
    assert missing_tenant.status_code == 400
    assert missing_tenant.json()["error"]["message"] == "Tenant can't be empty"
    wrong_tenant = _auth(bms_sandbox, Tenant="Other MSP")
    wrong_password = _auth(bms_sandbox, Password="nope")
    bms_sandbox.control.add_user("noapi@demo.local", "pw", has_api_access=False)
    no_access = _auth(bms_sandbox, UserName="noapi@demo.local", Password="pw")
    no_grant = _auth(bms_sandbox, GrantType=None)
    errors = []
    for r in (wrong_tenant, wrong_password, no_access, no_grant):
        assert r.status_code in (400, 401)
        body = r.json()
        assert body["success"] is False and body["result"] is None
        assert set(body["error"]) == {"code", "message", "details", "stackStrace", "subErrors"}
        errors.append((body["error"]["code"], body["error"]["message"]))
    assert len(set(errors)) == 4
    assert wrong_password.status_code == 401 and no_access.status_code == 401
    assert "API access" in no_access.json()["error"]["message"]


def test_bearer_required(bms_sandbox: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer bogus"}, {"Authorization": "Basic abc"}):
        r = requests.get(bms_sandbox.url + "/v2/crm/accounts/summary", headers=headers, timeout=10)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == 978001
        assert r.json()["error"]["message"] == "Security Error"


def test_refresh_token(api: Api) -> None:
    tokens = api.login()
    r = api.session.post(
        api.url + "/v2/security/refreshtoken",
        data={"AccessToken": tokens["accessToken"], "RefreshToken": tokens["refreshToken"]},
    )
    assert r.status_code == 200, r.text
    new = r.json()["result"]
    assert new["accessToken"] != tokens["accessToken"]
    api.session.headers["Authorization"] = f"Bearer {new['accessToken']}"
    assert api.get("/v2/crm/accounts/summary").status_code == 200
    # refresh tokens are single-use; a wrong one is a 401
    again = api.session.post(
        api.url + "/v2/security/refreshtoken",
        data={"AccessToken": tokens["accessToken"], "RefreshToken": tokens["refreshToken"]},
    )
    assert again.status_code == 401 and again.json()["success"] is False
    missing = api.session.post(api.url + "/v2/security/refreshtoken", data={"RefreshToken": "x"})
    assert missing.status_code == 400


def test_token_expires_after_n_requests(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_faults(token_max_requests=5)
    codes = [api.get("/v2/system/priorities/lookup").status_code for _ in range(7)]
    assert codes == [200] * 5 + [401] * 2
    api.login()
    assert api.get("/v2/system/priorities/lookup").status_code == 200


def test_token_lifetime_from_faults(bms_sandbox: Any, api: Api) -> None:
    bms_sandbox.control.set_faults(token_lifetime_seconds=60)
    api.login()
    assert api.get("/v2/security/userinfo").status_code == 200
    bms_sandbox.control.set_clock_offset(120)  # the sandbox clock moves; the token is now expired
    r = api.get("/v2/security/userinfo")
    assert r.status_code == 401 and r.json()["error"]["code"] == 978001


def test_userinfo_rights(api: Api, bms_sandbox: Any) -> None:
    info = api.get("/v2/security/userinfo").json()["result"]
    rights = {r["mainMenuId"]: r for r in info["userAccessRights"]}
    assert set(rights) == set(MAIN_MENU_IDS.values())
    assert all(r["canView"] and r["canModify"] for r in rights.values())
    bms_sandbox.control.add_user(
        "clerk@demo.local", "pw", rights={"Finance": {"modify": False}, "ServiceDesk": {"view": False}}
    )
    api.login("clerk@demo.local", "pw")
    info = api.get("/v2/security/userinfo").json()["result"]
    rights = {r["mainMenuId"]: r for r in info["userAccessRights"]}
    assert rights[MAIN_MENU_IDS["Finance"]]["canView"] and not rights[MAIN_MENU_IDS["Finance"]]["canModify"]
    assert not rights[MAIN_MENU_IDS["ServiceDesk"]]["canView"]


def test_rights_enforced(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.add_user(
        "limited@demo.local",
        "pw",
        rights={
            "CRM": {"view": False},
            "Finance": {"view": False},
            "ServiceDesk": {"modify": False},
            "Admin": {"view": False},
        },
    )
    api.login("limited@demo.local", "pw")
    for path in (
        "/v2/crm/accounts/summary",
        "/v2/finance/invoices/summary",
        "/v2/system/queues/lookup",
        "/v2/system/attachments/9/1",
    ):
        r = api.get(path)
        assert r.status_code == 403, path
        assert r.json()["success"] is False
        assert "missing" in r.json()["error"]["message"]
    assert "CRM View" in api.get("/v2/crm/contacts/summary").json()["error"]["message"]
    assert api.post("/v2/servicedesk/tickets/search", {}).status_code == 200  # view is enough to read
    r = api.post("/v2/servicedesk/tickets", {"Title": "x"})
    assert r.status_code == 403 and "ServiceDesk Modify" in r.json()["error"]["message"]


def test_revoking_api_access_invalidates_tokens(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.add_user("temp@demo.local", "pw")
    api.login("temp@demo.local", "pw")
    assert api.get("/v2/crm/accounts/summary").status_code == 200
    bms_sandbox.control.add_user("temp@demo.local", "pw", has_api_access=False)
    assert api.get("/v2/crm/accounts/summary").status_code == 401
