"""Xero as the integrated accounting package.

The vendor client is plain Python (no Django): ``client``, ``types``, ``exceptions``, ``transport``.
The Django provider: ``provider`` (the card), ``installation`` (the capabilities), ``tokens`` (OAuth
tokens, refreshed one at a time), ``pacing`` (the shared per-organisation budget), ``oauth`` and
``views`` (Connect, the callback, choosing the organisation, Unmatched in Xero), ``matching`` and
``services`` (contacts matched to organizations, invoices remembered)."""
