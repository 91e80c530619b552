"""The in-app channel goes: nothing planned in-app rows (outreach fan-outs render e-mail only) and nothing showed them.

Rows of that channel still waiting would otherwise be claimed and never sent (the sender sends e-mail): they are
suppressed, saying why. Sent rows keep their channel as history.
"""

from django.db import migrations, models
from django.utils import timezone

WAITING = ["queued", "held", "sending"]


def suppress_waiting_in_app_rows(apps, schema_editor):
    Delivery = apps.get_model("customers", "Delivery")
    Delivery.objects.filter(channel="in_app", status__in=WAITING).update(
        status="suppressed", suppressed_reason="the in-app channel was removed", claim_token=None,
        updated_at=timezone.now(),
    )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0010_bounces"),
    ]

    operations = [
        migrations.RunPython(suppress_waiting_in_app_rows, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="delivery",
            name="channel",
            field=models.CharField(choices=[("email", "E-mail")], default="email", max_length=10),
        ),
    ]
