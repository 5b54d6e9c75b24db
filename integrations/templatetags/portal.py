from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

from integrations.locale import tenant_locale

register = template.Library()


@register.filter
def seconds_human(value) -> str:
    """12 -> '12 s', 130 -> '2 min 10 s', 4000 -> '1 h 6 min'."""
    if value in (None, ""):
        return ""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    seconds = int(round(float(value)))
    if seconds < 60:
        return _("%(seconds)d s") % {"seconds": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        if seconds:
            return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": seconds}
        return _("%(minutes)d min") % {"minutes": minutes}
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}


@register.filter
def money(value, currency=None) -> str:
    """An amount as the tenant's culture writes it, in ``currency`` (a code, or an object with a
    ``currency``: an invoice, a payment), else the tenant's: 1234.5 -> "$1,234.50" (en-US),
    "1.234,50 €" (de-DE); None -> "".

    The one way amounts are shown. Fast on long lists: the format is computed once per
    culture and currency (core.formats), the tenant's facts once a minute per process."""
    if value is None or value == "":
        return ""
    if currency is not None and not isinstance(currency, str):
        currency = getattr(currency, "currency", "")
    return tenant_locale().money(value, currency)


@register.filter(expects_localtime=True)
def day(value) -> str:
    """A date or datetime (in the portal's time zone) in the tenant's date format; None -> ""."""
    if value is None or value == "":
        return ""
    return tenant_locale().day(value)
