"""Xero: the vendor client (plain Python, no Django) in ``client``, ``types``, ``exceptions`` and
``transport``. The Django provider (card, settings, OAuth views, token storage) comes later."""
