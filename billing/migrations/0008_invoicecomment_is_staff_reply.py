from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_portal_models_move_to_portal"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoicecomment",
            name="is_staff_reply",
            field=models.BooleanField(default=False),
        ),
    ]
