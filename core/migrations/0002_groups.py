from django.db import migrations

from core.permissions import grant


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ("Agents", "Managers"):
        Group.objects.get_or_create(name=name)
    # managers see who works here in the admin; they do not make superusers
    grant(apps, schema_editor, group="Managers", app_label="core", codenames=["view_user", "change_user"])
    grant(apps, schema_editor, group="Managers", app_label="auth", codenames=["view_group"])


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
