from django.db import migrations

from core.permissions import grant, model_codenames

READ = ["signalmatch", "customerhealth", "organizationhealth", "playbookrun", "playbookrunlog"]


def grant_permissions(apps, schema_editor):
    grant(
        apps,
        schema_editor,
        group="Agents",
        app_label="playbooks",
        codenames=model_codenames(["signal", "playbook", "playbookstep", *READ], ("view",)),
    )
    grant(
        apps,
        schema_editor,
        group="Managers",
        app_label="playbooks",
        codenames=[
            *model_codenames(["signal", "playbook", "playbookstep"]),
            *model_codenames(READ, ("view",)),
            "change_playbookrun",
        ],
    )


class Migration(migrations.Migration):
    dependencies = [("playbooks", "0001_initial"), ("core", "0002_groups")]

    operations = [migrations.RunPython(grant_permissions, migrations.RunPython.noop)]
