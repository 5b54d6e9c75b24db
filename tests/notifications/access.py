"""Expected answers of the notification URLs (see tests/accounts/test_access_matrix.py)."""

from tests.roles import STAFF

NOTIFICATIONS_ACCESS = {
    "notifications:settings": ({}, "get", STAFF),
    "notifications:log": ({}, "get", STAFF),
}
