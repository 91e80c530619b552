"""Benchmark: declare an incident affecting N customers and time it until the last delivery is sent.

Run against a throw-away PostgreSQL database with a worker you start yourself, e.g.::

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/outreach_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/5
    export EMAIL_URL=smtp://127.0.0.1:2526 DJANGO_SECRET_KEY=bench DJANGO_DEBUG=1
    .venv/bin/python manage.py migrate
    .venv/bin/celery -A config worker -Q transactional,default,bulk -c 2 &
    .venv/bin/python manage.py bench_fanout --customers 100000 --smtp-port 2526

The command creates the customers with COPY (once), runs an aiosmtpd sink on ``--smtp-port`` in
this process, declares the incident through ``incident_declare`` and polls the Delivery counts.
"""

import io
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from customers.models import Customer, Delivery, Organization, Product


class _Sink:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 OK"


class Command(BaseCommand):
    help = "Time an incident fan-out to N customers (PostgreSQL database whose name contains 'bench' only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--smtp-port", type=int, default=2526)
        parser.add_argument("--timeout", type=float, default=600.0)
        parser.add_argument("--organizations", type=int, default=200)

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        name = settings.DATABASES["default"]["NAME"]
        if connection.vendor != "postgresql" or "bench" not in str(name):
            raise CommandError("Run it against a PostgreSQL database whose name contains 'bench'.")
        from aiosmtpd.controller import Controller  # noqa: PLC0415  (a test dependency)

        from outreach.services import incident_declare  # noqa: PLC0415

        n = options["customers"]
        product = self._world(n, options["organizations"])
        sink = _Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=options["smtp_port"])
        controller.start()
        try:
            started = time.monotonic()
            with transaction.atomic():
                incident = incident_declare(title="Benchmark outage", message="Benchmark.", products=[product])
            declared = time.monotonic() - started
            source = f"incident:{incident.pk}"
            self.stdout.write(f"declared incident {incident.pk} in {declared:.2f} s; waiting for {n} deliveries")
            last_report = 0.0
            planned_at = None
            while True:
                counts = dict(
                    Delivery.objects.filter(source=source)
                    .values_list("status")
                    .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
                )
                total = sum(counts.values())
                done = counts.get("sent", 0) + counts.get("failed", 0) + counts.get("suppressed", 0)
                elapsed = time.monotonic() - started
                if planned_at is None and total >= n:
                    planned_at = elapsed
                if elapsed - last_report >= 5:
                    last_report = elapsed
                    self.stdout.write(
                        f"  {elapsed:6.1f} s planned {total} sent {counts.get('sent', 0)} "
                        f"failed {counts.get('failed', 0)} smtp {sink.count}"
                    )
                if done >= n:
                    break
                if elapsed > options["timeout"]:
                    raise CommandError(f"timed out after {elapsed:.0f} s: {counts}")
                time.sleep(0.5)
            last_sent = (
                Delivery.objects.filter(source=source, status="sent")
                .order_by("-sent_at")
                .values_list("sent_at", flat=True)
                .first()
            )
            first_created = incident.created_at
            wall = (last_sent - first_created).total_seconds() if last_sent else elapsed
            with connection.cursor() as cursor:  # how long each customer waited for the notice
                cursor.execute(
                    "SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP "
                    "(ORDER BY EXTRACT(EPOCH FROM sent_at - %s)) FROM customers_delivery "
                    "WHERE source = %s AND status = 'sent'",
                    [first_created, source],
                )
                median, p95 = cursor.fetchone()[0] or [0.0, 0.0]
            self.stdout.write(f"declare to a customer's notice sent: median {median:.1f} s, p95 {p95:.1f} s")
            self.stdout.write(
                self.style.SUCCESS(
                    f"recipients {n}; all planned after {planned_at or 0:.1f} s; declare to last sent {wall:.1f} s; "
                    f"{n / wall:.0f} deliveries/s; sent {counts.get('sent', 0)} failed {counts.get('failed', 0)}; "
                    f"SMTP messages {sink.count}"
                )
            )
        finally:
            controller.stop()

    def _world(self, n: int, organizations: int) -> Product:
        product, _ = Product.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
        have = Customer.objects.filter(email__endswith="@bench.example").count()
        if have >= n:
            return product
        orgs = [Organization(name=f"Bench org {i}", region="eu-west") for i in range(organizations)]
        Organization.objects.bulk_create(orgs, ignore_conflicts=True)
        org_ids = list(Organization.objects.filter(name__startswith="Bench org ").values_list("pk", flat=True))
        Organization.products.through.objects.bulk_create(
            [Organization.products.through(organization_id=pk, product_id=product.pk) for pk in org_ids],
            ignore_conflicts=True,
        )
        buffer = io.StringIO()
        for i in range(have, n):
            buffer.write(
                f"Bench customer {i}\tb{i}@bench.example\t{org_ids[i % len(org_ids)]}\tUTC\ten\t\t"
                f"2026-01-01 00:00:00+00\n"
            )
        buffer.seek(0)
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY customers_customer (name, email, organization_id, timezone, language, external_id, created_at) "
                "FROM STDIN"
            ) as copy,
        ):
            copy.write(buffer.read())
        self.stdout.write(f"created {n - have} customers with COPY")
        return product
