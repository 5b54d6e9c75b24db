"""What the client's invoice pages show about portal payments: "Payment processing", the
balance less portal payments BMS does not show yet, the Pay button, and whether autopay will
pay the invoice (and by which rule)."""

from decimal import Decimal, InvalidOperation

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


@register.simple_tag
def autopay_eligibility(invoices) -> dict:
    """Per invoice pk, the AutopayEligibility of those a rule pays (one query for the list)."""
    return selectors.autopay_eligibility(invoices)


@register.simple_tag
def invoice_autopay_eligibility(invoice):
    return selectors.autopay_eligibility([invoice]).get(invoice.pk)


@register.filter
def rule_when(rule) -> str:
    return selectors.rule_when(rule)


@register.filter
def rule_criteria(rule) -> str:
    return selectors.rule_criteria(rule)


@register.simple_tag
def organization_autopay_summary(organization) -> dict:
    """The organization page's Autopay block: its rules, and those that cannot charge."""
    rules = selectors.organization_rules(organization_id=organization.pk)
    for number, rule in enumerate(rules, start=1):
        rule.number = number
    return {"rules": rules, "broken": [rule for rule in rules if rule.problem]}


@register.filter
def rate(value) -> str:
    """A percentage as set, without trailing zeros: Decimal("2.500") -> "2.5"."""
    try:
        return f"{Decimal(value).normalize():f}"
    except (InvalidOperation, TypeError, ValueError):
        return ""
