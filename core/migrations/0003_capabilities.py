from django.db import migrations

from core.permissions import grant


def grant_capabilities(apps, schema_editor):
    # managers invite agents (core.policies "agent.invite") and edit the team's accounts (never a superuser's)
    grant(
        apps, schema_editor, group="Managers", app_label="core", codenames=["invite_agent", "view_user", "change_user"]
    )


class Migration(migrations.Migration):
    dependencies = [("core", "0002_groups")]

    operations = [
        migrations.AlterModelOptions(
            name="user",
            options={
                "ordering": ["email"],
                "permissions": [("invite_agent", "Can invite agents and change their queues and role")],
            },
        ),
        migrations.RunPython(grant_capabilities, migrations.RunPython.noop),
    ]
