"""Expected answers of the notification URLs (see tests/accounts/test_access_matrix.py)."""

from tests.roles import ADMIN, STAFF

NOTIFICATIONS_ACCESS = {
    "notifications:settings": ({}, "get", STAFF),  # POST (save): Master Admin only
    "notifications:sub-issue-types": ({}, "get", STAFF),
    "notifications:test": ({}, "get", {ADMIN}),
    "notifications:log": ({}, "get", STAFF),
    "notifications:detail": ({"pk": 1}, "get", STAFF),
    "notifications:retry": ({"pk": 1}, "post", STAFF),
}
