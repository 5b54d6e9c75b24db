"""Ticket markers are signed from now on. Deliveries that exist at the upgrade may have opened
a ticket with the unsigned marker, so they (and only they) may still adopt one: the field is
added as True for existing rows, then defaults to False for every new delivery."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="accepts_unsigned_marker",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="accepts_unsigned_marker",
            field=models.BooleanField(default=False),
        ),
    ]
