from django.http import HttpResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request):
    """For load balancers and uptime checks: the web process answers (no database)."""
    return HttpResponse("ok", content_type="text/plain")
