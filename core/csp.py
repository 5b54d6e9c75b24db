"""The Content-Security-Policy header, from ``settings.SECURE_CSP``.

Invariants:
- Every response carries the policy (enforced, never report-only), unless a view set one of
  its own, or it is a PDF: Chrome shows PDFs with a plugin that a policy of the PDF's own
  could block, and a PDF runs none of the portal's scripts.
- The policy allows no inline script: the templates load every script from a file
  (tests/test_csp.py scans them), so no nonce or hash is needed.
- ``SECURE_CSP`` has the shape of Django 6.0's setting of that name (directive -> sources), so
  moving to Django's own middleware is a settings-only change. A source may be lazy (the
  settings' Stripe origins): the header is built for each response, from the settings as they
  are then.
"""

from collections.abc import Mapping, Sequence

from django.conf import settings

HEADER = "Content-Security-Policy"
SKIPPED_CONTENT_TYPES = ("application/pdf",)


def policy_header(policy: Mapping[str, Sequence[str]]) -> str:
    """``{"script-src": ["'self'", "https://js.stripe.com"]}`` -> ``script-src 'self' https://js.stripe.com``."""
    return "; ".join(
        " ".join([directive, *dict.fromkeys(str(source) for source in sources)])
        for directive, sources in policy.items()
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if HEADER not in response.headers and not response.get("Content-Type", "").startswith(SKIPPED_CONTENT_TYPES):
            response.headers[HEADER] = policy_header(settings.SECURE_CSP)
        return response
