"""BMS's own Xero integration, imitated: import the payments recorded in a Xero sandbox.

BMS learns that an invoice was paid by importing payments from its accounting package.
This reads the payments created in a Xero sandbox (its control API,
``GET /_sandbox/payments``: the payments the portal posted there) and raises the matching
BMS invoices' paid amount and balance, matched by invoice number.

Invariants:

* A Xero PaymentID is imported at most once (``imported``); a payment later DELETED in
  Xero is reversed once, by exactly the amount that was applied.
* The amount applied never exceeds the invoice's balance; a Void or Draft invoice, or an
  unknown invoice number, is skipped and reported (and retried on the next run).
* Runs on a control call (``POST /_sandbox/xero/import``) and, when an interval is set,
  on a schedule (a daemon thread; off by default).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import TYPE_CHECKING, Any

from . import constants as C
from .data import Ts

if TYPE_CHECKING:
    from .app import Sandbox


class XeroImporter:
    def __init__(self, app: Sandbox, url: str | None = None, interval: float = 0.0) -> None:
        self.app = app
        self.url = (url or "").rstrip("/") or None
        self.interval = float(interval or 0)
        self.lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.imported: dict[str, dict[str, Any]] = {}  # PaymentID -> {invoiceId, applied, reversed}
            self.runs = 0
            self.last_run: str | None = None
            self.last_error: str | None = None
            self.last_result: dict[str, Any] | None = None

    # -------------------------------------------------------------- schedule
    def configure(self, url: str | None = None, interval: float | None = None) -> None:
        if url is not None:
            self.url = url.rstrip("/") or None
        if interval is not None:
            self.interval = max(0.0, float(interval))
        self.start()
        self._wake.set()

    def start(self) -> None:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="xero-import", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval if self.interval > 0 else 1.0)
            self._wake.clear()
            if self.interval > 0 and self.url:
                try:
                    self.run_once()
                except Exception as e:  # a scheduled run must survive a Xero sandbox that is down
                    with self.lock:
                        self.last_error = f"{type(e).__name__}: {e}"

    # -------------------------------------------------------------- import
    def fetch(self) -> list[dict[str, Any]]:
        if not self.url:
            raise ValueError("no Xero sandbox configured (xero_url)")
        with urllib.request.urlopen(f"{self.url}/_sandbox/payments", timeout=10) as resp:  # noqa: S310 - our sandbox
            return json.loads(resp.read())

    def _invoice_id(self, number: str) -> int | None:
        t = self.app.tenant
        if number.upper().startswith("INV-") and number[4:].isdigit():
            i = int(number[4:]) - 10000
            rec = t.get("invoices", i)
            if rec is not None and rec["invoiceNumber"] == number:
                return i
        return next((i for i, r in t.overlay["invoices"].items() if r["invoiceNumber"] == number), None)

    def run_once(self) -> dict[str, Any]:
        payments = self.fetch()
        imported, reversed_, skipped = [], [], []
        t = self.app.tenant
        with self.lock, t.lock:
            now = self.app.now()
            for p in payments:
                pid, status = p["PaymentID"], p["Status"]
                seen = self.imported.get(pid)
                if status == "AUTHORISED" and seen is None:
                    i = self._invoice_id(str(p.get("InvoiceNumber") or ""))
                    rec = t.get("invoices", i) if i is not None else None
                    if rec is None or rec["statusId"] in (C.INV_VOID, C.INV_DRAFT):
                        skipped.append(
                            {
                                "PaymentID": pid,
                                "InvoiceNumber": p.get("InvoiceNumber"),
                                "reason": "no payable BMS invoice",
                            }
                        )
                        continue
                    rec = t.materialise("invoices", i)
                    applied = round(min(float(p["Amount"]), rec["grandTotal"] - rec["paidAmount"]), 2)
                    self._set_paid(rec, rec["paidAmount"] + applied, now)
                    self.imported[pid] = {"invoiceId": i, "applied": applied, "reversed": False}
                    imported.append({"PaymentID": pid, "invoiceId": i, "applied": applied})
                elif status == "DELETED" and seen is not None and not seen["reversed"]:
                    rec = t.materialise("invoices", seen["invoiceId"])
                    self._set_paid(rec, rec["paidAmount"] - seen["applied"], now)
                    seen["reversed"] = True
                    reversed_.append({"PaymentID": pid, "invoiceId": seen["invoiceId"], "amount": seen["applied"]})
            if imported or reversed_:
                t.bump()
            self.runs += 1
            self.last_run = Ts(now).iso()
            self.last_error = None
            self.last_result = {"imported": imported, "reversed": reversed_, "skipped": skipped}
            return self.last_result

    @staticmethod
    def _set_paid(rec: dict[str, Any], paid: float, now: int) -> None:
        rec["paidAmount"] = round(max(0.0, min(rec["grandTotal"], paid)), 2)
        rec["paymentDue"] = round(rec["grandTotal"] - rec["paidAmount"], 2)
        if rec["paymentDue"] <= 0:
            rec["statusId"] = C.INV_PAID
        elif rec["paidAmount"] > 0:
            rec["statusId"] = C.INV_PARTIAL
        else:
            rec["statusId"] = C.INV_SENT
        rec["statusName"] = C.INVOICE_STATUSES[rec["statusId"]]
        rec["modifiedOn"] = Ts(now)

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "url": self.url,
                "interval_seconds": self.interval,
                "imported": len(self.imported),
                "runs": self.runs,
                "last_run": self.last_run,
                "last_error": self.last_error,
                "last_result": self.last_result,
            }
