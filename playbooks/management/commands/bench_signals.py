"""Load 100,000 customers and 10,000,000 events into PostgreSQL and time each signal kind's evaluation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_playbooks \\
        python manage.py bench_signals --customers 100000 --events 10000000 --runs 5

Customers, organizations and events are written with ``INSERT ... SELECT generate_series`` (the
event table's secondary indexes dropped during the load and rebuilt after); tickets with tags,
customer messages with sentiment scores, SLA breaches and ratings with ``bulk_create``. Then one
signal per kind is evaluated ``--runs`` times for every customer (the first run stores every new
match, later ones only the difference) and the median and p95 are printed, with the rollup's first
pass and an incremental pass. Run it on a database of its own: it adds rows.
"""

import datetime as dt
import random
import statistics
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from customers.models import Customer, Organization, Tag
from customers.services import events_rollup
from outreach.models import FollowUp
from playbooks.models import Signal, SignalKind, SignalMatch
from playbooks.services import health_recompute, signal_evaluate
from tickets.models import Message, Queue, SLAEvent, Ticket

EVENT_KINDS = ["login"] * 6 + ["error", "error", "export", "order_shipped", "signed_up", "first_project_created"]
SIGNALS = [
    ("bench usage drop", SignalKind.USAGE_DROP, {"event_kind": "login", "threshold": 2, "weeks": 3}),
    ("bench usage spike", SignalKind.USAGE_SPIKE, {"event_kind": "error", "threshold": 3, "hours": 24}),
    ("bench repeated tickets", SignalKind.REPEATED_TICKETS, {"min_tickets": 2, "days": 30, "tag": "", "queue": ""}),
    ("bench negative sentiment", SignalKind.NEGATIVE_SENTIMENT, {"sentiment_threshold": -0.3, "days": 14}),
    ("bench renewal ahead", SignalKind.DATE_AHEAD, {"date_field": "organization.renewal_date", "days": 30}),
    ("bench service pain", SignalKind.SERVICE_PAIN, {"min_breaches": 2, "days": 30, "bad_rating": True}),
    (
        "bench event happened",
        SignalKind.EVENT_HAPPENED,
        {"event_kind": "order_shipped", "property_filter": {"carrier": "dhl"}, "minutes": 10},
    ),
    (
        "bench milestone missing",
        SignalKind.MILESTONE_MISSING,
        {"event_kind": "first_project_created", "anchor_kind": "signed_up", "days": 3, "lookback_days": 30},
    ),
]


