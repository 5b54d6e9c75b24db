"""Test-only ticket channels that crash right after the PSA created the ticket and before the
portal recorded it: the crash the exactly-once design must survive. Selected like any channel,
through settings.NOTIFICATIONS_CHANNELS (in-process: the ``settings`` fixture; a worker
process: its NOTIFICATIONS_CHANNELS environment variable, see ``ticket_channel_env``)."""

from __future__ import annotations

import json
import logging
import os
import socket
from unittest import mock

from django.conf import settings

from notifications.channels.psa_ticket import PsaTicketChannel
from providers.kaseya_bms.server_url import vet_server_url

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


class DiesWhileSending(PsaTicketChannel):
    """In-process: every attempt dies before it records anything, as a killed worker does."""

    def send(self, delivery):
        raise SimulatedCrash()


def _resolver_down(host: str) -> list[str]:
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


def vet_server_url_while_dns_is_down(url, **kwargs):
    """What ``vet_server_url`` raises while the resolver fails: InvalidServerUrl (DNS lookup failed)."""
    return vet_server_url("https://api.bms.kaseya.com", resolve=_resolver_down)


class DnsFailsOnFirstAttempt(PsaTicketChannel):
    """In a worker process: the first attempt of every delivery cannot build the BMS client,
    the resolver failing for a moment; later attempts find DNS answering again."""

    def send(self, delivery):
        if delivery.attempts > 1:
            return super().send(delivery)
        with mock.patch("providers.kaseya_bms.installation.vet_server_url", vet_server_url_while_dns_is_down):
            return super().send(delivery)
