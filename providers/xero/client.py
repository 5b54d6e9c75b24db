"""Xero client: the OAuth 2.0 identity endpoints and the Accounting API.

Plain Python (no Django), built from plain arguments. Two classes, because they hold different
secrets and live in different places:

- :class:`XeroIdentity` holds the app's client id and secret and speaks to Xero's identity service:
  the authorization URL, the code exchange, token refresh and revocation, and the list of
  connected organisations. It never stores tokens: each call returns a :class:`TokenSet` and the
  caller persists it. Refresh tokens rotate: ``refresh`` returns a NEW refresh token and the old one
  stops working (after a short grace period), so the caller must store the new token set before it
  uses the access token. A revoked, expired or already-rotated grant raises
  :class:`XeroGrantRevoked` ("Reconnect Xero").
- :class:`XeroClient` calls the Accounting API for one organisation (``tenant_id``). It never
  refreshes tokens itself: ``access_token_provider()`` returns a current access token (the Django
  side refreshes and shares tokens across workers). When Xero answers 401 the client asks once
  more with ``force_refresh=True`` and replays the request once (a 401 was not processed, so even
  a write is safe to replay); a second 401 raises :class:`XeroAuthError`.

Both share one request path (:mod:`.transport`): a pacer hook before every request, (connect,
read) timeouts, no redirects, capped bodies, jittered retries of idempotent requests only, every
failure mapped to one :class:`XeroError`. Writes (``create_payment``, ``reverse_payment``) are never
retried: they accept an ``idempotency_key`` (sent as ``Idempotency-Key``) so that the caller can
safely send the same write again later.

The rate-limit headers of every answer are in ``client.last_limits``. Not thread-safe: one client
per task or thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlencode

import requests

from .exceptions import (
    PermissionProblem,
    XeroAuthError,
    XeroBadResponse,
    XeroError,
    XeroGrantRevoked,
    XeroNotFound,
    XeroPermissionDenied,
    XeroValidationError,
)
from .transport import DEFAULT_MAX_RESPONSE_BYTES, Endpoint, RequestPacer, Transport, check_base_url
from .types import (
    Account,
    Connection,
    Contact,
    Fields,
    Invoice,
    Organisation,
    Page,
    Payment,
    PaymentDraft,
    RateLimits,
    TokenSet,
    format_modified_since,
)

logger = logging.getLogger("providers.xero")

T = TypeVar("T")

XERO_API_URL = "https://api.xero.com/api.xro/2.0"
IDENTITY_URL = "https://identity.xero.com"
AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
CONNECTIONS_URL = "https://api.xero.com/connections"

#: Scopes for apps created on or after 2 March 2026, which only get Xero's granular scopes
#: (``accounting.transactions`` was split into ``accounting.invoices``, ``accounting.payments``, ...).
#: Invoices and their PDFs need ``accounting.invoices``; payments ``accounting.payments``.
DEFAULT_SCOPES: tuple[str, ...] = (
    "offline_access",
    "accounting.invoices",
    "accounting.payments",
    "accounting.contacts",
    "accounting.settings.read",
)
#: The broad scopes of apps created before 2 March 2026 (accepted until September 2027).
LEGACY_SCOPES: tuple[str, ...] = (
    "offline_access",
    "accounting.transactions",
    "accounting.contacts",
    "accounting.settings.read",
)

#: Xero serves at most this many records per page unless ``pageSize`` says otherwise.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DEFAULT_PDF_LIMIT = 10 * 1024 * 1024

TOKEN = Endpoint("POST", "/connect/token")
REVOKE = Endpoint("POST", "/connect/revocation")
CONNECTIONS = Endpoint("GET", "/connections")

ORGANISATION = Endpoint("GET", "/Organisation")
ACCOUNTS = Endpoint("GET", "/Accounts")
CONTACTS = Endpoint("GET", "/Contacts")
CONTACT = Endpoint("GET", "/Contacts/{ContactID}")
INVOICES = Endpoint("GET", "/Invoices")
INVOICE = Endpoint("GET", "/Invoices/{InvoiceID}")
PAYMENTS = Endpoint("GET", "/Payments")
PAYMENT_CREATE = Endpoint("PUT", "/Payments")
PAYMENT_UPDATE = Endpoint("POST", "/Payments/{PaymentID}")


class AccessTokenProvider(Protocol):
    def __call__(self, *, force_refresh: bool = False) -> str:
        """A current access token; with ``force_refresh`` a newly refreshed one (the one in hand was
        refused). May raise a ``XeroError`` (e.g. :class:`XeroGrantRevoked`), passed on as is."""
        ...


# --- identity --------------------------------------------------------------------------------------


class XeroIdentity:
    """The OAuth 2.0 authorization-code flow of one Xero app (see the module docstring)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        identity_url: str = IDENTITY_URL,
        authorize_url: str = AUTHORIZE_URL,
        connections_url: str = CONNECTIONS_URL,
        timeout: float | tuple[float, float] = (5, 30),
        session: requests.Session | None = None,
        pacer: RequestPacer | None = None,
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.client_id = client_id
        self._client_secret = client_secret
        self.identity_url = check_base_url(identity_url, "identity_url")
        self.authorize_endpoint = check_base_url(authorize_url, "authorize_url")
        self.connections_url = check_base_url(connections_url, "connections_url")
        self._transport = Transport(
            timeout=timeout, session=session, pacer=pacer, max_attempts=max_attempts, sleep=sleep, clock=clock
        )
        self._transport.session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:
        return f"XeroIdentity(client_id={self.client_id!r}, identity_url={self.identity_url!r})"

    @property
    def last_limits(self) -> RateLimits | None:
        return self._transport.last_limits

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> XeroIdentity:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def authorize_url(self, redirect_uri: str, state: str, scopes: Sequence[str] = DEFAULT_SCOPES) -> str:
        """Where to send the admin's browser to connect an organisation. ``state`` must be an
        unguessable value tied to the admin's session, checked again on the redirect back."""
        if not state:
            raise ValueError("state is required (it protects the redirect back against CSRF)")
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
        }
        return f"{self.authorize_endpoint}?{urlencode(query, quote_via=quote)}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        """Trade the ``code`` of the redirect back for tokens. Never retried: a code works once."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._token_request(TOKEN, form, idempotent=False)

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new token set. Its ``refresh_token`` replaces the one given: store it before anything else.

        Retried on transient failures: Xero keeps the previous refresh token usable for a grace
        period, so a second try after a lost answer still succeeds."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token_request(TOKEN, form, idempotent=True)

    def revoke(self, refresh_token: str) -> None:
        """Revoke the grant (every connection made with it). Revoking a dead token succeeds too."""
        self._transport.request(
            REVOKE,
            self.identity_url + REVOKE.template,
            classify=_identity_error,
            read=lambda _r: None,
            form={"token": refresh_token},
            auth=(self.client_id, self._client_secret),
        )

    def connections(self, access_token: str, *, auth_event_id: str | None = None) -> list[Connection]:
        """The organisations this grant may reach (``tenant_id`` for :class:`XeroClient`).
        ``auth_event_id`` (from :attr:`TokenSet.auth_event_id`) narrows it to those just connected."""
        params = {"authEventId": auth_event_id} if auth_event_id else None
        try:
            payload = self._transport.request(
                CONNECTIONS,
                self.connections_url,
                classify=_api_error,
                read=self._transport.read_json,
                params=params,
                headers={"Authorization": f"Bearer {access_token}"},
            )
        except _Unauthorized:
            raise XeroAuthError("Xero rejected the access token; refresh it first.", status_code=401) from None
        if not isinstance(payload, list):
            raise XeroBadResponse("Unexpected answer shape from /connections: expected a list.")
        return _parse_all(payload, Connection.from_api, CONNECTIONS)

    def _token_request(self, ep: Endpoint, form: Mapping[str, str], *, idempotent: bool) -> TokenSet:
        payload = self._transport.request(
            ep,
            self.identity_url + ep.template,
            classify=_identity_error,
            read=self._transport.read_json,
            form=form,
            auth=(self.client_id, self._client_secret),
            idempotent=idempotent,
        )
        if not isinstance(payload, Mapping):
            raise XeroBadResponse("Unexpected answer from the Xero token endpoint.")
        try:
            return TokenSet.from_api(payload, datetime.fromtimestamp(self._transport.clock(), UTC))
        except ValueError:
            raise XeroBadResponse("The Xero token endpoint answered without an access token.") from None


