"""Expected answers of the notification URLs (see tests/accounts/test_access_matrix.py).

An entry's first element is the URL's kwargs, or a function of the signed-in user creating
the object the URL names."""

from notifications.models import Delivery, DeliveryStatus, Notification, NotificationKind
from tests.roles import ADMIN, STAFF


def _notification() -> Notification:
    return Notification.objects.create(kind=NotificationKind.values[0], context={"subject": "Matrix"})


def notification(user) -> dict:
    return {"pk": _notification().pk}


def failed_delivery(user) -> dict:
    delivery = Delivery.objects.create(
        notification=_notification(),
        channel="email",
        dedupe_key=f"matrix-{Notification.objects.count()}",
        status=DeliveryStatus.FAILED,
        reason="SMTP refused",
        recipients=["billing@client.example"],
    )
    return {"pk": delivery.pk}


NOTIFICATIONS_ACCESS = {
    "notifications:settings": ({}, "get", STAFF),  # POST (save): Master Admin only
    "notifications:sub-issue-types": ({}, "get", STAFF),
    "notifications:test": ({}, "get", {ADMIN}),
    "notifications:log": ({}, "get", STAFF),
    "notifications:detail": (notification, "get", STAFF),
    "notifications:retry": (failed_delivery, "post", STAFF),
}
