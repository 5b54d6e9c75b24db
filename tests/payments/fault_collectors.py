"""Test-only payment collectors, selected with PAYMENTS_COLLECTOR_WRAPPER (never in production code)."""

import logging
import os

logger = logging.getLogger(__name__)


class ExitAfterConfirm:
    """Passes every call to the real collector, and ends the worker process the moment the
    processor has confirmed a charge: the crash between the money moving and the portal
    recording it, which exactly-once must survive."""

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def confirm_charge(self, *args, **kwargs):
        charge = self._real.confirm_charge(*args, **kwargs)
        logger.warning("Fault injection: the worker exits after the processor confirmed %s", charge)
        os._exit(70)


class CrashAfterConfirm(ExitAfterConfirm):
    """The same crash inside the test process: the processor confirmed, then the caller dies."""

    def confirm_charge(self, *args, **kwargs):
        self._real.confirm_charge(*args, **kwargs)
        raise SystemExit("the worker died after the processor confirmed the charge")
