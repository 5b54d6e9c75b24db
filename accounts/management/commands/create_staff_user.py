"""``manage.py create_staff_user --email ... --role master_admin|billing_staff``: a staff
account for the first install (or a shell-less recovery). The password is read from the
environment variable named by ``--password-env`` (default ``PORTAL_STAFF_PASSWORD``) or
prompted twice; Django's password validators must accept it. It is never echoed or logged."""

import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import STAFF_ROLES, User
from accounts.services import audit_record

PASSWORD_ENV = "PORTAL_STAFF_PASSWORD"


class Command(BaseCommand):
    help = "Create a staff user (Master Admin or Billing staff) with a password."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=sorted(STAFF_ROLES))
        parser.add_argument("--full-name", default="")
        parser.add_argument(
            "--password-env",
            default=PASSWORD_ENV,
            help=f"The environment variable holding the password (default {PASSWORD_ENV}); prompted when unset.",
        )

    def handle(self, *args, email, role, full_name, password_env, **options):
        email = email.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an e-mail address.") from None
        if User.objects.filter(email__iexact=email).exists():
            raise CommandError(f"{email} already has an account.")
        password = os.environ.get(password_env) or self._prompt()
        candidate = User(email=email, full_name=full_name, role=role)
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            raise CommandError("The password is refused: " + " ".join(exc.messages)) from None
        with transaction.atomic():
            user = User.objects.create_user(email, password, role=role, full_name=full_name[:200])
            audit_record(
                actor=None,
                action="accounts.user.created",
                target=email,
                summary=f"Created {email} as {user.get_role_display()} (manage.py create_staff_user)",
                role=role,
            )
        self.stdout.write(self.style.SUCCESS(f"Created {email} ({user.get_role_display()})."))

    def _prompt(self) -> str:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        if not password:
            raise CommandError("A password is required.")
        return password