def _sql(statement: str, params: list[Any] | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.rowcount


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Load customers and events into PostgreSQL and time every signal kind's evaluation."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--events", type=int, default=10_000_000)
        parser.add_argument("--tickets", type=int, default=100_000)
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument("--skip-load", action="store_true", help="Measure the rows already loaded.")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_signals needs PostgreSQL (set DATABASE_URL to a database of its own).")
        if not options["skip_load"]:
            self._load(options["customers"], options["events"], options["tickets"])
        counts = {
            "customers": Customer.objects.count(),
            "events": _sql_count("customers_customerevent"),
            "tickets": _sql_count("tickets_ticket"),
            "messages": _sql_count("tickets_message"),
        }
        self.stdout.write("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        self._measure(options["runs"])

    # --- loading ---------------------------------------------------------------------------------

    def _step(self, label: str, started: float) -> None:
        self.stdout.write(f"  {label}: {time.perf_counter() - started:.1f} s")

    def _load(self, n_customers: int, n_events: int, n_tickets: int) -> None:
        if Customer.objects.filter(email__endswith="@bench.example").count() >= n_customers:
            self.stdout.write("customers are loaded already; loading no more (use --skip-load to say so)")
            return
        self.stdout.write(f"loading {n_customers:,} customers and {n_events:,} events")
        n_orgs = max(1, n_customers // 10)
        started = time.perf_counter()
        _sql(
            "INSERT INTO customers_organization (name, plan, region, renewal_date, shared_tickets,"
            " domain_members_see_tickets, notes, created_at)"
            " SELECT 'Bench org ' || g, 'business', 'eu-west', current_date + (g %% 400), false, false, '', now()"
            " FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
            [n_orgs],
        )
        org_min = (
            Organization.objects.filter(name__startswith="Bench org ").order_by("pk").values_list("pk", flat=True)[0]
        )
        _sql(
            "INSERT INTO customers_customer (name, email, organization_id, timezone, language, external_id,"
            " organization_by_domain, created_at) SELECT 'Bench customer ' || g, 'bench' || g || '@bench.example',"
            " %s + (g %% %s), 'UTC', 'en', 'bench-' || g, false,"
            " now() - interval '400 days' + random() * interval '380 days'"
            " FROM generate_series(1, %s) g ON CONFLICT DO NOTHING",
            [org_min, n_orgs, n_customers],
        )
        self._step("customers and organizations", started)
        ids = Customer.objects.filter(email__endswith="@bench.example").order_by("pk").values_list("pk", flat=True)
        first, count = ids[0], Customer.objects.filter(email__endswith="@bench.example").count()
        self._load_events(first, count, n_events)
        self._load_tickets(first, count, n_tickets)
        started = time.perf_counter()
        _sql("ANALYZE")
        self._step("analyze", started)

    def _load_events(self, first: int, count: int, n_events: int) -> None:
        started = time.perf_counter()
        table = "customers_customerevent"
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending when the table alters
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype = 'u'",
                [table],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%pkey'",
                [table],
            )
            indexes = [row for row in cursor.fetchall() if row[0] not in {c[0] for c in constraints}]
            for name, _ in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _ in indexes:
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        kinds = "ARRAY[" + ",".join(f"'{k}'" for k in EVENT_KINDS) + "]"
        offset = _sql_count(table)
        chunk = 1_000_000
        for start in range(0, n_events, chunk):
            size = min(chunk, n_events - start)
            _sql(
                f"INSERT INTO {table} (customer_id, kind, occurred_at, properties, event_id, received_at)"  # noqa: S608
                " SELECT customer_id, kind, at,"
                " CASE WHEN kind = 'order_shipped' THEN jsonb_build_object('carrier',"
                " (ARRAY['dhl','ups','fedex'])[1 + (g %% 3)]) ELSE '{}'::jsonb END,"
                " 'bench-' || (%s + g), at + interval '2 seconds'"
                " FROM (SELECT g, %s + floor(random() * %s)::int AS customer_id,"
                f" ({kinds})[1 + floor(random() * {len(EVENT_KINDS)})::int] AS kind,"
                " now() - random() * interval '180 days' AS at FROM generate_series(1, %s) g) e",
                [offset + start, first, count, size],
            )
            self.stdout.write(f"  events: {start + size:,} ({time.perf_counter() - started:.0f} s)")
        # a few arrived in the last minutes (the 'event happened' signal's window)
        _sql(
            f"UPDATE {table} SET occurred_at = now() - interval '1 minute', received_at = now()"  # noqa: S608
            f" WHERE id IN (SELECT id FROM {table} WHERE kind = 'order_shipped' ORDER BY id DESC LIMIT 2000)"
        )
        self._step("events", started)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for _, definition in indexes:
                cursor.execute(definition)
        self._step("event indexes rebuilt", started)

    def _load_tickets(self, first: int, count: int, n_tickets: int) -> None:
        started = time.perf_counter()
        rng = random.Random(7)
        now = timezone.now()
        queue, _ = Queue.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
        tags = [Tag.objects.get_or_create(name=f"bench-topic-{i}")[0] for i in range(12)]
        number = (Ticket.objects.order_by("-number").values_list("number", flat=True).first() or 1000) + 1
        customers = dict(
            Customer.objects.filter(pk__gte=first, pk__lt=first + count).values_list("pk", "organization_id")
        )
        ids = list(customers)
        batch = 5000
        for start in range(0, n_tickets, batch):
            rows = []
            for i in range(start, min(n_tickets, start + batch)):
                requester = rng.choice(ids)
                at = now - dt.timedelta(days=rng.random() * 60)
                rows.append(
                    Ticket(
                        number=number + i,
                        subject=f"Bench ticket {i}",
                        requester_id=requester,
                        organization_id=customers[requester],
                        queue=queue,
                        status=rng.choice(["closed", "closed", "solved", "open", "new"]),
                        created_at=at,
                        updated_at=at,
                    )
                )
            made = Ticket.objects.bulk_create(rows)
            Ticket.tags.through.objects.bulk_create(
                [Ticket.tags.through(ticket_id=t.pk, tag_id=rng.choice(tags).pk) for t in made]
            )
            Message.objects.bulk_create(
                [
                    Message(
                        ticket_id=t.pk,
                        author_customer_id=t.requester_id,
                        body="bench",
                        body_html="<p>bench</p>",
                        created_at=t.created_at,
                        sentiment=round(rng.uniform(-1, 1), 3),
                    )
                    for t in made
                ]
            )
            SLAEvent.objects.bulk_create(
                [
                    SLAEvent(
                        ticket_id=t.pk,
                        target="first_reply",
                        kind="breach",
                        due_at=t.created_at,
                        created_at=t.created_at,
                    )
                    for t in made
                    if rng.random() < 0.1
                ]
            )
            FollowUp.objects.bulk_create(
                [
                    FollowUp(
                        ticket_id=t.pk,
                        customer_id=t.requester_id,
                        rating=rng.choice(["good", "good", "good", "bad"]),
                        answered_at=t.created_at + dt.timedelta(days=1),
                    )
                    for t in made
                    if rng.random() < 0.1
                ]
            )
        self._step(f"{n_tickets:,} tickets with tags, messages, breaches and ratings", started)

    # --- measuring -------------------------------------------------------------------------------

    def _measure(self, runs: int) -> None:
        started = time.perf_counter()
        events_rollup()
        self.stdout.write(f"rollup, first or catch-up pass: {time.perf_counter() - started:.2f} s")
        incremental = []
        for _ in range(3):
            started = time.perf_counter()
            events_rollup()
            incremental.append(time.perf_counter() - started)
        self.stdout.write(f"rollup, incremental pass: median {statistics.median(incremental) * 1000:.0f} ms")
        self.stdout.write(f"{'signal kind':22} {'matches':>8} {'first s':>8} {'median s':>9} {'p95 s':>7}")
        for name, kind, params in SIGNALS:
            signal, _ = Signal.objects.update_or_create(
                name=name, defaults={"kind": kind, "params": params, "is_active": True}
            )
            SignalMatch.objects.filter(signal=signal).delete()
            times = []
            outcome = None
            for _ in range(runs):
                started = time.perf_counter()
                outcome = signal_evaluate(signal=signal)
                times.append(time.perf_counter() - started)
            self.stdout.write(
                f"{kind:22} {outcome.matched if outcome else 0:>8,} {times[0]:>8.2f}"
                f" {statistics.median(times[1:] or times):>9.2f} {_p95(times[1:] or times):>7.2f}"
            )
        started = time.perf_counter()
        health_recompute()
        self.stdout.write(f"health scores: {time.perf_counter() - started:.2f} s")


def _sql_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608  (a table name of ours)
        return cursor.fetchone()[0]
