"""Test-only ticket channels that crash right after the PSA created the ticket and before the
portal recorded it: the crash the exactly-once design must survive. Selected like any channel,
through settings.NOTIFICATIONS_CHANNELS (in-process: the ``settings`` fixture; a worker
process: its NOTIFICATIONS_CHANNELS environment variable, see ``ticket_channel_env``)."""

from __future__ import annotations

import json
import logging
import os

from django.conf import settings

from notifications.channels.psa_ticket import PsaTicketChannel

logger = logging.getLogger(__name__)


class SimulatedCrash(BaseException):
    """Like a killed process: nothing catches it."""


class CrashAfterTicketCreated(PsaTicketChannel):
    """In-process: raise SimulatedCrash once the ticket exists."""

    def create_ticket(self, installation, draft):
        super().create_ticket(installation, draft)
        raise SimulatedCrash()


class ExitAfterTicketCreated(PsaTicketChannel):
    """In a worker process: the process ends once the ticket exists (nothing is recorded)."""

    def create_ticket(self, installation, draft):
        ticket = super().create_ticket(installation, draft)
        logger.warning("Fault injection: the worker exits after creating ticket %s", ticket.number)
        os._exit(1)


def _dotted(channel_class: type) -> str:
    return f"{channel_class.__module__}.{channel_class.__qualname__}"


def ticket_channel_setting(channel_class: type) -> dict[str, str]:
    """settings.NOTIFICATIONS_CHANNELS with the ticket row replaced by ``channel_class``."""
    return {**settings.NOTIFICATIONS_CHANNELS, "ticket": _dotted(channel_class)}


def ticket_channel_env(channel_class: type) -> dict[str, str]:
    """A worker's environment variables that replace its ticket channel with ``channel_class``."""
    return {"NOTIFICATIONS_CHANNELS": json.dumps({"ticket": _dotted(channel_class)})}
