"""Read-only admin pages of payments, refunds, methods, autopay and processor events
(accounts.admin_site): for troubleshooting; nothing is charged or changed from here."""

from accounts.admin_site import register_read_only
from payments.models import (
    AutopayRule,
    Payment,
    PaymentAllocation,
    PaymentCustomer,
    PaymentMandate,
    PaymentMethod,
    ProcessorEvent,
    Refund,
    ScheduledCharge,
)

register_read_only(
    PaymentCustomer,
    PaymentMethod,
    PaymentMandate,
    PaymentAllocation,
    Refund,
    ProcessorEvent,
    AutopayRule,
    ScheduledCharge,
)
register_read_only(Payment, list_display=("id", "status", "amount", "created_at"))
