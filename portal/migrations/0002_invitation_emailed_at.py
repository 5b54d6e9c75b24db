from django.db import migrations, models


def mark_earlier_invitations_emailed(apps, schema_editor):
    # Every invitation before this migration was e-mailed in the request that created it.
    invitation = apps.get_model("portal", "PortalInvitation")
    invitation.objects.filter(emailed_at__isnull=True).update(emailed_at=models.F("sent_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="portalinvitation",
            name="emailed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_earlier_invitations_emailed, migrations.RunPython.noop),
    ]
