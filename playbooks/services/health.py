"""Health scores: 100 minus the weights of the active signals, per customer and per organization.

Recomputed set-based after each evaluation: one grouped query per level, rows upserted in bulk,
and the rows of customers whose last signal cleared set back to 100.
"""

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from playbooks.models import CustomerHealth, OrganizationHealth, SignalMatch

CHUNK = 5000


def _score(weight: int | None) -> int:
    return max(0, 100 - int(weight or 0))


@transaction.atomic
def health_recompute(*, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    active = SignalMatch.objects.filter(cleared_at__isnull=True, signal__is_active=True)
    customer_scores = {
        cid: _score(w)
        for cid, w in active.values_list("customer_id")
        .annotate(w=Sum("signal__weight"))
        .values_list("customer_id", "w")
    }
    org_weights: dict[int, int] = defaultdict(int)
    for org_id, _signal_id, weight in (
        active.filter(organization__isnull=False)
        .values_list("organization_id", "signal_id", "signal__weight")
        .distinct()
    ):
        org_weights[org_id] += weight
    org_scores = {org_id: _score(w) for org_id, w in org_weights.items()}
    written = 0
    for model, key, scores in (
        (CustomerHealth, "customer_id", customer_scores),
        (OrganizationHealth, "organization_id", org_scores),
    ):
        current = dict(model.objects.filter(score__lt=100).values_list(key, "score"))
        changed: list[Any] = [
            model(**{key: subject, "score": score, "updated_at": now})
            for subject, score in scores.items()
            if current.get(subject) != score
        ]
        model.objects.bulk_create(
            changed,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=[key.removesuffix("_id")],
            update_fields=["score", "updated_at"],
        )
        healed = [subject for subject, score in current.items() if score != 100 and subject not in scores]
        for start in range(0, len(healed), CHUNK):
            model.objects.filter(**{f"{key}__in": healed[start : start + CHUNK]}).update(score=100, updated_at=now)
        written += len(changed) + len(healed)
    return {"customers": len(customer_scores), "organizations": len(org_scores), "written": written}
