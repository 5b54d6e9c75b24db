from django import template
from django.urls import reverse

from accounts.context_processors import navigation_section

register = template.Library()


@register.inclusion_tag("_nav_link.html", takes_context=True)
def nav_link(context, url_name: str, label: str, *, icon: str = "", link_class: str = "", item_class: str = ""):
    """An item of the navigation, marked current (``active``, and ``aria-current``) when the
    page is under it: "page" on the page it links to, "true" on a page within (an invoice
    under Invoices)."""
    url = reverse(url_name)
    section = context.get("nav_section")
    current = None
    if section is not None and section == navigation_section(url_name):
        request = context.get("request")
        current = "page" if request is not None and request.path == url else "true"
    return {
        "url": url,
        "label": label,
        "icon": icon,
        "link_class": link_class,
        "item_class": item_class,
        "current": current,
    }
