# The client side uses billing's fixtures: a fresh MEDIA_ROOT per test (autouse: cached invoice
# images), an invoice with a line, and client_of(organization) -> (signed-in contact, web client).
from tests.billing.conftest import _media_root, client_of, org_invoice  # noqa: F401
