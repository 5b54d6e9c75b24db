"""The sign-in backend (settings.AUTHENTICATION_BACKENDS): Django's model backend, with each
request's user loaded together with whether its organization was deleted, in one query.

The client pages check that state on every request (accounts.permissions); the value rides
on the user as the ``accounts.models.ORGANIZATION_DELETED_AT`` attribute.
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import ORGANIZATION_DELETED_AT
from organizations.models import Organization


class PortalBackend(ModelBackend):
    """Django's model backend. Each request's user comes with whether its organization was
    deleted (the client pages check that on every request): one small query, not two."""

    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = next(iter(model._default_manager.raw(_user_query(), [pk])), None)
        return user if user is not None and self.user_can_authenticate(user) else None


@cache  # the same text for every request
def _user_query() -> str:
    # Raw SQL: this runs on every request, and compiling the ORM query costs as much as
    # running it. Only names from the models' metadata go into it; the id is a parameter.
    q = connection.ops.quote_name
    users, organizations = q(get_user_model()._meta.db_table), q(Organization._meta.db_table)
    select = f"SELECT u.*, o.{q('deleted_at')} AS {q(ORGANIZATION_DELETED_AT)}"
    join = f"FROM {users} u LEFT JOIN {organizations} o ON o.{q('id')} = u.{q('organization_id')}"
    return f"{select} {join} WHERE u.{q('id')} = %s"  # noqa: S608
