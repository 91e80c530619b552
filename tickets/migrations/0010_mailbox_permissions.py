"""Managers edit mailboxes and read, download and retry inbound e-mail; agents read the inbound log."""

from django.db import migrations

from core.permissions import grant, model_codenames


def grant_permissions(apps, schema_editor):
    grant(
        apps,
        schema_editor,
        group="Managers",
        app_label="tickets",
        codenames=[*model_codenames(["mailbox", "inboundemail"]), "view_mailthreadid"],
    )
    grant(apps, schema_editor, group="Agents", app_label="tickets", codenames=["view_inboundemail"])


class Migration(migrations.Migration):
    dependencies = [("tickets", "0009_mailboxes")]

    operations = [migrations.RunPython(grant_permissions, migrations.RunPython.noop)]
