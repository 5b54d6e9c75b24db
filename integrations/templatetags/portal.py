from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django import template

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
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


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
