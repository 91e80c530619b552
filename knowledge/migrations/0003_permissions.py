from django.db import migrations

from core.permissions import grant, model_codenames

MODELS = ["category", "article", "articleversion", "articlefeedback", "searchlog"]


def grant_permissions(apps, schema_editor):
    grant(
        apps,
        schema_editor,
        group="Agents",
        app_label="knowledge",
        codenames=model_codenames(MODELS, ("view", "add", "change")),
    )
    grant(apps, schema_editor, group="Managers", app_label="knowledge", codenames=model_codenames(MODELS))


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_search_index"), ("core", "0002_groups")]

    operations = [migrations.RunPython(grant_permissions, migrations.RunPython.noop)]
