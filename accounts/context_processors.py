from django.conf import settings

# The navigation item a page is under, by its view name, else by its URL namespace. The staff
# sidebar and the client's top bar mark that item as the current one (accounts.templatetags.navigation).
_SECTION_OF_VIEW = {
    "integrations:sync-history": "sync-history",
    "integrations:sync-run": "sync-history",
    "payments:calendar": "payments-calendar",
    "payments:approvals": "autopay-approvals",
    "payments:posting-errors": "posting-errors",
    "notifications:log": "notification-log",
    "notifications:detail": "notification-log",
    "accounts:users": "users",
    "accounts:audit": "audit",
    "portal:client-access": "client-access",
    "client:profile": "profile",
    "client-payments:methods": "payment-methods",
    "client-payments:autopay": "autopay",
    "client-payments:autopay-rule": "autopay",
}
_SECTION_OF_NAMESPACE = {
    "integrations": "integrations",
    "integrations:xero": "integrations",
    "organizations": "organizations",
    "organization-autopay": "organizations",
    "billing": "invoices",
    "billing-config": "invoice-image-data",
    "payments": "payments",
    "notifications": "notifications",
    "client": "invoices",
    "client-payments": "payments",
}


def navigation_section(view_name: str) -> str | None:
    """The navigation item of the page named ``view_name`` ("billing:invoice" -> "invoices")."""
    return _SECTION_OF_VIEW.get(view_name) or _SECTION_OF_NAMESPACE.get(view_name.rpartition(":")[0])


def portal(request):
    match = getattr(request, "resolver_match", None)
    return {"msp_name": settings.MSP_NAME, "nav_section": navigation_section(match.view_name) if match else None}
