"""The Xero organisations: derived, lazily, from the BMS sandbox's deterministic tenant.

Invariants (the portal's tests may rely on them; README "Seed data"):

* The main organisation is what the BMS tenant generated with the *same* options
  (seed, accounts, ..., anchor) would have exported to Xero: one contact per BMS
  account (contact index = BMS account id) plus a few Xero-only contacts, and the BMS
  invoices that were posted to accounting, plus every BMS Void invoice (as VOIDED).
  Invoice index = BMS invoice id; ``InvoiceNumber`` = the BMS invoice number.
* Everything generated is a pure function of (seed, kind, index). GUIDs carry their
  index in the last 12 hex digits, so an id maps back to its record in O(1).
* ``UpdatedDateUTC`` of a generated invoice lies in [created, created + UPDATE_LAG]
  and ``created`` increases with the index: If-Modified-Since narrows by binary search.
* Generated records are never mutated: changes (payments, edits) live in overlays of
  internal records (cents as ints), rendered to Xero's JSON shape on the way out. Every change
  bumps ``version``; what a listing query matched is kept for that version only (`listing`).
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bms_sandbox import constants as BC
from bms_sandbox.data import DAY, parse_dt
from bms_sandbox.data import Options as BmsOptions
from bms_sandbox.data import Tenant as BmsTenant

UPDATE_LAG = 47 * DAY  # generated UpdatedDateUTC - created, at most
XERO_ONLY_EVERY = 10  # one Xero-only contact per this many BMS accounts (at least 2)
MAIN_ORG = 0
STATUSES = ("AUTHORISED", "PAID", "VOIDED")  # statuses of generated invoices

# Chart of accounts: (code, name, type, bank account type, payments enabled, status, system account)
ACCOUNTS: tuple[tuple[str, str, str, str, bool, str, str], ...] = (
    ("090", "Business Checking", "BANK", "BANK", False, "ACTIVE", ""),
    ("091", "Business Savings", "BANK", "BANK", False, "ACTIVE", ""),
    ("092", "Old Operating Account", "BANK", "BANK", False, "ARCHIVED", ""),
    ("615", "Portal Payments Clearing", "CURRENT", "", True, "ACTIVE", ""),
    ("610", "Accounts Receivable", "CURRENT", "", False, "ACTIVE", "DEBTORS"),
    ("200", "Sales", "REVENUE", "", False, "ACTIVE", ""),
    ("260", "Other Revenue", "OTHERINCOME", "", False, "ACTIVE", ""),
    ("400", "Advertising", "OVERHEADS", "", False, "ACTIVE", ""),
)
DEFAULT_PAYMENT_ACCOUNT = "090"  # generated (historical) payments were deposited here
LISTINGS_KEPT = 16  # listing queries whose matches are kept (see Org.listing)


def cents(x: float) -> int:
    return int(round(float(x) * 100))


def money(c: int) -> float:
    return round(c / 100, 2)


def ms_date(ts: int, offset: bool = True) -> str:
    """Xero's .NET JSON date: ``/Date(1539993600000+0000)/`` (``offset=False``: no zone part)."""
    return f"/Date({int(ts) * 1000}+0000)/" if offset else f"/Date({int(ts) * 1000})/"


