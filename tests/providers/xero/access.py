"""Expected answers of the Xero provider's URLs (see tests/accounts/test_access_matrix.py)."""

from tests.roles import ADMIN, STAFF

XERO_ACCESS = {
    # Connecting is the Master Admin's, as Settings are.
    "integrations:xero:connect": ({}, "post", {ADMIN}),
    "integrations:xero:callback": ({}, "get", {ADMIN}),
    "integrations:xero:choose": ({}, "get", {ADMIN}),
    # Organizations > Unmatched in Xero: staff view and link.
    "integrations:xero:unmatched": ({}, "get", STAFF),
    "integrations:xero:link": ({}, "post", STAFF),
    "integrations:xero:unlink": ({"pk": 1}, "post", STAFF),
}
