"""Plan a fan-out in another database from a process of its own: ``python -m tests.plan_deliveries N PREFIX``.

Fault tests run the worker against a private PostgreSQL cluster (tests/private_postgres.py) that the
test process's Django connection does not point at; this plans N customers' deliveries there through
``deliveries_plan`` and publishes their chunks on commit, as a fan-out slice does.
"""

import sys

import django


def main() -> None:
    django.setup()
    from django.db import transaction

    from customers.models import Customer
    from customers.services import DeliveryDraft, deliveries_plan

    n, prefix, category = int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "announcement"
    customers = Customer.objects.bulk_create(
        [Customer(name=f"{prefix} {i}", email=f"{prefix}{i}@fault.example") for i in range(n)]
    )
    with transaction.atomic():
        deliveries_plan(
            drafts=[
                DeliveryDraft(key=f"{prefix}:{c.pk}", category=category, subject="Notice", body="Hello", customer=c)
                for c in customers
            ]
        )


if __name__ == "__main__":
    main()
