"""Transport-independent core: requests, responses, clock, OAuth state, limits, faults, log.

Invariants:

* One `Sandbox` per process; handlers run on many threads and take `self.lock` for
  shared state (grants, tokens, limits, log). Organisation data has its own lock.
* Time comes only from `self.clock` (injectable, and skewable or frozen through the
  control API): token expiry, rate-limit windows and UpdatedDateUTC of changes all use it.
* Per-tenant limits count the Accounting API calls that passed authentication; a call
  refused with 429 is not counted. The concurrency slot is held for the whole handler
  (including injected latency), so `latency_ms` makes the concurrent limit testable.
* Secrets (client secrets, tokens) are never logged; the request log keeps method,
  path template, tenant and status only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from bms_sandbox.data import Options as BmsOptions

from .data import Org, OrgOptions, ms_date

API_BASE = "/api.xro/2.0"
IDENTITY_PATHS = ("/connect/", "/identity/")
ACCESS_TOKEN_LIFETIME = 30 * 60
REFRESH_TOKEN_LIFETIME = 60 * 86400  # unused refresh tokens expire after 60 days
REFRESH_GRACE = 30 * 60  # a used refresh token may be retried for 30 minutes
CODE_LIFETIME = 5 * 60
IDEMPOTENCY_TTL = 24 * 3600
DEFAULT_CLIENT_ID = "SANDBOXDEMOCLIENT0000000000000000"
DEFAULT_CLIENT_SECRET = "sandbox-demo-client-secret"
PROVIDER_NAME = "ConnectBooster Xero Sandbox"


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

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters keyed by lower-cased name."""
        if self._query is None:
            q: dict[str, list[str]] = {}
            for k, vs in parse_qs(self.query_string, keep_blank_values=True).items():
                q.setdefault(k.lower(), []).extend(vs)
            self._query = q
        return self._query

    def param(self, name: str) -> str | None:
        vs = self.query.get(name.lower())
        return vs[-1] if vs else None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, vs in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items():
            out[k] = vs[-1]
        return out

    def form_multi(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode(), headers=dict(headers or {}))


def text_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, text.encode(), content_type)


def html_response(status: int, html: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, html.encode(), "text/html; charset=utf-8", dict(headers or {}))


def redirect(location: str) -> Response:
    return Response(302, b"", "text/plain; charset=utf-8", {"Location": location, "Cache-Control": "no-store"})


class ApiError(Exception):
    """Raised by handlers: carries the complete error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    """Xero's problem-details body (401/403/429/5xx of the API gateway)."""
    body = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(random_guid()),
        "Extensions": {},
    }
    return json_response(status, body, headers)


def xero_error(status: int, number: int, type_: str, message: str, elements: list[Any] | None = None) -> Response:
    """The Accounting API's error body (`Error` in the document)."""
    body: dict[str, Any] = {"ErrorNumber": number, "Type": type_, "Message": message}
    if elements is not None:
        body["Elements"] = elements
    return json_response(status, body)


def validation_error(elements: list[dict[str, Any]]) -> ApiError:
    return ApiError(xero_error(400, 10, "ValidationException", "A validation exception occurred", elements))


def oauth_error(error: str, description: str | None = None, status: int = 400) -> ApiError:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return ApiError(json_response(status, body, {"Cache-Control": "no-store"}))


def not_found() -> ApiError:
    return ApiError(text_response(404, "The resource you're looking for cannot be found"))


def random_guid() -> str:
    import uuid

    return str(uuid.uuid4())


# ---------------------------------------------------------------------- clock
class Clock:
    """The sandbox's time: wall clock + offset, or frozen at an instant (tests advance it)."""

    def __init__(self, offset: float = 0.0, frozen: float | None = None) -> None:
        self.offset = offset
        self.frozen = frozen
        self._lock = threading.Lock()

    def now(self) -> float:
        f = self.frozen
        return f if f is not None else time.time() + self.offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self.frozen is not None:
                self.frozen += seconds
            else:
                self.offset += seconds

    def set(self, offset: float = 0.0, frozen: float | None = None) -> None:
        with self._lock:
            self.offset, self.frozen = offset, frozen

    def state(self) -> dict[str, Any]:
        return {"offset_seconds": self.offset, "frozen_at": self.frozen, "now": self.now()}


