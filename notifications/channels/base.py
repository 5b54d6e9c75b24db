"""What a channel is: the class every channel extends, and what one attempt may end in.

A channel only sends: ``notifications.delivery`` claims the delivery (the lease), calls
``send``, and records a raised ``DeliveryRetry`` / ``DeliveryFailed`` (backoff, attempts cap);
the channel records its success with ``notifications.delivery.finish``, under that lease.
"""

from __future__ import annotations

from dataclasses import dataclass

from notifications.models import Delivery


class DeliveryFailed(Exception):
    """A permanent failure: retrying cannot help until someone changes something."""


class DeliveryRetry(Exception):
    """A transient failure: try again later (not before ``retry_after`` seconds)."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    retry_in: float | None = None  # seconds: enqueue the task again


class DeliveryChannel:
    """One way a notification leaves the portal (an e-mail, a PSA service ticket...)."""

    def address(self, delivery: Delivery) -> str:
        """When the notification fires: fill in where the delivery goes (unsaved row).
        Returns why nothing can be sent on this channel, or "" when it can."""
        return ""

    def readdress(self, delivery: Delivery) -> str:
        """When staff retry it from the log: look again where it goes (in memory).
        Returns why nothing can be sent, or "" when it can. By default: where it went before."""
        return ""

    def send(self, delivery: Delivery) -> DeliveryOutcome:
        """One attempt on a claimed delivery (``delivery.lease_token`` is the lease).

        Records success itself (``notifications.delivery.finish``) and returns the outcome;
        raises ``DeliveryRetry`` or ``DeliveryFailed`` for the shared mechanics to record."""
        raise NotImplementedError
