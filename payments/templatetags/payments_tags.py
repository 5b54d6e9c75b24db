"""What the client's invoice pages show about portal payments: "Payment processing", the
balance less portal payments BMS does not show yet, and the Pay button."""

from django import template

from payments import selectors

register = template.Library()


@register.simple_tag
def invoice_payment_states(invoices) -> dict:
    """Per invoice pk, its InvoicePaymentState (one query for the whole list)."""
    return selectors.unreflected_amounts(invoices)


@register.simple_tag
def invoice_payment_state(invoice):
    return selectors.invoice_payment_state(invoice)


@register.filter
def state_of(states: dict, invoice):
    return states.get(invoice.pk)
