"""Answered surveys become ``tickets.SatisfactionRating`` rows (the rating is its own record from now on).

In outreach because outreach depends on tickets, never the reverse. One INSERT ... SELECT; re-runnable.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    FollowUp = apps.get_model("outreach", "FollowUp")
    Rating = apps.get_model("tickets", "SatisfactionRating")
    rated = set(Rating.objects.values_list("ticket_id", flat=True))
    rows = [
        Rating(
            ticket_id=f.ticket_id,
            customer_id=f.customer_id,
            score=f.rating,
            reason="not_resolved" if f.still_broken else "",
            comment=f.comment,
            created_at=f.answered_at,
        )
        for f in FollowUp.objects.filter(answered_at__isnull=False).exclude(rating="").iterator()
        if f.ticket_id not in rated
    ]
    Rating.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("outreach", "0005_merge_0004_capabilities_0004_segment_health_below"),
        ("tickets", "0008_satisfaction_rating"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
