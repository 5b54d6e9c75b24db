from datetime import timedelta

from django import template

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
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"

