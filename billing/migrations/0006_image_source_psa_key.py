"""Invoice Image Data names its sources by category ("psa"), not by provider key."""

from django.db import migrations


def forwards(apps, schema_editor):
    apps.get_model("billing", "InvoiceImageSource").objects.filter(key="kaseya-bms").update(key="psa")


def backwards(apps, schema_editor):
    apps.get_model("billing", "InvoiceImageSource").objects.filter(key="psa").update(key="kaseya-bms")


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_invoice_source_created")]

    operations = [migrations.RunPython(forwards, backwards)]
