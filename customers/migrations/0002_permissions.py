from django.db import migrations

from core.permissions import grant, model_codenames


def grant_permissions(apps, schema_editor):
    grant(
        apps,
        schema_editor,
        group="Agents",
        app_label="customers",
        codenames=[
            *model_codenames(["customer", "organization", "organizationdomain", "tag"], ("view", "add", "change")),
            "view_product",
            "view_customerevent",
            "view_delivery",
            "view_contactpreference",
        ],
    )
    grant(
        apps,
        schema_editor,
        group="Managers",
        app_label="customers",
        codenames=[
            *model_codenames(["customer", "organization", "organizationdomain", "tag", "product", "contactpreference"]),
            "view_customerevent",
            "view_delivery",
            "change_delivery",
        ],
    )


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial"), ("core", "0002_groups")]

    operations = [migrations.RunPython(grant_permissions, migrations.RunPython.noop)]
