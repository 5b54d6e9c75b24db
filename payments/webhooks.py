"""The processor's webhook endpoint: verify, store once, answer fast.

Invariants: the signature is checked on the raw body before anything is parsed or stored;
each event id is stored once; the answer never waits for Stripe (a worker processes the event
after the commit); this is the only view exempt from CSRF (Stripe cannot hold a token; the
signature is its proof)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.capabilities import WebhookRejected
from payments import services

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 512 * 1024  # Stripe events are a few kilobytes


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
        return JsonResponse({"error": "too large"}, status=413)
    try:
        notice, is_new = services.processor_event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except services.PaymentsUnavailable:
        return JsonResponse({"error": "payments are not configured"}, status=503)
    except WebhookRejected as exc:
        logger.warning("Webhook refused: %s", exc)
        return JsonResponse({"error": "signature refused"}, status=400)
    return JsonResponse({"received": True, "id": notice.id, "new": is_new})
