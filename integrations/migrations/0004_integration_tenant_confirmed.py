from django.db import migrations, models


def confirm_existing(apps, schema_editor):
    # Integrations that already sync were set up against the tenant their source holds.
    apps.get_model("integrations", "Integration").objects.filter(data_source__isnull=False).update(
        tenant_confirmed=True
    )


class Migration(migrations.Migration):
    dependencies = [("integrations", "0003_sync_seen_page")]

    operations = [
        migrations.AddField(
            model_name="integration", name="tenant_confirmed", field=models.BooleanField(default=False)
        ),
        migrations.AddField(
            model_name="datasource", name="tenant_identified", field=models.BooleanField(default=False)
        ),
        migrations.RunPython(confirm_existing, migrations.RunPython.noop),
    ]