# ---------------------------------------------------------------------- options
@dataclass
class Options:
    # the BMS tenant the main organisation is derived from (same meaning as bms_sandbox's)
    seed: int = 1
    accounts: int = 25
    contacts_per_account: int = 3
    contracts_per_account: int = 2
    invoices_per_account: int = 12
    lines_per_invoice: int = 3
    tenant: str = "Demo MSP"
    anchor: str | None = None
    extra_tenants: int = 1  # small extra organisations, to test grants covering several tenants
    minute_limit: int = 60
    day_limit: int = 5000
    concurrent_limit: int = 5
    app_minute_limit: int = 10_000

    def bms_options(self, index: int = 0) -> BmsOptions:
        if index == 0:
            return BmsOptions(
                seed=self.seed,
                accounts=self.accounts,
                contacts_per_account=self.contacts_per_account,
                contracts_per_account=self.contracts_per_account,
                invoices_per_account=self.invoices_per_account,
                lines_per_invoice=self.lines_per_invoice,
                tenant=self.tenant,
                anchor=self.anchor,
            )
        return BmsOptions(seed=self.seed * 1000 + index, accounts=4, invoices_per_account=3, anchor=self.anchor)


# ---------------------------------------------------------------------- OAuth state
@dataclass
class Client:
    client_id: str
    client_secret: str
    name: str = "ConnectBooster Portal (sandbox)"
    redirect_uris: list[str] | None = None  # None: any http(s) URI on 127.0.0.1 / localhost


@dataclass
class Connection:
    id: str
    tenant_id: str
    auth_event_id: str
    created: float
    updated: float


@dataclass
class Grant:
    """What one consent gave one client: scopes and the connected tenants."""

    id: str
    client_id: str
    scopes: list[str]
    connections: dict[str, Connection]  # tenant id -> connection
    user_id: str
    revoked: bool = False


@dataclass
class AuthCode:
    grant: Grant
    client_id: str
    redirect_uri: str
    expires: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False


@dataclass
class AccessToken:
    grant: Grant
    expires: float
    used: int = 0


@dataclass
class RefreshToken:
    grant: Grant
    client_id: str
    expires: float
    used_at: float | None = None
    successor: str | None = None
    revoked: bool = False


# ---------------------------------------------------------------------- faults, limits
FAULT_DEFAULTS: dict[str, Any] = {
    "error_rate": 0.0,
    "error_status": 503,
    "rate_limit_rate": 0.0,  # 429 storm
    "rate_limit_problem": "minute",
    "retry_after": 1,
    "drop_rate": 0.0,  # connection closed, nothing processed
    "lost_answer_rate": 0.0,  # request processed, then the connection is closed
    "latency_ms": 0,
    "token_lifetime_seconds": ACCESS_TOKEN_LIFETIME,
    "token_max_requests": 0,  # an access token dies after N API calls (0: never)
    "refresh_grace_seconds": REFRESH_GRACE,
    "fault_seed": 0,
    "paths": None,  # path prefixes random faults apply to (None: all but identity/control)
    "include_auth": False,  # identity endpoints (/connect/, /identity/) get random faults too
}
LIMIT_KEYS = ("minute", "day", "concurrent", "app_minute")


@dataclass
class Usage:
    minute: deque[float] = field(default_factory=deque)
    day: deque[float] = field(default_factory=deque)
    inflight: int = 0


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Callable[..., Response]
    auth: str  # "none" | "bearer" | "tenant"
    scopes: tuple[str, ...] = ()


def compile_template(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}/?$", re.IGNORECASE)


@dataclass
class Ctx:
    """What a handler gets besides the request."""

    app: Sandbox
    params: dict[str, str]
    grant: Grant | None = None
    org: Org | None = None


