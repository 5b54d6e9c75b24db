from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import F

from accounts.models import ORGANIZATION_DELETED_AT


class PortalBackend(ModelBackend):
    """Django's model backend. Each request's user comes with whether its organization was
    deleted (the client pages check that on every request): one small query, not two."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.annotate(**{ORGANIZATION_DELETED_AT: F("organization__deleted_at")})
        user = users.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
