"""Notifications: events worth telling someone about, sent by e-mail and as PSA service tickets.

Invariants (each stated where it is kept):
- Every event goes through ``firing.notification_fire``: the Notification and one Delivery per
  channel are committed together, and tasks are queued only after that commit. An event with
  an ``event_key`` notifies once.
- A delivery is sent only under its lease (``delivery.claim``); results are recorded only under
  the same lease; transient errors are retried up to NOTIFICATIONS_MAX_ATTEMPTS; the sweep
  re-queues lost tasks.
- Exactly one ticket per delivery (``channels.psa_ticket``): lease + marker in the ticket's
  details + find-before-create on every attempt after the first.

Modules, one job each: ``firing`` (types, recipients, dedupe keys, delivery rows, enqueue on
commit), ``rendering`` (subjects, bodies, ticket text, previews, sample facts), ``delivery``
(claim, finish, retry, sweep: shared by every channel), ``channels`` (one module per channel,
chosen through settings.NOTIFICATIONS_CHANNELS), ``events`` (other apps' events become
notifications), ``actions`` (staff: retry, settings, test), ``ticket_config`` (the Service
Ticket Configuration), ``selectors`` (reads), ``tasks`` (thin Celery wrappers).
"""