class Sandbox:
    """All server state. One instance per process; handlers run on many threads."""

    def __init__(self, opts: Options, clock: Clock | None = None) -> None:
        self.opts = opts
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.routes: list[Route] = []
        self.orgs: list[Org] = []
        for k in range(1 + max(0, opts.extra_tenants)):
            name = opts.tenant if k == 0 else f"{opts.tenant} Holdings" + ("" if k == 1 else f" {k}")
            org = Org(OrgOptions(opts.bms_options(k), name, k))
            org.now = self.now  # type: ignore[method-assign]
            self.orgs.append(org)
        self.org_by_tenant = {o.tenant_id: o for o in self.orgs}
        self.reset()

    # -------------------------------------------------------------- state
    def reset(self) -> None:
        with self.lock:
            for org in self.orgs:
                org.reset()
            self.clients: dict[str, Client] = {
                DEFAULT_CLIENT_ID: Client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, "ConnectBooster Portal (demo)")
            }
            self.codes: dict[str, AuthCode] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.grants: dict[str, Grant] = {}
            self.faults: dict[str, Any] = dict(FAULT_DEFAULTS)
            self.fault_rng = random.Random(0)
            self.limits = {
                "minute": self.opts.minute_limit,
                "day": self.opts.day_limit,
                "concurrent": self.opts.concurrent_limit,
                "app_minute": self.opts.app_minute_limit,
            }
            self.usage: dict[str, Usage] = {}
            self.app_minute: deque[float] = deque()
            self.request_counts: Counter[str] = Counter()
            self.request_log: deque[dict[str, Any]] = deque(maxlen=5000)
            self.idempotency: dict[tuple[str, str, str, str], tuple[str, float, Response]] = {}
            self.clock.set()

    def now(self) -> int:
        return int(self.clock.now())

    @property
    def main(self) -> Org:
        return self.orgs[0]

    # -------------------------------------------------------------- configuration
    def set_faults(self, cfg: dict[str, Any]) -> dict[str, Any]:
        unknown = set(cfg) - set(FAULT_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        with self.lock:
            self.faults = {**FAULT_DEFAULTS, **cfg}
            self.fault_rng = random.Random(self.faults["fault_seed"])
        return self.faults

    def set_limits(self, cfg: dict[str, Any]) -> dict[str, int]:
        unknown = set(cfg) - set(LIMIT_KEYS)
        if unknown:
            raise ValueError(f"unknown limit keys: {sorted(unknown)}; known: {list(LIMIT_KEYS)}")
        with self.lock:
            for k, v in cfg.items():
                if int(v) < 0:
                    raise ValueError(f"limit {k} must be >= 0")
                self.limits[k] = int(v)
        return dict(self.limits)

    def _fault_applies(self, path: str) -> bool:
        low = path.lower()
        if low.startswith(IDENTITY_PATHS) and not self.faults["include_auth"]:
            return False
        prefixes = self.faults["paths"]
        if prefixes is None:
            return low.startswith((API_BASE.lower(), "/connections")) or low.startswith(IDENTITY_PATHS)
        return any(low.startswith(p.lower()) for p in prefixes)

    # -------------------------------------------------------------- tokens
    def _jwt(self, claims: dict[str, Any]) -> str:
        # JWT-shaped like Xero's (header.payload.signature); the signature is random, not verifiable.
        head = {"alg": "RS256", "kid": "sandbox", "typ": "JWT"}
        parts = [base64.urlsafe_b64encode(json.dumps(x).encode()).rstrip(b"=").decode() for x in (head, claims)]
        return ".".join(parts) + "." + secrets.token_urlsafe(32)

    def issue_tokens(self, grant: Grant, client_id: str, with_id_token: bool = True) -> dict[str, Any]:
        """A new access token (and refresh token with offline_access). Caller holds the lock."""
        now = self.clock.now()
        life = int(self.faults["token_lifetime_seconds"])
        claims = {
            "nbf": int(now),
            "exp": int(now) + life,
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": client_id,
            "sub": grant.user_id,
            "auth_time": int(now),
            "xero_userid": grant.user_id,
            "authentication_event_id": next(iter(grant.connections.values())).auth_event_id
            if grant.connections
            else grant.id,
            "jti": secrets.token_hex(16),
            "scope": grant.scopes,
        }
        access = self._jwt(claims)
        self.access_tokens[access] = AccessToken(grant, now + life)
        out: dict[str, Any] = {}
        if with_id_token and "openid" in grant.scopes:
            out["id_token"] = self._jwt(
                {
                    "nbf": int(now),
                    "exp": int(now) + 300,
                    "iss": "https://identity.xero.com",
                    "aud": client_id,
                    "sub": grant.user_id,
                    "email": "owner@demo-msp.example" if "email" in grant.scopes else None,
                    "given_name": "Demo",
                    "family_name": "Owner",
                }
            )
        out.update({"access_token": access, "expires_in": life, "token_type": "Bearer"})
        if "offline_access" in grant.scopes:
            refresh = secrets.token_hex(32)
            self.refresh_tokens[refresh] = RefreshToken(grant, client_id, now + REFRESH_TOKEN_LIFETIME)
            out["refresh_token"] = refresh
        out["scope"] = " ".join(grant.scopes)
        return out

    def revoke_grant(self, grant: Grant) -> None:
        """Caller holds the lock: the grant's tokens die and its connections go."""
        grant.revoked = True
        grant.connections.clear()
        for tok, at in list(self.access_tokens.items()):
            if at.grant is grant:
                del self.access_tokens[tok]
        for rt in self.refresh_tokens.values():
            if rt.grant is grant:
                rt.revoked = True

    def expire_access_tokens(self) -> int:
        with self.lock:
            now = self.clock.now()
            n = 0
            for at in self.access_tokens.values():
                if at.expires > now:
                    at.expires = now
                    n += 1
            return n

    def new_grant(self, client_id: str, scopes: list[str], tenant_ids: list[str]) -> Grant:
        """Caller holds the lock."""
        now = self.clock.now()
        auth_event = random_guid()
        grant = Grant(
            random_guid(),
            client_id,
            scopes,
            {t: Connection(random_guid(), t, auth_event, now, now) for t in tenant_ids},
            user_id=self.main.guids.make("user", 1),
        )
        self.grants[grant.id] = grant
        return grant

    def authenticate(self, req: Request) -> Grant:
        auth = req.headers.get("authorization", "")
        scheme, _, tok = auth.partition(" ")
        tok = tok.strip()
        unauthorized = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if scheme.lower() != "bearer" or not tok:
            raise ApiError(problem(401, "Unauthorized", "AuthenticationUnsuccessful", unauthorized))
        with self.lock:
            at = self.access_tokens.get(tok)
            if at is None or at.grant.revoked:
                raise ApiError(problem(401, "Unauthorized", "AuthenticationUnsuccessful", unauthorized))
            limit = int(self.faults["token_max_requests"] or 0)
            now = self.clock.now()
            if now >= at.expires or (limit and at.used >= limit):
                when = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(min(now, at.expires)))
                why = f"The token expired at '{when}'"
                hdr = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{why}"'}
                raise ApiError(problem(401, "Unauthorized", f"TokenExpired: token expired at {when}", hdr))
            at.used += 1
            return at.grant

    # -------------------------------------------------------------- limits
    def _acquire(self, tenant_id: str) -> tuple[dict[str, str], Response | None]:
        """Count one call against the tenant's limits: (headers, refusal or None)."""
        with self.lock:
            now = self.clock.now()
            u = self.usage.setdefault(tenant_id, Usage())
            while u.minute and u.minute[0] <= now - 60:
                u.minute.popleft()
            while u.day and u.day[0] <= now - 86400:
                u.day.popleft()
            while self.app_minute and self.app_minute[0] <= now - 60:
                self.app_minute.popleft()
            lim = self.limits
            problem_kind, retry = None, 0
            if u.inflight >= lim["concurrent"]:
                problem_kind, retry = "concurrent", 1
            elif len(u.minute) >= lim["minute"]:
                problem_kind = "minute"
                retry = math.ceil(u.minute[0] + 60 - now) if u.minute else 60
            elif len(u.day) >= lim["day"]:
                problem_kind = "day"
                retry = math.ceil(u.day[0] + 86400 - now) if u.day else 86400
            elif len(self.app_minute) >= lim["app_minute"]:
                problem_kind = "appminute"
                retry = math.ceil(self.app_minute[0] + 60 - now) if self.app_minute else 60
            if problem_kind is None:
                u.minute.append(now)
                u.day.append(now)
                self.app_minute.append(now)
                u.inflight += 1
            headers = {
                "X-DayLimit-Remaining": str(max(0, lim["day"] - len(u.day))),
                "X-MinLimit-Remaining": str(max(0, lim["minute"] - len(u.minute))),
                "X-AppMinLimit-Remaining": str(max(0, lim["app_minute"] - len(self.app_minute))),
            }
        if problem_kind is not None:
            refusal = problem(
                429,
                "Too Many Requests",
                f"Rate limit exceeded: {problem_kind}",
                {**headers, "Retry-After": str(max(1, retry)), "X-Rate-Limit-Problem": problem_kind},
            )
            return headers, refusal
        return headers, None

    def _release(self, tenant_id: str) -> None:
        with self.lock:
            self.usage[tenant_id].inflight -= 1

    # -------------------------------------------------------------- dispatch
    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        other = False
        for r in self.routes:
            m = r.regex.match(path)
            if m:
                if r.method == method or (method == "HEAD" and r.method == "GET"):
                    return r, m.groupdict(), True
                other = True
        return None, {}, other

    def log(self, req: Request, endpoint: str, tenant: str | None, status: int | str) -> None:
        with self.lock:
            self.request_counts[endpoint] += 1
            self.request_log.append(
                {"at": self.clock.now(), "endpoint": endpoint, "path": req.path, "tenant": tenant, "status": status}
            )

    def handle(self, req: Request) -> Response | type[DROP]:
        route, params, other = self.match(req.method, req.path)
        endpoint = f"{req.method} {route.template if route else req.path}"
        tenant_hdr = req.headers.get("xero-tenant-id")
        with self.lock:
            faults = self.faults
            roll = self.fault_rng.random() if self._fault_applies(req.path) else None
        in_slot = route is not None and route.auth == "tenant"
        if faults["latency_ms"] and not in_slot:
            threading.Event().wait(faults["latency_ms"] / 1000)
        lost = False
        if roll is not None:
            acc = 0.0
            for kind in ("drop_rate", "error_rate", "rate_limit_rate", "lost_answer_rate"):
                acc += float(faults[kind] or 0)
                if roll < acc:
                    if kind == "drop_rate":
                        self.log(req, endpoint, tenant_hdr, "dropped")
                        return DROP
                    if kind == "error_rate":
                        st = int(faults["error_status"])
                        self.log(req, endpoint, tenant_hdr, st)
                        title = "Service Unavailable" if st == 503 else "Internal Server Error"
                        return problem(st, title, "Injected fault")
                    if kind == "rate_limit_rate":
                        self.log(req, endpoint, tenant_hdr, 429)
                        return problem(
                            429,
                            "Too Many Requests",
                            "Injected fault",
                            {
                                "Retry-After": str(int(faults["retry_after"])),
                                "X-Rate-Limit-Problem": str(faults["rate_limit_problem"]),
                            },
                        )
                    lost = True
                    break
        resp = self._dispatch(req, route, params, other, faults)
        self.log(req, endpoint, tenant_hdr, "lost" if lost else resp.status)
        return DROP if lost else resp

    def _dispatch(
        self, req: Request, route: Route | None, params: dict[str, str], other: bool, faults: dict[str, Any]
    ) -> Response:
        if route is None:
            if other:
                return text_response(405, "Method Not Allowed")
            return not_found().response
        req.route = route
        ctx = Ctx(self, params)
        try:
            if route.auth == "none":
                return route.handler(ctx, req)
            ctx.grant = self.authenticate(req)
            if route.scopes and not set(route.scopes) & set(ctx.grant.scopes):
                return problem(401, "Unauthorized", "AuthorizationUnsuccessful")
            if route.auth == "bearer":
                return route.handler(ctx, req)
            tenant = (req.headers.get("xero-tenant-id") or "").strip().lower()
            org = self.org_by_tenant.get(tenant)
            if org is None or tenant not in ctx.grant.connections:
                return problem(403, "Forbidden", "AuthenticationUnsuccessful")
            ctx.org = org
        except ApiError as e:
            return e.response
        headers, refusal = self._acquire(org.tenant_id)
        if refusal is not None:
            return refusal
        try:
            if faults["latency_ms"]:
                threading.Event().wait(faults["latency_ms"] / 1000)
            resp = self._idempotent(ctx, req, route)
        finally:
            self._release(org.tenant_id)
        resp.headers.update(headers)
        return resp

    def _idempotent(self, ctx: Ctx, req: Request, route: Route) -> Response:
        key = req.headers.get("idempotency-key")
        if not key or req.method not in ("PUT", "POST"):
            return self._call(ctx, req, route)
        if len(key) > 128:
            return xero_error(400, 10, "ValidationException", "Idempotency-Key must be 128 characters or fewer")
        assert ctx.org is not None
        ident = (ctx.org.tenant_id, req.method, req.path.lower(), key)
        digest = hashlib.sha256(req.body + b"?" + req.query_string.encode()).hexdigest()
        with ctx.org.lock:  # the same key twice at once: the second waits and replays
            now = self.clock.now()
            hit = self.idempotency.get(ident)
            if hit is not None and now - hit[1] < IDEMPOTENCY_TTL:
                if hit[0] != digest:
                    return xero_error(
                        400, 10, "ValidationException", "Idempotency-Key was already used for a different request"
                    )
                prev = hit[2]
                return Response(
                    prev.status, prev.body, prev.content_type, {**prev.headers, "Idempotent-Replayed": "true"}
                )
            resp = self._call(ctx, req, route)
            if resp.status < 500:
                self.idempotency[ident] = (digest, now, resp)
            return resp

    def _call(self, ctx: Ctx, req: Request, route: Route) -> Response:
        try:
            return route.handler(ctx, req)
        except ApiError as e:
            return e.response
        except (ValueError, json.JSONDecodeError) as e:
            return xero_error(400, 14, "PostDataInvalidException", str(e))


def envelope(key: str, items: list[dict[str, Any]], now: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Xero's response wrapper (the four envelope fields appear in every example, not in the schemas)."""
    body: dict[str, Any] = {
        "Id": random_guid(),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": ms_date(now, offset=False),
    }
    if extra:
        body.update(extra)
    body[key] = items
    return body
