"""Campaign.hold_days, and the announcements "held until it is solved" that were in fact dropped: held again.

Rows suppressed with the old reason in the last 14 days (the validity every campaign now has by default)
become ``held`` until 14 days after they were planned; the release job sends those whose customer has
no open ticket left. Older ones stay suppressed, their reason corrected to say they were not sent.
"""

import datetime as dt

import django.core.validators
from django.db import migrations, models
from django.utils import timezone

OLD_REASON = "open ticket: held until it is solved"


def forwards(apps, schema_editor):
    Delivery = apps.get_model("customers", "Delivery")
    now = timezone.now()
    recent = Delivery.objects.filter(
        status="suppressed", suppressed_reason=OLD_REASON, created_at__gte=now - dt.timedelta(days=14)
    )
    for pk, created_at in recent.values_list("pk", "created_at").iterator():
        until = created_at + dt.timedelta(days=14)
        Delivery.objects.filter(pk=pk).update(
            status="held",
            next_attempt_at=until,
            suppressed_reason=f"open ticket: held, sent once the customer's open tickets are solved (until {until:%Y-%m-%d %H:%M} UTC)",
        )
    Delivery.objects.filter(status="suppressed", suppressed_reason=OLD_REASON).update(
        suppressed_reason="open ticket: not sent (planned before held messages were kept)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0006_ratings_from_follow_ups"),
        ("customers", "0008_delivery_held"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="hold_days",
            field=models.PositiveSmallIntegerField(
                default=14,
                help_text="A customer with an open ticket gets the message once their tickets are solved, "
                "within this many days of the start; after that it is not sent.",
                validators=[django.core.validators.MaxValueValidator(90)],
            ),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
