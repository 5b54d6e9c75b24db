"""Test-only accounting posters (never in production code): the real installation, and a crash at
the worst moment."""

import logging

logger = logging.getLogger(__name__)


class CrashAfterPost:
    """Passes every call to the real poster, and dies the moment the package has created the payment:
    the worker killed after the PUT and before the portal's commit, which exactly-once must survive."""

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def post_payment(self, *args, **kwargs):
        posted = self._real.post_payment(*args, **kwargs)
        logger.warning("Fault injection: the worker dies after the package posted %s", posted)
        raise SystemExit("the worker died after the accounting package posted the payment")
