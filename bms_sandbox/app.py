"""Transport-independent core: request/response types, auth, rights, faults, limits, log."""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from . import anomalies, contact_anomalies, home
from . import constants as C
from .data import Options, Tenant, Ts, json_default
from .schema import ResponseShape, project, response_shape

AUTH_PATHS = ("/v2/security/authenticate", "/v2/security/refreshtoken")


class DROP:
    """Sentinel response: close the connection without answering."""


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    route: Route | None = None
    _query: dict[str, list[str]] | None = None
    _json: Any = None

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters keyed by lower-cased name (BMS matches names case-insensitively)."""
        if self._query is None:
            q: dict[str, list[str]] = {}
            for k, vs in parse_qs(self.query_string, keep_blank_values=True).items():
                q.setdefault(k.lower(), []).extend(vs)
            self._query = q
        return self._query

    def json(self) -> Any:
        if self._json is None:
            self._json = json.loads(self.body or b"{}")
        return self._json

    def paging_value(self, name: str) -> int | None:
        """``pagenumber`` or ``pagesize`` as a listing request sends it (query, or JSON body
        for the POST listings), if any. Reads what the handler already parsed."""
        values = self.query.get(name) if self.query_string else None
        raw: Any = values[-1] if values else None
        if raw is None and self.method == "POST" and self.body[:1] == b"{":
            try:
                body = self.json()
            except ValueError:
                return None
            if isinstance(body, dict):
                raw = next((v for k, v in body.items() if str(k).lower() == name), None)
        try:
            return int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def form(self) -> dict[str, str]:
        """Form fields (urlencoded or multipart), keyed by lower-cased name."""
        ctype = self.headers.get("content-type", "")
        out: dict[str, str] = {}
        if ctype.lower().startswith("multipart/"):
            msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + self.body)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    payload = part.get_payload(decode=True) or b""
                    out[str(name).lower()] = payload.decode("utf-8", "replace")
        else:
            for k, vs in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items():
                out[k.lower()] = vs[-1]
        return out


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, default=json_default, separators=(",", ":")).encode()
    return Response(status, body, headers=headers or {})


def error_body(code: int, message: str, details: str | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details, "stackStrace": None, "subErrors": []},
        "result": None,
    }


def error_response(
    status: int, code: int, message: str, details: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return json_response(status, error_body(code, message, details), headers)


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def ok(shape: ResponseShape, result: Any, total: int | None = None) -> Response:
    """Wrap `result` (internal records) in the document's envelope for this endpoint."""
    if shape.item:
        if shape.is_list:
            result = [project(shape.item, r) for r in result]
        elif result is not None:
            result = project(shape.item, result)
    if shape.envelope is None:
        return json_response(200, result)  # the document says this endpoint returns a bare DTO
    body: dict[str, Any] = {"success": True, "error": None, "result": result}
    if shape.paged:
        body["totalRecords"] = total if total is not None else len(result or [])
    return json_response(200, body)


# ---------------------------------------------------------------------- users + tokens
def full_rights() -> dict[str, dict[str, bool]]:
    return {m: {"view": True, "modify": True, "delete": True} for m in C.MODULES}


@dataclass
class User:
    user_id: int
    username: str
    password: str
    has_api_access: bool = True
    rights: dict[str, dict[str, bool]] = field(default_factory=full_rights)
    full_name: str = "API User"

    def can(self, module: str, action: str = "view") -> bool:
        return bool(self.rights.get(module, {}).get(action, False))


@dataclass
class Token:
    username: str
    refresh: str
    expires: int
    refresh_expires: int
    used: int = 0


# ---------------------------------------------------------------------- faults
FAULT_DEFAULTS: dict[str, Any] = {
    "error_rate": 0.0,
    "error_status": 503,
    "rate_limit_rate": 0.0,
    "retry_after": 1,
    "success_false_rate": 0.0,
    "drop_rate": 0.0,
    "drop_after_rate": 0.0,
    "latency_ms": 0,
    "token_lifetime_seconds": 3600,
    "refresh_token_lifetime_seconds": 7 * 86400,
    "token_max_requests": 0,
    "hourly_limit": None,
    "fault_seed": 0,
    "paths": None,
    "include_auth": False,
}


# ---------------------------------------------------------------------- anomalies
# Opt-in odd data shapes (PUT /_sandbox/anomalies), off by default; each block owns its keys.
ANOMALY_DEFAULTS: dict[str, Any] = {
    **contact_anomalies.DEFAULTS,  # multi_address_emails, newline_names
}


@dataclass
class Route:
    method: str
    template: str  # the document's path template
    regex: re.Pattern[str]
    handler: Callable[..., Response]
    module: str | None  # required module (None: no rights check)
    action: str = "view"
    auth: bool = True

    @property
    def shape(self) -> ResponseShape:
        return response_shape(self.method, self.template)


