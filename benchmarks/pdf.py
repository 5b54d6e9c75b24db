"""Render time of the portal's own PDFs (billing.pdf): the invoice with 5 and with 60 lines, a
payment receipt, and an invoice with Japanese names (the fallback font). No database: the
documents are built from unsaved model instances, so only the rendering is timed.

Each case renders once in a fresh process ("first", what a worker's first document pays, fonts
included) and then ``--samples`` times in that process (median and p95 of the wall time, and the
median CPU time of the process, steadier on a busy machine).

``python -m benchmarks.pdf [--samples 30]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ("invoice, 5 lines", "invoice, 60 lines", "receipt", "invoice, Japanese names")


def _documents():
    """The four cases as callables returning PDF bytes (imports need Django set up)."""
    from django.utils import timezone

    from billing.models import Invoice, InvoiceLine
    from billing.rendering import render_invoice_pdf
    from organizations.models import Organization
    from payments.models import Payment, PaymentMethod, PaymentStatus
    from payments.receipts import Receipt, ReceiptLine, render_receipt_pdf

    now = timezone.now()
    organization = Organization(
        name="Zakład Usług Łódź Sp. z o.o.", billing_address1="ul. Piotrkowska 1", billing_city="Łódź"
    )

    def invoice(lines: int, name: str = "Managed services") -> tuple[Invoice, list[InvoiceLine]]:
        doc = Invoice(
            number="INV-1001",
            status="Sent",
            organization=organization,
            invoice_date=now,
            due_date=now,
            synced_at=now,
            total=Decimal("1234.56"),
            tax=Decimal("34.56"),
            balance_due=Decimal("1234.56"),
            notes="Payment within 30 days. Thank you (€).",
        )
        rows = [
            InvoiceLine(name=f"{name} {n}", description="Support", quantity=Decimal(2), unit_price=Decimal("9.5"))
            for n in range(lines)
        ]
        for row in rows:
            row.total = Decimal("19.00")
        return doc, rows

    payment = Payment(
        pk=42,
        organization=organization,
        method=PaymentMethod(kind="card", brand="visa", last4="4242"),
        amount=Decimal("100.00"),
        currency="EUR",
        status=PaymentStatus.SUCCEEDED,
        created_at=now,
        succeeded_at=now,
    )
    receipt = Receipt(
        payment=payment,
        number="P-42",
        received_at=now,
        lines=[ReceiptLine("INV-1001", Decimal("60.00")), ReceiptLine("INV-1002", Decimal("40.00"))],
        refunds=[],
    )
    five, sixty, japanese = invoice(5), invoice(60), invoice(5, "山田太郎 サポート")
    return {
        CASES[0]: lambda: render_invoice_pdf(*five),
        CASES[1]: lambda: render_invoice_pdf(*sixty),
        CASES[2]: lambda: render_receipt_pdf(receipt),
        CASES[3]: lambda: render_invoice_pdf(*japanese),
    }


def _measure(case: str, samples: int) -> dict:
    """In this (fresh) process: the first render, then ``samples`` more."""
    import django

    django.setup()
    render = _documents()[case]
    started = time.perf_counter()
    content = render()
    first = time.perf_counter() - started
    times, cpu_times = [], []
    for _ in range(samples):
        started, cpu_started = time.perf_counter(), time.process_time()
        render()
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    times.sort()
    return {
        "first_ms": first * 1000,
        "cpu_median_ms": statistics.median(cpu_times) * 1000,
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] * 1000,
        "bytes": len(content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    # No database, cache or secret is used: the development settings do.
    env = {"DJANGO_SETTINGS_MODULE": "connectbooster.settings", "PORTAL_ENV": "development", **os.environ}
    print(f"{'document':<26} {'first':>9} {'median':>9} {'p95':>9} {'CPU median':>11} {'size':>7}")
    for case in CASES:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.pdf", "--job", case, str(args.samples)],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        print(
            f"{case:<26} {figures['first_ms']:>6.0f} ms {figures['median_ms']:>6.1f} ms"
            f" {figures['p95_ms']:>6.1f} ms {figures['cpu_median_ms']:>8.1f} ms {figures['bytes'] / 1024:>4.0f} kB"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--job"]:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectbooster.settings")
        print(json.dumps(_measure(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
