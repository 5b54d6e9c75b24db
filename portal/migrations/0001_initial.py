"""The portal's models, as they came from billing: their tables already exist.

billing 0007 renamed billing_portalinvitation and billing_portalaccessrequest to the names
this app's models use, so here only Django's state learns of them (no SQL), and the content
types follow, so nothing that points at them (permissions) is left on a stale "billing" one.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ("portalinvitation", "portalaccessrequest")


def _move_content_types(apps, schema_editor, *, from_app: str, to_app: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias)
    for model in MODELS:
        if not content_type.filter(app_label=to_app, model=model).exists():
            content_type.filter(app_label=from_app, model=model).update(app_label=to_app)


def forwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, from_app="billing", to_app="portal")


def backwards(apps, schema_editor):
    _move_content_types(apps, schema_editor, from_app="portal", to_app="billing")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("billing", "0007_portal_models_move_to_portal"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("organizations", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PortalAccessRequest",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("email", models.EmailField(max_length=254)),
                        ("full_name", models.CharField(max_length=200)),
                        ("company", models.CharField(blank=True, max_length=200)),
                        ("message", models.TextField(blank=True, max_length=1000)),
                        (
                            "status",
                            models.CharField(
                                choices=[("pending", "Pending"), ("invited", "Invited"), ("dismissed", "Dismissed")],
                                default="pending",
                                max_length=20,
                            ),
                        ),
                        ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("handled_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "contact",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="organizations.contact",
                            ),
                        ),
                        (
                            "handled_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "organization",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="organizations.organization",
                            ),
                        ),
                    ],
                    options={"ordering": ["-created_at", "-id"]},
                ),
                migrations.CreateModel(
                    name="PortalInvitation",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("sent_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("accepted_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "contact",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="organizations.contact",
                            ),
                        ),
                        (
                            "invited_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="portal_invitations",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"ordering": ["-sent_at", "-id"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
