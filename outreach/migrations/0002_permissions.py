from django.db import migrations

from core.permissions import grant, model_codenames

MODELS = ["template", "segment", "incident", "incidentupdate", "campaign", "reminderrule"]


def grant_permissions(apps, schema_editor):
    grant(
        apps,
        schema_editor,
        group="Agents",
        app_label="outreach",
        codenames=[*model_codenames(MODELS, ("view", "add", "change")), "view_fanout"],
    )
    grant(
        apps,
        schema_editor,
        group="Managers",
        app_label="outreach",
        codenames=[*model_codenames(MODELS), "view_fanout", "change_fanout"],
    )


class Migration(migrations.Migration):
    dependencies = [("outreach", "0001_initial"), ("core", "0002_groups")]

    operations = [migrations.RunPython(grant_permissions, migrations.RunPython.noop)]
