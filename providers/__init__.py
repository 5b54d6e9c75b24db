"""Integration providers: one Django app per vendor. Nothing outside a provider's package imports it;
the portal reaches it through ``integrations.registry``."""
