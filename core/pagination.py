"""Paging rule shared by the list pages: a page number out of range (a stale link after
records went away, a hand-edited URL) shows the nearest page, never a 404: past the end,
the last page; not a number, the first. The client invoice list (portal.views) follows
the same rule with ``Paginator.get_page``."""

from django.core.paginator import Page, Paginator


class NearestPageMixin:
    """For a ``ListView`` (MultipleObjectMixin): replaces its 404 on a page out of range."""

    def paginate_queryset(self, queryset, page_size: int) -> tuple[Paginator, Page, list, bool]:
        paginator = self.get_paginator(
            queryset, page_size, orphans=self.get_paginate_orphans(), allow_empty_first_page=self.get_allow_empty()
        )
        number = self.kwargs.get(self.page_kwarg) or self.request.GET.get(self.page_kwarg) or 1
        if number == "last":
            number = paginator.num_pages
        page = paginator.get_page(number)
        return paginator, page, page.object_list, page.has_other_pages()
