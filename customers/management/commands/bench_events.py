"""Benchmark: POST /api/v1/events/ throughput in events/s, median and p95 over batches.

Run against a throw-away PostgreSQL database whose name contains ``bench``::

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/events_bench DJANGO_SECRET_KEY=bench DJANGO_DEBUG=1
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py bench_events --customers 10000 --batches 100 --batch-size 1000

Each batch goes through the API view in this process (per-row validation, the batch service, the JSON
response; no network), a third of the rows naming their customer by id, e-mail and external id each,
one in 50 repeating an earlier event of the batch. A second pass re-posts the first batches (all
duplicates). The table grows as it runs: its size before and after is printed with the figures.
"""

import datetime as dt
import random
import statistics
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from rest_framework.test import APIRequestFactory, force_authenticate

from core.models import User
from core.roles import AGENTS
from customers.api.views import EventIngestApi
from customers.models import Customer, CustomerEvent


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Time event ingestion through the API view (PostgreSQL database whose name contains 'bench' only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=10_000)
        parser.add_argument("--batches", type=int, default=100)
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        name = settings.DATABASES["default"]["NAME"]
        if connection.vendor != "postgresql" or "bench" not in str(name):
            raise CommandError("Run it against a PostgreSQL database whose name contains 'bench'.")
        rng = random.Random(options["seed"])
        customers = self._customers(options["customers"])
        agent, _ = User.objects.get_or_create(email="bench-agent@bench.example")
        agent.groups.add(Group.objects.get_or_create(name=AGENTS)[0])
        view = EventIngestApi.as_view()
        factory = APIRequestFactory()
        run = f"{time.time_ns():x}"
        before = CustomerEvent.objects.count()
        size = options["batch_size"]
        sent: list[list[dict[str, Any]]] = []

        def post(events: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
            request = factory.post("/api/v1/events/", {"events": events}, format="json")
            force_authenticate(request, user=agent)
            start = time.perf_counter()
            response = view(request)
            response.render()
            return time.perf_counter() - start, response.data

        fresh: list[float] = []
        for number in range(options["batches"]):
            events = []
            for i in range(size):
                if i and i % 50 == 0:
                    events.append(dict(events[rng.randrange(len(events))]))  # a repeat inside the batch
                    continue
                pk, email, external_id = customers[rng.randrange(len(customers))]
                ref = [{"customer_id": pk}, {"customer_email": email}, {"customer_external_id": external_id}][i % 3]
                at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(86400 * 30))
                events.append(
                    {"event_id": f"{run}-{number}-{i}", "kind": rng.choice(["login", "export.run", "error"]),
                     "occurred_at": at.isoformat(), "properties": {"n": i}, **ref}
                )  # fmt: skip
            seconds, data = post(events)
            if data["invalid"] or data["unknown_customer"]:
                raise CommandError(f"unexpected rejects: {data['invalid']} invalid, {data['unknown_customer']} unknown")
            fresh.append(seconds)
            if number < 10:
                sent.append(events)
        again = [post(events)[0] for events in sent]
        after = CustomerEvent.objects.count()

        def report(label: str, seconds: list[float]) -> None:
            median, p95 = statistics.median(seconds), _percentile(seconds, 95)
            self.stdout.write(
                f"{label}: {len(seconds)} batches of {size}: "
                f"median {median * 1000:.1f} ms ({size / median:,.0f} events/s), "
                f"p95 {p95 * 1000:.1f} ms ({size / p95:,.0f} events/s)"
            )

        self.stdout.write(f"customers {len(customers):,}; events table {before:,} rows before, {after:,} after")
        report("new events", fresh)
        report("re-posted (all duplicates)", again)

    def _customers(self, n: int) -> list[tuple[int, str, str]]:
        have = Customer.objects.filter(external_id__startswith="bench-").count()
        if have < n:
            Customer.objects.bulk_create(
                [
                    Customer(name=f"Bench {i}", email=f"bench{i}@bench.example", external_id=f"bench-{i}")
                    for i in range(have, n)
                ],
                batch_size=5000,
            )
        return list(
            Customer.objects.filter(external_id__startswith="bench-").values_list("pk", "email", "external_id")[:n]
        )
