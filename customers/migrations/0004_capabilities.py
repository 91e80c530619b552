"""Agents create customers (a new requester) but no longer change customer records, organizations or their
domains (core.policies "customer.edit", "organization.edit"): a domain decides who shares whose tickets."""

from django.db import migrations

from core.permissions import grant, model_codenames, revoke

NARROWED = ["change_customer", *model_codenames(["organization", "organizationdomain"], ("add", "change"))]


def narrow_agents(apps, schema_editor):
    revoke(apps, schema_editor, group="Agents", app_label="customers", codenames=NARROWED)


def widen_agents(apps, schema_editor):
    grant(apps, schema_editor, group="Agents", app_label="customers", codenames=NARROWED)


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_delivery_fewer_indexes"), ("core", "0003_capabilities")]

    operations = [migrations.RunPython(narrow_agents, widen_agents)]
