"""The notification types: who hears about each, and how it reads."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    PAYMENT_SUCCESSFUL = "payment_successful", _("Payment Successful")
    PAYMENT_FAILED = "payment_failed", _("Payment Failed")
    PAYMENT_SCHEDULED = "payment_scheduled", _("Payment Scheduled")
    AUTOPAY_CHANGED = "autopay_changed", _("Autopay Changed")
    PAYMENT_METHOD_CHANGED = "payment_method_changed", _("Payment Method Changed")
    NEW_INVOICE = "new_invoice", _("New Invoice")
    INVOICE_PAST_DUE = "invoice_past_due", _("Invoice Past Due")
    PORTAL_ACCESS_REQUESTED = "portal_access_requested", _("Portal Access Requested")
    CLIENT_COMMENTED = "client_commented", _("Client Commented on Invoice")
    INVOICE_COMMENT_REPLY = "invoice_comment_reply", _("Invoice Comment Reply")
    SYNC_FAILED = "sync_failed", _("Sync Failed")
    SYNC_NOT_RUNNING = "sync_not_running", _("Sync Not Running")
    AUTOPAY_SUMMARY = "autopay_summary", _("Autopay Summary")


class Audience(models.TextChoices):
    # E-mail to the organization's billing contacts; ticket on the organization's account.
    CLIENT = "client", _("Client's billing contacts")
    # E-mail to the MSP's staff; ticket on the organization's account (the MSP's own without one).
    STAFF_ABOUT_CLIENT = "staff_about_client", _("MSP staff (about a client)")
    # E-mail to the MSP's staff; ticket on the MSP's own BMS account.
    INTERNAL = "internal", _("MSP staff (internal)")


@dataclass(frozen=True)
class KindSpec:
    kind: NotificationKind
    audience: Audience
    description: str
    subject: str  # str.format() with the render context's flat values
    summary: str  # first line of the ticket details, same placeholders
    concerns_invoice: bool = False

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def is_internal(self) -> bool:
        return self.audience != Audience.CLIENT


K, A = NotificationKind, Audience
SPECS: dict[str, KindSpec] = {
    spec.kind.value: spec
    for spec in (
        KindSpec(
            K.PAYMENT_SUCCESSFUL,
            A.CLIENT,
            _("A payment was received."),
            "Payment received: {amount}",
            "Payment of {amount} received from {organization}.",
            concerns_invoice=True,
        ),
        KindSpec(
            K.PAYMENT_FAILED,
            A.CLIENT,
            _("A payment attempt failed."),
            "Payment failed: {amount}",
            "Payment of {amount} from {organization} failed: {reason}",
            concerns_invoice=True,
        ),
        KindSpec(
            K.PAYMENT_SCHEDULED,
            A.CLIENT,
            _("A payment was scheduled."),
            "Payment scheduled: {amount}",
            "Payment of {amount} scheduled by {organization}.",
            concerns_invoice=True,
        ),
        KindSpec(
            K.AUTOPAY_CHANGED,
            A.CLIENT,
            _("Autopay was turned on, off or changed."),
            "Autopay changed",
            "Autopay changed for {organization}: {reason}",
        ),
        KindSpec(
            K.PAYMENT_METHOD_CHANGED,
            A.CLIENT,
            _("The payment method on file changed."),
            "Payment method changed",
            "Payment method changed for {organization}: {reason}",
        ),
        KindSpec(
            K.NEW_INVOICE,
            A.CLIENT,
            _("A new invoice was synced from BMS."),
            "New invoice {invoice_number} from {msp_name}",
            "New invoice {invoice_number} for {organization}: {invoice_total}, due {due_date}.",
            concerns_invoice=True,
        ),
        KindSpec(
            K.INVOICE_PAST_DUE,
            A.CLIENT,
            _("An invoice is past due (once per due stage)."),
            "Invoice {invoice_number} is past due",
            "Invoice {invoice_number} for {organization} is {days_past_due} days past due: {balance_due} outstanding.",
            concerns_invoice=True,
        ),
        KindSpec(
            K.PORTAL_ACCESS_REQUESTED,
            A.STAFF_ABOUT_CLIENT,
            _("Someone asked for client-portal access."),
            "Portal access requested by {requester}",
            "{requester} asked for access to the client portal ({organization}).",
        ),
        KindSpec(
            K.CLIENT_COMMENTED,
            A.STAFF_ABOUT_CLIENT,
            _("A client contact commented on an invoice."),
            "{author} commented on invoice {invoice_number}",
            "{author} ({organization}) commented on invoice {invoice_number}.",
            concerns_invoice=True,
        ),
        KindSpec(
            K.INVOICE_COMMENT_REPLY,
            A.CLIENT,
            _("Staff replied to a client's comments on an invoice (to those who commented)."),
            "Reply about invoice {invoice_number} from {msp_name}",
            "{author} of {msp_name} replied to the comments of {organization} on invoice {invoice_number}.",
            concerns_invoice=True,
        ),
        KindSpec(
            K.SYNC_FAILED,
            A.INTERNAL,
            _("A BMS sync failed."),
            "Sync failed: {source}",
            "The sync of {source} failed: {reason}",
        ),
        KindSpec(
            K.SYNC_NOT_RUNNING,
            A.INTERNAL,
            _("No BMS sync has succeeded for 48 hours."),
            "Sync not running: {source}",
            "{reason}",
        ),
        KindSpec(
            K.AUTOPAY_SUMMARY,
            A.INTERNAL,
            _("Daily: what autopay charged, what failed, what waits for approval, rules that cannot charge."),
            "Autopay summary",
            "Autopay in the last 24 hours: {reason}",
        ),
    )
}


def spec_for(kind: str) -> KindSpec:
    try:
        return SPECS[str(kind)]
    except KeyError:
        raise ValueError(f"Unknown notification type {kind!r}.") from None
