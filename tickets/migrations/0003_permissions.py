from django.db import migrations

from core.permissions import grant, model_codenames

AGENT_MODELS = ["ticket", "message", "attachment", "savedview", "ticketviewer"]
MANAGER_ONLY_MODELS = [
    "queue",
    "queuemembership",
    "businesscalendar",
    "holiday",
    "slapolicy",
    "slatarget",
    "customfield",
    "macro",
    "ticketcounter",
]


def grant_permissions(apps, schema_editor):
    grant(
        apps,
        schema_editor,
        group="Agents",
        app_label="tickets",
        codenames=[
            *model_codenames(AGENT_MODELS, ("view", "add", "change")),
            *model_codenames(["ticketevent", "slaevent", "queue", "macro", "customfield", "slapolicy"], ("view",)),
        ],
    )
    grant(
        apps,
        schema_editor,
        group="Managers",
        app_label="tickets",
        # the audit trail is read-only for everyone
        codenames=[*model_codenames([*AGENT_MODELS, *MANAGER_ONLY_MODELS]), "view_ticketevent", "view_slaevent"],
    )


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_subject_trigram"), ("core", "0002_groups")]

    operations = [migrations.RunPython(grant_permissions, migrations.RunPython.noop)]