def compile_template(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}/?$", re.IGNORECASE)


class Sandbox:
    """All server state. One instance per process; handlers run on many threads."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.tenant = Tenant(opts)
        self.lock = threading.RLock()
        self.routes: list[Route] = []
        self.xero_importer: Any = None  # xero_import.XeroImporter, set by server.make_server
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tenant.reset()
            self.users: dict[str, User] = {}
            for n, (u, p) in enumerate(self.opts.users, start=1):
                self.users[u.lower()] = User(n, u, p)
            self.tokens: dict[str, Token] = {}
            self.refresh_tokens: dict[str, str] = {}  # refresh -> access
            self.faults: dict[str, Any] = dict(FAULT_DEFAULTS)
            self.fault_rng = random.Random(0)
            self.request_log: Counter[str] = Counter()
            self.faults_fired: Counter[str] = Counter()  # "<fault> <method> <path template>" -> n
            # endpoint -> the page numbers asked, in order (listings only)
            self.request_pages: defaultdict[str, list[int]] = defaultdict(list)
            self.anomalies: dict[str, dict[str, Any]] = {}  # answer shapes (anomalies.py): off by default
            self.hourly: Counter[tuple[str, int]] = Counter()
            self._hour = -1
            self.ticket_seq: Counter[str] = Counter()  # tickets created per day (ticket numbers)
            self.ticket_day_base: dict[int, int] = {}

    def now(self) -> int:
        return self.tenant.now()

    # -------------------------------------------------------------- faults
    def set_faults(self, cfg: dict[str, Any]) -> dict[str, Any]:
        unknown = set(cfg) - set(FAULT_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        with self.lock:
            self.faults = {**FAULT_DEFAULTS, **cfg}
            self.fault_rng = random.Random(self.faults["fault_seed"])
        return self.faults

    def set_anomalies(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Replace the anomaly set; modes not given are off. Two kinds: data shapes
        (contact_anomalies.py: generated contacts and accounts, cached records rebuilt) and answer
        shapes (anomalies.py: dates, amounts, descriptions, page sizes as served)."""
        unknown = set(cfg) - set(ANOMALY_DEFAULTS) - set(anomalies.CHECKS)
        if unknown:
            known = sorted({*ANOMALY_DEFAULTS, *anomalies.CHECKS})
            raise ValueError(f"unknown anomaly keys: {sorted(unknown)}; known: {known}")
        data_shapes = {k: v for k, v in cfg.items() if k in ANOMALY_DEFAULTS}
        modes = anomalies.configure({k: v for k, v in cfg.items() if k not in ANOMALY_DEFAULTS})
        with self.tenant.lock:
            self.tenant.anomalies = {k: v for k, v in data_shapes.items() if v}
            self.tenant.bump()
        with self.lock:
            self.anomalies = modes
        return self.anomalies_shown()

    def anomalies_shown(self) -> dict[str, Any]:
        """The modes switched on (an empty object when none is)."""
        return {**self.tenant.anomalies, **anomalies.shown(self.anomalies)}

    def hourly_limit(self) -> int:
        lim = self.faults.get("hourly_limit")
        return int(lim if lim is not None else self.opts.hourly_limit)

    def _fault_applies(self, path: str) -> bool:
        low = path.lower()
        if low.startswith(AUTH_PATHS) and not self.faults["include_auth"]:
            return False
        prefixes = self.faults["paths"]
        return prefixes is None or any(low.startswith(p.lower()) for p in prefixes)

    # -------------------------------------------------------------- tokens
    def issue_token(self, username: str) -> dict[str, Any]:
        now = self.now()
        life, rlife = int(self.faults["token_lifetime_seconds"]), int(self.faults["refresh_token_lifetime_seconds"])
        payload = {"sub": username, "tenant": self.opts.tenant, "exp": now + life, "jti": secrets.token_hex(8)}
        # JWT-shaped (header.payload.signature) like live BMS; the signature is random, not verifiable.
        access = (
            ".".join(
                base64.urlsafe_b64encode(json.dumps(x).encode()).rstrip(b"=").decode()
                for x in ({"alg": "HS256", "typ": "JWT"}, payload)
            )
            + "."
            + secrets.token_urlsafe(32)
        )
        refresh = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[access] = Token(username.lower(), refresh, now + life, now + rlife)
            self.refresh_tokens[refresh] = access
        return {
            "accessToken": access,
            "refreshToken": refresh,
            "accessTokenExpireOn": Ts(now + life),
            "refreshTokenExpireOn": Ts(now + rlife),
        }

    def authenticate(self, req: Request) -> User:
        """Bearer token -> user; counts the request against token_max_requests."""
        auth = req.headers.get("authorization", "")
        scheme, _, tok = auth.partition(" ")
        if scheme.lower() != "bearer" or not tok.strip():
            raise ApiError(401, C.ERR_SECURITY, "Security Error", "Missing bearer token")
        with self.lock:
            t = self.tokens.get(tok.strip())
            if t is None:
                raise ApiError(401, C.ERR_SECURITY, "Security Error", "Invalid token")
            if self.now() >= t.expires:
                raise ApiError(401, C.ERR_SECURITY, "Security Error", "Token expired")
            limit = int(self.faults["token_max_requests"] or 0)
            if limit and t.used >= limit:
                raise ApiError(401, C.ERR_SECURITY, "Security Error", "Token expired")
            t.used += 1
            user = self.users.get(t.username)
        if user is None or not user.has_api_access:
            raise ApiError(401, C.ERR_SECURITY, "Security Error", "User no longer has API access")
        return user

    # -------------------------------------------------------------- dispatch
    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path_exists_for_other_method)."""
        other = False
        for r in self.routes:
            m = r.regex.match(path)
            if m:
                if r.method == method:
                    return r, m.groupdict(), True
                other = True
        return None, {}, other

    def handle(self, req: Request) -> Response | type[DROP]:
        if req.method == "GET" and req.path == "/":  # the front page (home.py), outside the API's log and faults
            return Response(200, home.page(self), "text/html; charset=utf-8")
        route, params, other = self.match(req.method, req.path)
        key = f"{req.method} {route.template if route else req.path}"
        with self.lock:
            self.request_log[key] += 1
            faults = self.faults
            # fault roll: one uniform draw per eligible request, so a fault_seed replays exactly
            roll = self.fault_rng.random() if self._fault_applies(req.path) else None
            hour = self.now() // 3600
            if hour != self._hour:  # per-hour window: forget earlier hours
                self.hourly.clear()
                self._hour = hour
            limited = False
            if route is not None:
                if self.hourly[(key, hour)] >= self.hourly_limit():
                    limited = True
                else:
                    self.hourly[(key, hour)] += 1
        if faults["latency_ms"]:
            threading.Event().wait(faults["latency_ms"] / 1000)
        if limited:
            wait = 3600 - self.now() % 3600
            return error_response(
                429,
                C.ERR_RATE_LIMIT,
                "API rate limit exceeded",
                f"More than {self.hourly_limit()} calls to {key} this hour",
                {"Retry-After": str(wait)},
            )
        drop_after = False
        if roll is not None:
            edges = (
                ("drop", faults["drop_rate"]),
                ("error", faults["error_rate"]),
                ("rate", faults["rate_limit_rate"]),
                ("false", faults["success_false_rate"]),
                ("drop_after", faults["drop_after_rate"]),
            )
            acc = 0.0
            for kind, p in edges:
                acc += float(p or 0)
                if roll < acc:
                    with self.lock:
                        self.faults_fired[f"{kind} {key}"] += 1
                    if kind == "drop":
                        return DROP
                    if kind == "error":
                        st = int(faults["error_status"])
                        return error_response(
                            st, st, "Service Unavailable" if st == 503 else "Server Error", "Injected fault"
                        )
                    if kind == "rate":
                        return error_response(
                            429,
                            C.ERR_RATE_LIMIT,
                            "Too Many Requests",
                            "Injected fault",
                            {"Retry-After": str(int(faults["retry_after"]))},
                        )
                    if kind == "false":
                        return error_response(
                            200, C.ERR_SERVER, "An error occurred while processing your request", "Injected fault"
                        )
                    drop_after = True
                    break
        if route is None:
            if other:
                return error_response(405, 405, "Method Not Allowed")
            return error_response(404, C.ERR_NOT_FOUND, "Not Found", f"No endpoint {req.method} {req.path}")
        try:
            user = self.authenticate(req) if route.auth else None
            if user is not None and route.module and not user.can(route.module, route.action):
                raise ApiError(
                    403, C.ERR_FORBIDDEN, f"Access denied: missing {route.module} {route.action.capitalize()} right"
                )
            req.route = route
            resp = route.handler(self, req, params, user)
        except ApiError as e:
            resp = error_response(e.status, e.code, e.message, e.details)
        except (ValueError, json.JSONDecodeError) as e:
            resp = error_response(400, C.ERR_VALIDATION, "Bad Request", str(e))
        number = req.paging_value("pagenumber")
        if number is not None:
            self.request_pages[key].append(number)
        modes = self.anomalies
        if modes and resp.status == 200 and resp.content_type.startswith("application/json"):
            resp.body = anomalies.apply_to_answer(modes, route.template, req, resp.body)
        return DROP if drop_after else resp
