from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.translation import gettext as _

register = template.Library()
CENTS = Decimal("0.01")


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
def money(value) -> str:
    """An amount with two decimals and thousands separators: 1234.5 -> '1,234.50'; None -> ''.

    The one way amounts are shown (floatformat|intcomma is far slower on long lists)."""
    if value in (None, ""):
        return ""
    amount = Decimal(str(value)).quantize(CENTS, rounding=ROUND_HALF_UP)
    return f"{amount if amount else amount.copy_abs():,}"  # never "-0.00"


@register.filter(expects_localtime=True)
def day(value) -> str:
    """A date or datetime as YYYY-MM-DD (datetimes in the portal's time zone); None -> ''."""
    if value in (None, ""):
        return ""
    return value.strftime("%Y-%m-%d")