def iso_date(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


def parse_ms_date(s: str) -> int:
    body = s.strip().removeprefix("/Date(").removesuffix(")/")
    for sep in ("+", "-"):
        if sep in body[1:]:
            body = body[: body.index(sep, 1)]
    return int(body) // 1000


class Guids:
    """Deterministic GUIDs whose last 12 hex digits are the record's index."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def make(self, kind: str, index: int) -> str:
        digest = hashlib.blake2b(f"{self.seed}:{kind}:{index}".encode(), digest_size=10).hexdigest()
        # version 4 and the RFC 4122 variant, so the value is a well-formed UUID
        variant = "89ab"[int(digest[16], 16) % 4]
        return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-{variant}{digest[17:20]}-{index:012x}"

    def index(self, kind: str, guid: str) -> int | None:
        g = guid.strip().lower()
        if len(g) != 36:
            return None
        try:
            i = int(g[24:], 16)
        except ValueError:
            return None
        return i if self.make(kind, i) == g else None


@dataclass
class OrgOptions:
    """What one organisation is derived from (the BMS options that shape the data)."""

    bms: BmsOptions
    name: str
    index: int = MAIN_ORG


@dataclass(eq=False)
class Org:
    """One Xero organisation (tenant): generated data + overlays. Thread-safe via `lock`."""

    opts: OrgOptions
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.bms = BmsTenant(self.opts.bms)
        self.seed = self.opts.bms.seed * 7919 + self.opts.index
        self.guids = Guids(self.seed)
        self.tenant_id = self.guids.make("tenant", self.opts.index + 1)
        self.name = self.opts.name
        self.A = self.bms.A
        self.E = max(2, self.A // XERO_ONLY_EVERY) if self.A else 0
        self.n_invoices = self.bms.specs["invoices"].n
        self._index_lock = threading.Lock()
        self._inv_ids: array | None = None  # generated invoice indexes present in Xero, ascending
        self._pay_ids: array | None = None  # generated payment indexes (= invoice index), ascending
        self._codes: bytearray | None = None  # generated invoice index -> status code (see build_indexes)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        with self.lock:
            self.contact_overlay: dict[int, dict[str, Any]] = {}
            self.invoice_overlay: dict[int, dict[str, Any]] = {}
            self.payment_overlay: dict[int, dict[str, Any]] = {}
            self.created_payments: list[int] = []  # payment indexes created through the API, in order
            self.invoice_payments: dict[int, list[int]] = {}  # invoice -> created payment indexes
            self.next_payment = self.n_invoices + 1
            self.version = 0
            self._listings: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()
            self._gen_invoice.cache_clear()
            self._gen_contact.cache_clear()

    def h(self, kind: str, i: int, f: int = 0) -> int:
        return self.bms.h(kind, i, f)

    def now(self) -> int:  # replaced by the app's clock
        return int(time.time())

    # ------------------------------------------------------------------ indexes
    def build_indexes(self) -> None:
        """Which generated invoices are in Xero, and which have a generated payment."""
        with self._index_lock:
            if self._inv_ids is not None:
                return
            inv, pay = array("l"), array("l")
            codes = bytearray(self.n_invoices + 1)  # 0: not in Xero, else 1 + index in STATUSES
            for i in range(1, self.n_invoices + 1):
                st = self.bms_status(i)
                if st == BC.INV_VOID or self.bms._inv_posted(i, st):
                    inv.append(i)
                    codes[i] = 1 + STATUSES.index({BC.INV_PAID: "PAID", BC.INV_VOID: "VOIDED"}.get(st, "AUTHORISED"))
                    if st in (BC.INV_PAID, BC.INV_PARTIAL):
                        pay.append(i)
            self._pay_ids = pay
            self._codes = codes
            self._inv_ids = inv

    def invoice_ids(self) -> Sequence[int]:
        if self._inv_ids is None:
            self.build_indexes()
        assert self._inv_ids is not None
        return self._inv_ids

    def generated_payment_ids(self) -> Sequence[int]:
        if self._pay_ids is None:
            self.build_indexes()
        assert self._pay_ids is not None
        return self._pay_ids

    # ------------------------------------------------------------------ cheap invoice facts
    def bms_status(self, i: int) -> int:
        return self.bms._inv_status(i)

    def in_xero(self, i: int) -> bool:
        if not 1 <= i <= self.n_invoices:
            return False
        if self._codes is not None:
            return self._codes[i] != 0
        st = self.bms_status(i)
        return st == BC.INV_VOID or self.bms._inv_posted(i, st)

    def created(self, i: int) -> int:
        return self.bms._inv_created(i)

    def payment_ts(self, i: int) -> int:
        """When the generated payment of invoice i was recorded (paid/partial invoices)."""
        created = self.created(i)
        inv_date = created - created % DAY
        posted = self.posted_ts(i)
        return max(posted, min(self.bms.anchor - 7200, inv_date + (3 + self.h("invoices", i, 41) % 43) * DAY + 36000))

    def posted_ts(self, i: int) -> int:
        created = self.created(i)
        inv_date = created - created % DAY
        return max(created, min(inv_date + 2 * DAY, self.bms.anchor - 3600))

    def base_updated(self, i: int) -> int:
        st = self.bms_status(i)
        if st in (BC.INV_PAID, BC.INV_PARTIAL):
            return self.payment_ts(i)
        if st == BC.INV_VOID:
            created = self.created(i)
            return max(created, min(created + (1 + self.h("invoices", i, 42) % 10) * DAY, self.bms.anchor - 3600))
        return self.posted_ts(i)

    def base_status(self, i: int) -> str:
        if self._codes is not None and self._codes[i]:
            return STATUSES[self._codes[i] - 1]
        st = self.bms_status(i)
        return {BC.INV_PAID: "PAID", BC.INV_VOID: "VOIDED"}.get(st, "AUTHORISED")

    def first_created_at_or_after(self, ts: int) -> int:
        return self.bms._first_ge(self.created, ts, 1, self.n_invoices + 1)

    # ------------------------------------------------------------------ contacts
    def contact_count(self) -> int:
        return self.A + self.E

    def contact_ids(self) -> list[int]:
        return list(range(1, self.contact_count() + 1))

    def contact(self, c: int) -> dict[str, Any] | None:
        rec = self.contact_overlay.get(c)
        if rec is not None:
            return rec
        if not 1 <= c <= self.contact_count():
            return None
        return self._gen_contact(c)

    def contact_for_bms_account(self, a: int) -> int:
        return a

    @lru_cache(maxsize=4096)  # noqa: B019 - bounded; cleared on reset
    def _gen_contact(self, c: int) -> dict[str, Any]:
        if c > self.A:
            return self._gen_xero_only_contact(c)
        acc = self.bms._gen_account(c)
        domain = acc["_domain"]
        name = self.contact_name(c, acc["accountName"])
        kind = self.bms.billing_kind(c)
        billing = self.bms._billing_contact(c)
        first = (billing or {}).get("firstName") or ""
        last = (billing or {}).get("lastName") or ""
        bms_email = next((e["emailAddress"] for e in (billing or {}).get("emails", []) if e["isDefault"]), None)
        email, persons = self._billing_emails(c, kind, bms_email, domain)
        loc = (acc.get("locations") or [{}])[0]
        addresses = []
        for ad in loc.get("addresses") or []:
            addresses.append(
                {
                    "AddressType": "POBOX" if ad.get("isBilling") else "STREET",
                    "AddressLine1": ad.get("address1") or "",
                    "City": ad.get("city") or "",
                    "Region": ad.get("state") or "",
                    "PostalCode": ad.get("zipCode") or "",
                    "Country": ad.get("country") or "",
                }
            )
        phone = (loc.get("addresses") or [{}])[0].get("phone") or ""
        area, _, number = phone.partition(") ")
        return {
            "idx": c,
            "bms_account": c,
            "name": name,
            "first": first,
            "last": last,
            "email": email,
            "persons": persons,
            "account_number": self.account_number(c, acc["accountCode"]),
            "status": "ACTIVE" if acc["isActive"] else "ARCHIVED",
            "addresses": addresses,
            "phone": (area + ")" if number else "", number or phone),
            "updated_ts": acc["modifiedOn"].t,
            "website": acc.get("website") or "",
        }

    def contact_name(self, c: int, bms_name: str) -> str:
        """Every 5th account (c % 5 == 2) is named differently in Xero, by a variant a
        normalised name still matches: upper case, ", LLC"/"Inc." punctuation, or no legal suffix."""
        if c % 5 != 2:
            return bms_name
        words = bms_name.split()
        has_suffix = len(words) > 1 and words[-1] in ("LLC", "Inc", "Co", "Ltd")
        v = self.h("accounts", c, 51) % 3
        if v == 1 and has_suffix:
            return " ".join(words[:-1]) + ", " + words[-1] + ("" if words[-1] == "LLC" else ".")
        if v == 2 and has_suffix:
            return " ".join(words[:-1])
        return bms_name.upper()

    def account_number(self, c: int, code: str) -> str | None:
        """The BMS account code, except every 4th account (c % 4 == 3): none."""
        return None if c % 4 == 3 else code

    def _billing_emails(
        self, c: int, kind: str, bms_email: str | None, domain: str
    ) -> tuple[str | None, list[dict[str, Any]]]:
        persons: list[dict[str, Any]] = []
        if kind == "recipient":
            email = bms_email
            if c % 3 == 0:
                persons.append(
                    {
                        "FirstName": "Accounts",
                        "LastName": "Payable",
                        "EmailAddress": f"ap@{domain}",
                        "IncludeInEmails": True,
                    }
                )
                persons.append(
                    {
                        "FirstName": "Office",
                        "LastName": "Manager",
                        "EmailAddress": f"office@{domain}",
                        "IncludeInEmails": False,
                    }
                )
            return email, persons
        if kind == "poc_only":
            return f"accounts@{domain}", persons  # billing e-mail only in Xero
        # no billing contact in BMS: Xero has one through the contact, a contact person, or not at all
        r = c % 3
        if r == 0:
            return f"billing@{domain}", persons
        if r == 1:
            persons.append(
                {
                    "FirstName": "Billing",
                    "LastName": "Team",
                    "EmailAddress": f"invoices@{domain}",
                    "IncludeInEmails": True,
                }
            )
            return None, persons
        return None, persons

    def _gen_xero_only_contact(self, c: int) -> dict[str, Any]:
        k = c - self.A
        words = ("Northgate", "Pacific", "Ironbark", "Kestrel", "Copperline", "Juniper", "Tidewater", "Saltmarsh")
        kinds = ("Holdings", "Consulting", "Partners", "Logistics", "Studio", "Supplies")
        name = f"{words[k % len(words)]} {kinds[(k // len(words)) % len(kinds)]}"
        if k > len(words) * len(kinds):
            name += f" {k}"
        domain = name.lower().replace(" ", "") + ".example"
        created = self.bms.anchor - 400 * DAY + k * 3600
        return {
            "idx": c,
            "bms_account": None,
            "name": name,
            "first": "",
            "last": "",
            "email": f"accounts@{domain}",
            "persons": [],
            "account_number": f"X{k:04d}",
            "status": "ACTIVE",
            "addresses": [],
            "phone": ("", ""),
            "updated_ts": created,
            "website": "",
        }

    # ------------------------------------------------------------------ invoices
    def invoice(self, i: int) -> dict[str, Any] | None:
        rec = self.invoice_overlay.get(i)
        if rec is not None:
            return rec
        if not self.in_xero(i):
            return None
        return self._gen_invoice(i)

    def invoice_index_by_number(self, number: str) -> int | None:
        n = number.strip()
        for i, rec in self.invoice_overlay.items():
            if rec["number"] == n and i > self.n_invoices:
                return i
        if n.upper().startswith("INV-"):
            try:
                i = int(n[4:]) - 10000
            except ValueError:
                return None
            if self.invoice(i) is not None and self.invoice(i)["number"] == n:  # type: ignore[index]
                return i
        return None

    @lru_cache(maxsize=8192)  # noqa: B019 - bounded; cleared on reset
    def _gen_invoice(self, i: int) -> dict[str, Any]:
        b = self.bms._gen_invoice(i)
        st = b["statusId"]
        status = self.base_status(i)
        rate = b.get("salesTaxRate") or 0.0
        lines = []
        tax_left = cents(b["totalTax"])
        taxable = [li for li in b["lineItems"] if li["isTaxable"]]
        for li in b["lineItems"]:
            amount = cents(li["totalPrice"])
            tax = 0
            if li["isTaxable"]:
                tax = tax_left if li is taxable[-1] else int(round(amount * rate / 100))
                tax_left -= tax
            lines.append(
                {
                    "id": li["id"],
                    "description": li["description"] or li["name"],
                    "qty": li["qty"],
                    "unit": li["unitPrice"],
                    "amount_c": amount,
                    "tax_c": tax,
                    "taxable": li["isTaxable"],
                    "account": "200",
                }
            )
        for d in b.get("discountItems") or []:
            lines.append(
                {
                    "id": 900_000_000 + d["id"],
                    "description": d["name"],
                    "qty": 1.0,
                    "unit": -d["value"],
                    "amount_c": -cents(d["value"]),
                    "tax_c": 0,
                    "taxable": False,
                    "account": "200",
                }
            )
        total_c = cents(b["grandTotal"])
        paid_c = 0 if st == BC.INV_VOID else cents(b["paidAmount"])
        rec: dict[str, Any] = {
            "idx": i,
            "number": b["invoiceNumber"],
            "reference": b.get("pONumber") or "",
            "contact": self.contact_for_bms_account(b["accountId"]),
            "status": status,
            "date_ts": b["invoiceDate"].t,
            "due_ts": b["dueDate"].t,
            "updated_ts": self.base_updated(i),
            "lines": lines,
            "subtotal_c": sum(x["amount_c"] for x in lines),
            "tax_c": cents(b["totalTax"]),
            "total_c": total_c,
            "paid_c": paid_c,
            "currency": "USD",
            "sent": True,
            "fully_paid_ts": self.payment_ts(i) if status == "PAID" else None,
        }
        return rec

    def materialise_invoice(self, i: int) -> dict[str, Any]:
        rec = self.invoice(i)
        if rec is None:
            raise KeyError(f"invoice {i} not found")
        if i not in self.invoice_overlay:
            rec = copy.deepcopy(rec)
            self.invoice_overlay[i] = rec
        return rec

    def invoice_payment_ids(self, i: int) -> list[int]:
        """Payments recorded against invoice i (deleted ones included), oldest first."""
        out = []
        if 1 <= i <= self.n_invoices and self.bms_status(i) in (BC.INV_PAID, BC.INV_PARTIAL) and self.in_xero(i):
            out.append(i)
        out += self.invoice_payments.get(i, [])
        return out

    # ------------------------------------------------------------------ payments
    def payment(self, p: int) -> dict[str, Any] | None:
        rec = self.payment_overlay.get(p)
        if rec is not None:
            return rec
        if 1 <= p <= self.n_invoices and self.in_xero(p) and self.bms_status(p) in (BC.INV_PAID, BC.INV_PARTIAL):
            return self._gen_payment(p)
        return None

    def _gen_payment(self, i: int) -> dict[str, Any]:
        inv = self._gen_invoice(i)
        ts = self.payment_ts(i)
        return {
            "idx": i,
            "invoice": i,
            "date_ts": ts - ts % DAY,
            "amount_c": inv["paid_c"],
            "reference": f"Check {1000 + self.h('invoices', i, 43) % 9000}",
            "account": DEFAULT_PAYMENT_ACCOUNT,
            "status": "AUTHORISED",
            "updated_ts": ts,
            "created_by_api": False,
            "created_ts": ts,
        }

    def payment_ids(self) -> Iterable[int]:
        """All payment indexes, ascending (generated ones first, then created ones)."""
        yield from self.generated_payment_ids()
        yield from self.created_payments

    def new_payment_index(self) -> int:
        p = self.next_payment
        self.next_payment += 1
        return p

    def bump(self) -> None:
        self.version += 1

    def listing(self, query: tuple[Any, ...], match: Callable[[], list[int]]) -> list[int]:
        """What `query` matches, computed once per data version: a walk through its pages (each
        page asks the same query again) filters the whole organisation once, not once a page.
        The caller holds `lock`."""
        key = (self.version, *query)
        matched = self._listings.get(key)
        if matched is None:
            matched = match()
            self._listings[key] = matched
            while len(self._listings) > LISTINGS_KEPT:
                self._listings.popitem(last=False)
        else:
            self._listings.move_to_end(key)
        return matched


def account_index(code_or_id: str, guids: Guids) -> int | None:
    for n, row in enumerate(ACCOUNTS, start=1):
        if row[0] == code_or_id:
            return n
    return guids.index("account", code_or_id)


def parse_since(value: str) -> int:
    """If-Modified-Since: an HTTP date or an ISO date-time (naive = UTC)."""
    from email.utils import parsedate_to_datetime

    v = value.strip()
    try:
        return int(parse_dt(v))
    except ValueError:
        pass
    try:
        return int(parsedate_to_datetime(v).timestamp())
    except (TypeError, ValueError) as e:
        raise ValueError(f"invalid If-Modified-Since '{value}'") from e
