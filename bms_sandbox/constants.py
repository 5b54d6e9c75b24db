"""Sandbox conventions where the real BMS values are undocumented (see README)."""

from __future__ import annotations

# UserAccessRight.MainMenuId per module: our convention, real ids are undocumented.
MAIN_MENU_IDS: dict[str, int] = {"Home": 1, "ServiceDesk": 2, "CRM": 3, "Projects": 4, "Finance": 5, "Admin": 6}
MODULES: tuple[str, ...] = tuple(MAIN_MENU_IDS)

# Attachment module ids (/v2/system/attachments/{moduleId}/...). 22 = tickets is seen in
# public client code; the invoice module id is our assumption.
TICKET_MODULE_ID = 22
INVOICE_MODULE_ID = 9
# An invoice has a PDF attachment unless its id is a multiple of this.
INVOICE_WITHOUT_PDF_EVERY = 7
ATTACHMENT_ID_OFFSET = 700_000  # attachment id = offset + invoice id

# SpecialFeature id reported by userinfo for "Has API Access" (assumed).
HAS_API_ACCESS_FEATURE_ID = 1

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100

# Error codes. 978001 "Security Error" is observed on live BMS; the rest are ours.
ERR_SECURITY = 978001
ERR_VALIDATION = 400
ERR_BAD_CREDENTIALS = 978002
ERR_UNKNOWN_TENANT = 978003
ERR_NO_API_ACCESS = 978004
ERR_FORBIDDEN = 403
ERR_NOT_FOUND = 404
ERR_RATE_LIMIT = 429
ERR_SERVER = 500

# Invoice statuses (StatusId values are undocumented; clients should use StatusName).
INVOICE_STATUSES: dict[int, str] = {1: "Draft", 2: "Sent", 3: "Partially Paid", 4: "Paid", 5: "Void"}
INV_DRAFT, INV_SENT, INV_PARTIAL, INV_PAID, INV_VOID = 1, 2, 3, 4, 5

# Ticket lookups: (id, name, ...) rows, emitted by /v2/system/*/lookup.
QUEUES = (
    {"id": 1, "name": "Service Desk", "isActive": True},
    {"id": 2, "name": "Network Operations", "isActive": True},
    {"id": 3, "name": "Billing", "isActive": True},
    {"id": 4, "name": "Projects", "isActive": True},
    {"id": 5, "name": "Legacy Queue", "isActive": False},
)
PRIORITIES = (
    {"id": 1, "name": "Low", "color": "#6c757d", "isDefault": False},
    {"id": 2, "name": "Medium", "color": "#0d6efd", "isDefault": True},
    {"id": 3, "name": "High", "color": "#fd7e14", "isDefault": False},
    {"id": 4, "name": "Critical", "color": "#dc3545", "isDefault": False},
)
# typeId: 1 = open, 2 = closed (assumed meaning).
STATUSES = (
    {
        "id": 1,
        "name": "New",
        "color": "#0d6efd",
        "fontColor": "#ffffff",
        "statusOrder": 1,
        "typeId": 1,
        "isSystemStatus": 1,
        "slaEventId": None,
        "isActive": True,
    },
    {
        "id": 2,
        "name": "In Progress",
        "color": "#ffc107",
        "fontColor": "#000000",
        "statusOrder": 2,
        "typeId": 1,
        "isSystemStatus": 0,
        "slaEventId": None,
        "isActive": True,
    },
    {
        "id": 3,
        "name": "Waiting on Customer",
        "color": "#6f42c1",
        "fontColor": "#ffffff",
        "statusOrder": 3,
        "typeId": 1,
        "isSystemStatus": 0,
        "slaEventId": None,
        "isActive": True,
    },
    {
        "id": 4,
        "name": "Scheduled",
        "color": "#20c997",
        "fontColor": "#000000",
        "statusOrder": 4,
        "typeId": 1,
        "isSystemStatus": 0,
        "slaEventId": None,
        "isActive": True,
    },
    {
        "id": 5,
        "name": "Completed",
        "color": "#198754",
        "fontColor": "#ffffff",
        "statusOrder": 5,
        "typeId": 2,
        "isSystemStatus": 1,
        "slaEventId": None,
        "isActive": True,
    },
)
STATUS_COMPLETED = 5
ISSUE_TYPES = (
    {"id": 1, "name": "Hardware", "isActive": True},
    {"id": 2, "name": "Software", "isActive": True},
    {"id": 3, "name": "Network", "isActive": True},
    {"id": 4, "name": "Billing", "isActive": True},
    {"id": 5, "name": "Security", "isActive": True},
)
# sub-issue type id = issue type id * 10 + n
ISSUE_SUBTYPES: dict[int, tuple[dict[str, object], ...]] = {
    1: ({"id": 11, "name": "Workstation"}, {"id": 12, "name": "Printer"}, {"id": 13, "name": "Server"}),
    2: ({"id": 21, "name": "Email"}, {"id": 22, "name": "Line of Business App"}, {"id": 23, "name": "Office"}),
    3: ({"id": 31, "name": "Wi-Fi"}, {"id": 32, "name": "VPN"}, {"id": 33, "name": "Firewall"}),
    4: ({"id": 41, "name": "Invoice Question"}, {"id": 42, "name": "Payment"}),
    5: ({"id": 51, "name": "Phishing"}, {"id": 52, "name": "Malware"}, {"id": 53, "name": "Access Review"}),
}
# Generic /v2/system/lookup/{tableName}: real table names are undocumented; these are ours
# (matched case-insensitively).
LOOKUP_TABLES: dict[str, tuple[dict[str, object], ...]] = {
    "TicketType": (
        {"id": 1, "name": "Service Request", "isDefault": True, "isActive": True},
        {"id": 2, "name": "Incident", "isDefault": False, "isActive": True},
        {"id": 3, "name": "Problem", "isDefault": False, "isActive": True},
        {"id": 4, "name": "Change Request", "isDefault": False, "isActive": True},
    ),
    # Ids follow the legacy v1 sources (0 portal, 1 phone, 4 email, 5 monitoring, 8 other).
    "TicketSource": (
        {"id": 0, "name": "Client Portal", "isDefault": False, "isActive": True},
        {"id": 1, "name": "Phone", "isDefault": True, "isActive": True},
        {"id": 4, "name": "Email", "isDefault": False, "isActive": True},
        {"id": 5, "name": "Monitoring", "isDefault": False, "isActive": True},
        {"id": 8, "name": "Other", "isDefault": False, "isActive": True},
    ),
}
WORK_TYPES = ({"id": 1, "name": "Remote Support"}, {"id": 2, "name": "Onsite Support"})
SLAS = ({"id": 1, "name": "Standard SLA"}, {"id": 2, "name": "Premium SLA"})
