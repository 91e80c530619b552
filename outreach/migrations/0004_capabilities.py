"""Who may reach customers (core.policies): managers declare incidents, send campaigns and edit templates and
segments; agents read everything and draft campaigns; the "On call" group may declare incidents."""

from django.db import migrations

from core.permissions import grant, model_codenames, revoke

ON_CALL = "On call"


def narrow_agents(apps, schema_editor):
    grant(
        apps,
        schema_editor,
        group="Managers",
        app_label="outreach",
        codenames=["declare_incident", "send_campaign"],
    )
    grant(apps, schema_editor, group=ON_CALL, app_label="outreach", codenames=["declare_incident"])
    revoke(
        apps,
        schema_editor,
        group="Agents",
        app_label="outreach",
        codenames=[
            *model_codenames(["template", "segment", "incident", "incidentupdate", "reminderrule"], ("add", "change")),
            "change_campaign",
        ],
    )


def widen_agents(apps, schema_editor):
    grant(
        apps,
        schema_editor,
        group="Agents",
        app_label="outreach",
        codenames=[
            *model_codenames(["template", "segment", "incident", "incidentupdate", "reminderrule"], ("add", "change")),
            "change_campaign",
        ],
    )


class Migration(migrations.Migration):
    dependencies = [("outreach", "0003_ticket_links"), ("core", "0003_capabilities")]

    operations = [
        migrations.AlterModelOptions(
            name="campaign",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [("send_campaign", "Can schedule, send and cancel campaigns")],
            },
        ),
        migrations.AlterModelOptions(
            name="incident",
            options={
                "ordering": ["-started_at", "-id"],
                "permissions": [("declare_incident", "Can declare incidents and post updates that notify customers")],
            },
        ),
        migrations.RunPython(narrow_agents, widen_agents),
    ]
