"""Channels: how a delivery leaves the portal. One module per channel, one row per channel in
``settings.NOTIFICATIONS_CHANNELS`` (``Channel`` value -> dotted path of a ``DeliveryChannel``
class), resolved once per process, as Django resolves its mail backend.

A new channel (SMS, a second PSA's tickets) is a module with its ``DeliveryChannel`` class and
a row in that table (plus its ``Channel`` value and, in ``tasks.py``, the task that states how
its messages are acknowledged). Tests swap a channel for a fault-injecting one the same way.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from notifications.channels.base import DeliveryChannel


@functools.cache
def _channels() -> dict[str, DeliveryChannel]:
    return {str(key): import_string(path)() for key, path in settings.NOTIFICATIONS_CHANNELS.items()}


def channel_for(channel: str) -> DeliveryChannel:
    """The channel class (an instance) that sends deliveries of this ``Channel``."""
    try:
        return _channels()[str(channel)]
    except KeyError:
        raise ImproperlyConfigured(f"settings.NOTIFICATIONS_CHANNELS has no {channel!r} channel.") from None


@receiver(setting_changed, dispatch_uid="notifications.channels.reset")
def _reset_on_setting_changed(setting: str, **kwargs) -> None:
    if setting == "NOTIFICATIONS_CHANNELS":
        _channels.cache_clear()
