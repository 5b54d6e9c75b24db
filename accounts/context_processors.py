from django.conf import settings


def portal(request):
    return {"msp_name": settings.MSP_NAME}
