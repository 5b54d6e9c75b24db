# The payments fixtures (localstripe, the Stripe integration, an organization) serve here too.
from tests.payments.conftest import localstripe, localstripe_server, organization, stripe_integration  # noqa: F401
