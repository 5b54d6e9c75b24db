"""PortalInvitation and PortalAccessRequest move to the portal app (portal 0001 takes them over).

The tables are renamed in place (billing_portal* -> portal_portal*): no row is copied, ids
and foreign keys stay as they are. On PostgreSQL a rename is a catalog change, instant
whatever the number of rows, and the ids' sequences stay attached to their columns.
Billing's state forgets the two models; portal 0001 declares them on the renamed tables.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_image_source_psa_key")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="portalinvitation", table="portal_portalinvitation"),
                migrations.AlterModelTable(name="portalaccessrequest", table="portal_portalaccessrequest"),
            ],
            state_operations=[
                migrations.DeleteModel(name="PortalInvitation"),
                migrations.DeleteModel(name="PortalAccessRequest"),
            ],
        )
    ]
