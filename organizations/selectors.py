from django.db.models import Count, Q, QuerySet, Sum

from organizations.models import Organization


def organization_list(*, search: str = "") -> QuerySet[Organization]:
    organizations = Organization.objects.select_related("source").annotate(
        open_invoices=Count("invoices", filter=Q(invoices__balance_due__gt=0, invoices__deleted_at__isnull=True)),
        balance=Sum("invoices__balance_due", filter=Q(invoices__deleted_at__isnull=True)),
    )
    if search:
        organizations = organizations.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return organizations.order_by("name", "id")