def _identity_error(status: int, body: Any, _response: requests.Response) -> XeroError:
    """RFC 6749 token-endpoint errors: ``{"error": "invalid_grant"}`` and friends."""
    f = Fields(body if isinstance(body, Mapping) else None)
    code = (f.text("error") or "").strip()
    description = f.text("error_description")
    detail = f"{code}: {description}" if code and description else code or f"HTTP {status}"
    if code == "invalid_grant":
        return XeroGrantRevoked(
            f"The Xero authorization is no longer valid ({detail}); reconnect Xero.", status_code=status
        )
    if code in ("invalid_client", "unauthorized_client") or status in (401, 403):
        return XeroAuthError(f"Xero refused the app's client id or secret ({detail}).", status_code=status)
    return XeroBadResponse(f"The Xero identity service refused the request ({detail}).", status_code=status)


# --- accounting ------------------------------------------------------------------------------------


class _Unauthorized(XeroAuthError):
    """HTTP 401 on an API call: get a fresh token and replay once."""


class XeroClient:
    """The Accounting API for one organisation (see the module docstring)."""

    def __init__(
        self,
        api_base_url: str,
        access_token_provider: AccessTokenProvider | Callable[..., str],
        tenant_id: str,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        pacer: RequestPacer | None = None,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_rate_limit_wait: float = 60.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not tenant_id:
            raise ValueError("tenant_id is required")
        self.api_base_url = check_base_url(api_base_url, "api_base_url")
        self.tenant_id = tenant_id
        self._token_provider = access_token_provider
        self._transport = Transport(
            timeout=timeout,
            session=session,
            pacer=pacer,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_rate_limit_wait=max_rate_limit_wait,
            max_response_bytes=max_response_bytes,
            sleep=sleep,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"XeroClient(api_base_url={self.api_base_url!r}, tenant_id={self.tenant_id!r})"

    @property
    def last_limits(self) -> RateLimits | None:
        """``X-MinLimit-Remaining`` / ``X-DayLimit-Remaining`` / ``X-AppMinLimit-Remaining`` of the
        latest answer."""
        return self._transport.last_limits

    @property
    def request_counts(self) -> dict[str, int]:
        return self._transport.request_counts

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> XeroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- settings --------------------------------------------------------------------------------

    def get_organisation(self) -> Organisation:
        payload = self._call(ORGANISATION)
        return _one(payload, "Organisations", Organisation.from_api, ORGANISATION)

    def list_accounts(self, where: str | None = None) -> list[Account]:
        """The chart of accounts, e.g. ``where='Type=="BANK" AND Status=="ACTIVE"'``."""
        payload = self._call(ACCOUNTS, params=_params(where=where))
        return _parse_all(_records(payload, "Accounts", ACCOUNTS), Account.from_api, ACCOUNTS)

    # --- contacts --------------------------------------------------------------------------------

    def list_contacts(
        self,
        page: int = 1,
        where: str | None = None,
        ids: Sequence[str] | None = None,
        search_term: str | None = None,
        modified_since: datetime | None = None,
        *,
        page_size: int | None = None,
        include_archived: bool = False,
    ) -> Page[Contact]:
        params = _params(
            page=page,
            pageSize=page_size,
            where=where,
            IDs=_csv(ids),
            searchTerm=search_term,
            includeArchived=include_archived or None,
        )
        return self._page(CONTACTS, "Contacts", Contact.from_api, page, page_size, params, modified_since)

    def iter_contacts(self, **filters: Any) -> Iterator[Contact]:
        """Every contact matching the filters of :meth:`list_contacts`, page after page."""
        return self._iter(self.list_contacts, filters)

    def get_contact(self, contact_id: str) -> Contact:
        return _one(self._call(CONTACT, (contact_id,)), "Contacts", Contact.from_api, CONTACT)

    # --- invoices --------------------------------------------------------------------------------

    def list_invoices(
        self,
        page: int = 1,
        invoice_numbers: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        where: str | None = None,
        modified_since: datetime | None = None,
        *,
        contact_ids: Sequence[str] | None = None,
        page_size: int | None = None,
        summary_only: bool = False,
    ) -> Page[Invoice]:
        params = _params(
            page=page,
            pageSize=page_size,
            where=where,
            IDs=_csv(ids),
            InvoiceNumbers=_csv(invoice_numbers),
            ContactIDs=_csv(contact_ids),
            Statuses=_csv(statuses),
            summaryOnly=summary_only or None,
        )
        return self._page(INVOICES, "Invoices", Invoice.from_api, page, page_size, params, modified_since)

    def iter_invoices(self, **filters: Any) -> Iterator[Invoice]:
        """Every invoice matching the filters of :meth:`list_invoices`, page after page."""
        return self._iter(self.list_invoices, filters)

    def get_invoice(self, invoice_id: str) -> Invoice:
        return _one(self._call(INVOICE, (invoice_id,)), "Invoices", Invoice.from_api, INVOICE)

    def invoice_pdf(self, invoice_id: str, max_bytes: int = DEFAULT_PDF_LIMIT) -> bytes:
        """The invoice as Xero renders it (``GET /Invoices/{id}`` with ``Accept: application/pdf``)."""

        def read(response: requests.Response) -> bytes:
            body = self._transport.read_capped(response, max_bytes, what="invoice PDF")
            if not body.startswith(b"%PDF"):
                kind = response.headers.get("Content-Type", "unknown").split(";")[0]
                raise XeroBadResponse(f"Xero answered the invoice PDF request with {kind}, not a PDF.")
            return body

        return self._call(INVOICE, (invoice_id,), accept="application/pdf", read=read)

    # --- payments --------------------------------------------------------------------------------

    def list_payments(self, where: str | None = None, page: int | None = None) -> list[Payment]:
        """Payments, e.g. ``where='Invoice.InvoiceID==guid("…")'``; one page (100) when ``page`` is given."""
        payload = self._call(PAYMENTS, params=_params(where=where, page=page))
        return _parse_all(_records(payload, "Payments", PAYMENTS), Payment.from_api, PAYMENTS)

    def create_payment(self, draft: PaymentDraft, *, idempotency_key: str | None = None) -> Payment:
        """Apply a payment to an invoice (``PUT /Payments``). Never retried: after a transient
        error the payment may exist; send again only with the same ``idempotency_key``, or look
        it up first (``list_payments``). Xero's refusals raise :class:`XeroValidationError`."""
        payload = self._call(
            PAYMENT_CREATE,
            params={"summarizeErrors": "true"},
            json_body={"Payments": [draft.to_api()]},
            idempotent=False,
            idempotency_key=idempotency_key,
        )
        return _written(payload, PAYMENT_CREATE)

    def reverse_payment(self, payment_id: str, *, idempotency_key: str | None = None) -> Payment:
        """Delete (reverse) a payment: ``POST /Payments/{id}`` with ``Status: DELETED``. Never retried."""
        payload = self._call(
            PAYMENT_UPDATE,
            (payment_id,),
            json_body={"Status": "DELETED"},
            idempotent=False,
            idempotency_key=idempotency_key,
        )
        return _written(payload, PAYMENT_UPDATE)

    # --- helpers ---------------------------------------------------------------------------------

    def _page(
        self,
        ep: Endpoint,
        key: str,
        parse: Callable[[Mapping[str, Any]], T],
        page: int,
        page_size: int | None,
        params: dict[str, Any],
        modified_since: datetime | None,
    ) -> Page[T]:
        if page < 1:
            raise ValueError("page numbers start at 1")
        if page_size is not None and not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        payload = self._call(ep, params=params, modified_since=modified_since)
        items = _parse_all(_records(payload, key, ep), parse, ep)
        pagination = Fields(payload).child("pagination")
        return Page(
            items=tuple(items),
            page=page,
            page_size=pagination.integer("pageSize") or page_size or DEFAULT_PAGE_SIZE,
            page_count=pagination.integer("pageCount"),
            item_count=pagination.integer("itemCount"),
        )

    @staticmethod
    def _iter(list_page: Callable[..., Page[T]], filters: dict[str, Any]) -> Iterator[T]:
        page_number = filters.pop("page", 1)
        previous: tuple[T, ...] = ()
        while True:
            page = list_page(page_number, **filters)
            if page.items and page.items == previous:
                # A server ignoring ``page`` would otherwise be walked forever.
                raise XeroBadResponse(f"Xero served page {page_number - 1} again as page {page_number}.")
            yield from page.items
            if page.is_last:
                return
            previous = page.items
            page_number += 1

    def _call(
        self,
        ep: Endpoint,
        ids: tuple[object, ...] = (),
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        idempotency_key: str | None = None,
        modified_since: datetime | None = None,
        accept: str = "application/json",
        read: Callable[[requests.Response], Any] | None = None,
    ) -> Any:
        """An authenticated API request; on a 401 one fresh token and one replay."""
        url = self.api_base_url + ep.path(*ids)
        headers = {"xero-tenant-id": self.tenant_id, "Accept": accept}
        if modified_since is not None:
            headers["If-Modified-Since"] = format_modified_since(modified_since)
        if idempotency_key is not None:
            if not 0 < len(idempotency_key) <= 128:
                raise ValueError("idempotency_key must be 1 to 128 characters")
            headers["Idempotency-Key"] = idempotency_key
        reader = read or self._transport.read_json
        token = self._token_provider()
        for replay in (False, True):
            try:
                return self._transport.request(
                    ep,
                    url,
                    classify=_api_error,
                    read=reader,
                    params=params,
                    headers={**headers, "Authorization": f"Bearer {token}"},
                    json_body=json_body,
                    idempotent=idempotent,
                )
            except _Unauthorized as exc:
                if replay:
                    raise XeroAuthError(
                        "Xero rejected a freshly refreshed access token; reconnect Xero.", status_code=401
                    ) from exc
                logger.info("Xero %s answered 401; refreshing the access token once", ep.key)
                token = self._token_provider(force_refresh=True)
        raise AssertionError("unreachable")


# --- answers -----------------------------------------------------------------------------------------


def _api_error(status: int, body: Any, _response: requests.Response) -> XeroError:
    """Classify a 4xx of the Accounting API (or /connections)."""
    f = Fields(body if isinstance(body, Mapping) else None)
    # Problem details (401/403): {"Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"}
    detail = f.text("Detail") or (body if isinstance(body, str) else None) or ""
    if status == 401:
        if "AuthorizationUnsuccessful" in detail:
            return XeroPermissionDenied(
                "The Xero connection lacks a permission this needs; reconnect Xero and grant every requested access.",
                problem=PermissionProblem.MISSING_SCOPE,
                status_code=401,
            )
        return _Unauthorized("Xero rejected the access token.", status_code=401)
    if status == 403:
        if "AuthenticationUnsuccessful" in detail:
            return XeroPermissionDenied(
                "This Xero organisation is not connected to the portal any more; reconnect Xero.",
                problem=PermissionProblem.TENANT_NOT_CONNECTED,
                status_code=403,
            )
        return XeroPermissionDenied(f"Xero refused access ({detail or 'HTTP 403'}).", status_code=403)
    if status in (404, 410):
        return XeroNotFound("Xero has no such record.", status_code=status)
    if status == 400:
        return _validation_error(f, status, fallback=detail)
    suffix = f": {detail}" if detail else ""
    return XeroBadResponse(f"Xero refused the request (HTTP {status}{suffix}).", status_code=status)


def _validation_error(f: Fields, status: int, *, fallback: str = "") -> XeroValidationError:
    """Xero's 400 body: ``{"ErrorNumber": 10, "Type": "ValidationException", "Message": "...",
    "Elements": [{..., "ValidationErrors": [{"Message": "..."}]}]}``."""
    messages: list[str] = []
    for element in f.objects("Elements"):
        for message in element.messages("ValidationErrors"):
            if message not in messages:
                messages.append(message)
    summary = f.text("Message") or fallback or "Xero refused the request."
    text = "; ".join(messages) if messages else summary
    return XeroValidationError(
        text[:1000],
        messages=tuple(messages) or (summary,),
        error_type=f.text("Type"),
        error_number=f.integer("ErrorNumber"),
        status_code=status,
    )


def _params(**values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def _csv(values: Sequence[str] | None) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise TypeError("pass a list of values, not one string")
    items = [str(v).strip() for v in values]
    if not items or any(not v or "," in v for v in items):
        raise ValueError("values must be non-empty and free of commas")
    return ",".join(items)


def _records(payload: Any, key: str, ep: Endpoint) -> list[Any]:
    if not isinstance(payload, Mapping):
        raise XeroBadResponse(f"Unexpected answer shape from {ep.key}: expected an object.")
    records = Fields(payload).get(key)
    if records is None:
        return []
    if not isinstance(records, list):
        raise XeroBadResponse(f"Unexpected answer shape from {ep.key}: {key} is not a list.")
    return records


def _parse_all(records: list[Any], parse: Callable[[Mapping[str, Any]], T], ep: Endpoint) -> list[T]:
    if not all(isinstance(r, Mapping) for r in records):
        raise XeroBadResponse(f"Unexpected record shape from {ep.key}.")
    try:
        return [parse(r) for r in records]
    except (ValueError, TypeError) as exc:
        raise XeroBadResponse(f"Unexpected record shape from {ep.key}.") from exc


def _one(payload: Any, key: str, parse: Callable[[Mapping[str, Any]], T], ep: Endpoint) -> T:
    records = _parse_all(_records(payload, key, ep), parse, ep)
    if not records:
        raise XeroNotFound("Xero returned no record.", status_code=200)
    return records[0]


def _written(payload: Any, ep: Endpoint) -> Payment:
    """The payment a write returned; a record flagged with validation errors raises."""
    records = _records(payload, "Payments", ep)
    if records and isinstance(records[0], Mapping):
        f = Fields(records[0])
        messages = f.messages("ValidationErrors")
        if f.flag("HasValidationErrors") or messages:
            raise XeroValidationError(
                "; ".join(messages) or "Xero refused the payment.",
                messages=messages,
                error_type="ValidationException",
                status_code=200,
            )
    return _one(payload, "Payments", Payment.from_api, ep)
