"""The sandbox's front page (``GET /``): what this server is, and what the portal created in
it since it started (the tickets its notifications made), newest first, so a demo can show
the ticket a notification made.

Read-only and unauthenticated, like the control API: the sandbox is a development tool on a
loopback address. The page is not an API endpoint: it is not counted in the request log, and
faults and rate limits do not apply to it. Every value shown is HTML-escaped (ticket titles
come from the portal, which takes them from user-editable names).
"""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING, Any

from .data import ENTITIES

if TYPE_CHECKING:
    from .app import Sandbox

MAX_ROWS = 200

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; }
body { color: #212529; background: #f8f9fa; }
header { background: #212529; color: #fff; padding: .75rem 1.25rem; }
header h1 { font-size: 1.25rem; margin: 0; }
main { padding: 1rem 1.25rem 2rem; max-width: 72rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.muted { color: #6c757d; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #dee2e6; vertical-align: top; }
th { background: #e9ecef; font-weight: 600; }
.table-wrap { overflow-x: auto; }
code { background: #e9ecef; padding: 0 .25rem; border-radius: .2rem; }
"""


def _when(ts: Any) -> str:
    """A record's instant as 'YYYY-MM-DD HH:MM UTC'."""
    seconds = getattr(ts, "t", None)
    if seconds is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def created_tickets(app: Sandbox) -> list[dict[str, Any]]:
    """Tickets created since the sandbox started or was reset (POST /v2/servicedesk/tickets,
    or the control API), newest first. Generated tickets are not listed."""
    tenant = app.tenant
    generated = tenant.specs["tickets"].n
    with tenant.lock:
        records = [dict(rec) for i, rec in tenant.overlay["tickets"].items() if i > generated]
    records.sort(key=lambda rec: rec["id"], reverse=True)
    return records


def _ticket_row(ticket: dict[str, Any]) -> str:
    def cell(key: str) -> str:
        return escape(str(ticket.get(key) or ""))

    account = f"{cell('accountName')} <span class='muted'>(account {cell('accountId')})</span>"
    when = escape(_when(ticket.get("createdOn")))
    return (
        f"<tr><td>{cell('ticketNumber')}</td><td>{when}</td><td>{cell('title')}</td><td>{account}</td>"
        f"<td>{cell('queueName')}</td><td>{cell('priorityName')}</td><td>{cell('statusName')}</td></tr>"
    )


def _tickets_section(app: Sandbox) -> str:
    tickets = created_tickets(app)
    intro = (
        "Tickets created here since the sandbox started (by the portal's notifications through "
        "<code>POST /v2/servicedesk/tickets</code>, or through the control API), newest first."
    )
    if not tickets:
        return (
            f'<section id="tickets"><h2>Tickets created (0)</h2><p class="muted">{intro}</p>'
            '<p data-testid="no-tickets">None yet. Send a test notification from the portal '
            "(Configurations &gt; Notifications &gt; Send test notification) and reload this page.</p></section>"
        )
    rows = "".join(_ticket_row(ticket) for ticket in tickets[:MAX_ROWS])
    more = f'<p class="muted">The {MAX_ROWS} newest of {len(tickets)} are shown.</p>' if len(tickets) > MAX_ROWS else ""
    return (
        f'<section id="tickets"><h2>Tickets created ({len(tickets)})</h2><p class="muted">{intro}</p>'
        '<div class="table-wrap"><table data-testid="created-tickets"><thead><tr>'
        "<th>Number</th><th>Created</th><th>Title</th><th>Account</th><th>Queue</th><th>Priority</th><th>Status</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div>{more}</section>"
    )


def page(app: Sandbox) -> bytes:
    """The whole page, as UTF-8 HTML."""
    opts = app.opts
    counts = ", ".join(f"{app.tenant.count(entity):,} {entity}" for entity in ENTITIES)
    with app.lock:
        usernames = ", ".join(escape(user.username) for user in app.users.values())
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kaseya BMS sandbox · {escape(opts.tenant)}</title><style>{_STYLE}</style></head>
<body><header><h1>Kaseya BMS sandbox</h1></header><main>
<p>A stand-in for one Kaseya BMS tenant, speaking the BMS REST API v2 (paths, envelopes and
field names from the real OpenAPI document), for development, demos and tests. The billing
portal talks to it at this address exactly as it would to a real BMS.</p>
<ul>
<li>Company Name (tenant): <strong>{escape(opts.tenant)}</strong>; API users: {usernames or "none"}</li>
<li>Data: {escape(counts)}, generated (the same on every start) plus what was changed since</li>
<li>The API is under <code>/v2/</code>; the sandbox's own control API (reset, faults, users,
mutations, request counts) under <code>/_sandbox/</code>, e.g. <a href="/_sandbox/health">/_sandbox/health</a>.
See <code>bms_sandbox/README.md</code>.</li>
</ul>
{_tickets_section(app)}
<p class="muted">Reload the page to see new records. Nothing is stored on disk: a restart or a
reset (<code>POST /_sandbox/reset</code>) forgets them.</p>
</main></body></html>
"""
    return body.encode()
