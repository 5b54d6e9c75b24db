"""Read-only admin pages of the synced organizations, contacts, contracts and tickets
(accounts.admin_site): for troubleshooting; the sync owns them."""

from accounts.admin_site import register_read_only
from organizations.models import Contact, Contract, Organization, Ticket

register_read_only(Organization, Contact, Contract, Ticket)
