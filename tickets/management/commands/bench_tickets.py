"""Load N tickets into PostgreSQL with COPY and time the queue and ticket-page selectors.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tickets_bench \
        python manage.py bench_tickets --tickets 1000000

The secondary indexes are dropped during the load and rebuilt after it (much faster than
maintaining twenty indexes row by row). Then each selector is evaluated ``--runs`` times as a
page would use it (rows, related objects, tags) and the median and p95 are printed.
Run it on a database of its own: it adds rows to the tickets tables.
"""

import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from core.models import User
from core.roles import AGENTS, MANAGERS
from customers.models import Customer, Organization
from tickets.models import (
    PRIORITY_RANK,
    SLA_NEVER,
    UNSOLVED_STATUSES,
    Message,
    Queue,
    QueueMembership,
    Ticket,
)
from tickets.selectors import ticket_get_for, ticket_list, ticket_thread, ticket_timeline
from tickets.services.lifecycle import NUMBER_SEQUENCE

WORDS = (  # noqa: SIM905
    "invoice login password export report dashboard billing refund upgrade api token webhook error timeout slow "
    "mobile app sync calendar import csv permission admin user seat plan renewal outage latency email notification "
    "integration chart filter search crash update certificate domain sso saml backup restore"
).split()
STATUS_WEIGHTS = [("closed", 86), ("solved", 4), ("new", 2), ("open", 4), ("pending", 3), ("on_hold", 1)]
PRIORITY_WEIGHTS = [("low", 20), ("normal", 60), ("high", 15), ("urgent", 5)]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


class Command(BaseCommand):
    help = "Load N tickets with messages into PostgreSQL (COPY) and measure the ticket selectors."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tickets", type=int, default=1_000_000)
        parser.add_argument("--messages-per-ticket", type=int, default=2)
        parser.add_argument("--runs", type=int, default=50)
        parser.add_argument("--skip-load", action="store_true", help="Measure the rows already loaded.")
        parser.add_argument("--explain", action="store_true", help="Print the plan of each list query.")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_tickets needs PostgreSQL (set DATABASE_URL to a database of its own).")
        rng = random.Random(1042)
        agents, manager, queues = self._world(rng)
        if not options["skip_load"]:
            started = time.monotonic()
            self._load(rng, options["tickets"], options["messages_per_ticket"], agents, queues)
            self.stdout.write(f"loaded in {time.monotonic() - started:.1f} s")
        total = Ticket.objects.count()
        unsolved = Ticket.objects.filter(status__in=list(UNSOLVED_STATUSES)).count()
        self.stdout.write(f"{total:,} tickets ({unsolved:,} unsolved), {Message.objects.count():,} messages")
        self._measure(agents[0], manager, options["runs"], options["explain"])

    # --- the world -----------------------------------------------------------------------------

    def _world(self, rng: random.Random) -> tuple[list[User], User, list[Queue]]:
        agents_group, _ = Group.objects.get_or_create(name=AGENTS)
        managers_group, _ = Group.objects.get_or_create(name=MANAGERS)
        agents = []
        for i in range(30):
            user, _ = User.objects.get_or_create(
                email=f"bench-agent{i}@support.example", defaults={"name": f"Agent {i}"}
            )
            user.groups.add(agents_group)
            agents.append(user)
        manager, _ = User.objects.get_or_create(email="bench-manager@support.example", defaults={"name": "Manager"})
        manager.groups.add(managers_group)
        queues = [
            Queue.objects.get_or_create(slug=f"bench-{name}", defaults={"name": f"Bench {name}"})[0]
            for name in ["billing", "technical", "accounts", "mobile", "api", "onboarding"]
        ]
        for index, agent in enumerate(agents):  # each agent works two of the six queues
            for queue in (queues[index % 6], queues[(index + 1) % 6]):
                QueueMembership.objects.get_or_create(queue=queue, agent=agent)
        if not Organization.objects.filter(name__startswith="Bench org").exists():
            Organization.objects.bulk_create(
                [Organization(name=f"Bench org {i}", plan=rng.choice(["free", "business"])) for i in range(2000)]
            )
        if not Customer.objects.filter(email__startswith="bench-").exists():
            org_ids = list(Organization.objects.filter(name__startswith="Bench org").values_list("pk", flat=True))
            Customer.objects.bulk_create(
                [
                    Customer(
                        name=f"Customer {i}", email=f"bench-{i}@client.example", organization_id=rng.choice(org_ids)
                    )
                    for i in range(50_000)
                ],
                batch_size=5000,
            )
        return agents, manager, queues

    # --- the load -------------------------------------------------------------------------------

    def _load(self, rng: random.Random, n: int, per_ticket: int, agents: list[User], queues: list[Queue]) -> None:
        customers = list(Customer.objects.filter(email__startswith="bench-").values_list("pk", "organization_id"))
        agent_ids = [a.pk for a in agents]
        queue_ids = [q.pk for q in queues]
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK triggers before CREATE INDEX
            cursor.execute("SELECT COALESCE(MAX(id), 0), COALESCE(MAX(number), 1000) FROM tickets_ticket")
            first_id, last_number = cursor.fetchone()
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tickets_message")
            (first_message_id,) = cursor.fetchone()
            indexes = self._drop_indexes(cursor, ["tickets_ticket", "tickets_message"])
            columns = (
                "id, number, subject, requester_id, organization_id, queue_id, assignee_id, status, priority, "
                "priority_rank, kind, channel, custom_fields, created_at, updated_at, version, reopen_count, "
                "sla_paused_remaining, next_sla_due_at, escalated_at, solved_at, closed_at, first_agent_reply_at, "
                "requester_unverified"
            )
            t0 = time.monotonic()
            with cursor.cursor.copy(f"COPY tickets_ticket ({columns}) FROM STDIN") as copy:
                for i in range(1, n + 1):
                    created = now - dt.timedelta(seconds=rng.random() * 3 * 365 * 86400 * (i / n) ** 0.3)
                    status = _pick(rng, STATUS_WEIGHTS)
                    unsolved = status in UNSOLVED_STATUSES
                    updated = min(created + dt.timedelta(hours=rng.random() * 72), now)
                    priority = _pick(rng, PRIORITY_WEIGHTS)
                    requester, org = rng.choice(customers)
                    kind = (
                        "proactive" if rng.random() < 0.04 else rng.choice(["question", "question", "incident", "task"])
                    )
                    due = (
                        now + dt.timedelta(minutes=rng.randint(-180, 4 * 24 * 60))
                        if unsolved and rng.random() < 0.8
                        else None
                    )
                    copy.write_row(
                        (
                            first_id + i,
                            last_number + i,
                            f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {rng.choice(WORDS)} "
                            f"#{rng.randint(1, 99999)}",
                            requester,
                            org,
                            rng.choice(queue_ids),
                            rng.choice(agent_ids) if rng.random() < 0.7 else None,
                            status,
                            priority,
                            PRIORITY_RANK[priority],
                            kind,
                            "proactive" if kind == "proactive" else rng.choice(["web", "email", "api"]),
                            "{}",
                            created,
                            updated,
                            1,
                            0,
                            "{}",
                            due,
                            updated if unsolved and rng.random() < 0.01 else None,
                            updated if status in ("solved", "closed") else None,
                            updated if status == "closed" else None,
                            created + dt.timedelta(minutes=30) if status != "new" else None,
                            False,
                        )
                    )
            self.stdout.write(f"  tickets copied in {time.monotonic() - t0:.1f} s")
            t0 = time.monotonic()
            body = "Hello, since this morning the page shows an error when I try it. Steps: open, click, wait."
            html = f"<p>{body}</p>\n"
            message_id = first_message_id
            cols = (
                "id, ticket_id, author_customer_id, author_user_id, is_internal, by_agent, channel, body, body_html, "
                "created_at"
            )
            with cursor.cursor.copy(f"COPY tickets_message ({cols}) FROM STDIN") as copy:
                for i in range(1, n + 1):
                    base = now - dt.timedelta(days=rng.random() * 900)
                    for k in range(per_ticket):
                        message_id += 1
                        by_agent = k % 2 == 1
                        copy.write_row(
                            (
                                message_id,
                                first_id + i,
                                None if by_agent else rng.choice(customers)[0],
                                rng.choice(agent_ids) if by_agent else None,
                                False,
                                by_agent,
                                "agent" if by_agent else "email",
                                body,
                                html,
                                base + dt.timedelta(hours=k),
                            )
                        )
            self.stdout.write(f"  messages copied in {time.monotonic() - t0:.1f} s")
            t0 = time.monotonic()
            for statement in indexes:
                cursor.execute(statement)
            self.stdout.write(f"  {len(indexes)} indexes rebuilt in {time.monotonic() - t0:.1f} s")
            for table in ("tickets_ticket", "tickets_message"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
                )
            # the next ticket created continues after the copied numbers
            cursor.execute("SELECT setval(%s, %s)", [NUMBER_SEQUENCE, last_number + n])
        with connection.cursor() as cursor:
            # every table it filled (customers and organizations too): with stale statistics the planner
            # hash-joins all 50,000 customers for a 50-row page, as autovacuum would not have caught up yet
            cursor.execute("ANALYZE")

    def _drop_indexes(self, cursor: Any, tables: list[str]) -> list[str]:
        """Drop the secondary indexes (not the primary keys nor unique constraints); return their CREATE statements."""
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.tablename = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
            """,
            [tables],
        )
        rows = cursor.fetchall()
        for name, _ in rows:
            cursor.execute(f'DROP INDEX "{name}"')
        return [definition for _, definition in rows]

    # --- the measurements --------------------------------------------------------------------------

    def _time(self, fn: Callable[[], Any], runs: int) -> tuple[float, float]:
        fn()  # warm up
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]

    def _measure(self, agent: User, manager: User, runs: int, explain: bool) -> None:
        def page(viewer: User, **kwargs: Any) -> Callable[[], Any]:
            def run() -> Any:
                result = ticket_list(viewer=viewer, **kwargs)
                for t in result.items:  # what a row renders
                    _ = (t.requester.name, t.organization_id and t.organization.name, t.queue.name, t.assignee)
                    list(t.tags.all())
                    t.sla_seconds_left()
                return result

            return run

        first = ticket_list(viewer=agent, view="all_open")
        deep_cursor = first.next_cursor
        for _ in range(20):  # page 21 of all open
            deep_cursor = ticket_list(viewer=agent, view="all_open", cursor=deep_cursor).next_cursor
        some_ticket = Ticket.objects.filter(status="open", queue__memberships__agent=agent).order_by("-id").first()

        def detail() -> Any:
            ticket = ticket_get_for(viewer=agent, ticket_id=some_ticket.pk)
            messages = list(ticket_thread(ticket=ticket, viewer=agent))
            for m in messages:
                list(m.attachments.all())
            list(ticket_timeline(ticket=ticket, viewer=agent))
            return ticket

        cases = [
            ("agent: my open tickets (updated)", page(agent, view="mine")),
            ("agent: my open tickets (priority)", page(agent, view="mine", sort="priority")),
            ("agent: my open tickets (SLA due)", page(agent, view="mine", sort="sla")),
            ("agent: unassigned in my queues", page(agent, view="unassigned")),
            ("agent: all open (updated)", page(agent, view="all_open")),
            ("agent: all open, page 21 (keyset)", page(agent, view="all_open", cursor=deep_cursor)),
            ("agent: escalated / breaching < 1 h", page(agent, view="escalated", sort="sla")),
            ("agent: proactive", page(agent, view="proactive")),
            ("manager: all open (priority)", page(manager, view="all_open", sort="priority")),
            ("manager: all open (SLA due)", page(manager, view="all_open", sort="sla")),
            ("manager: all tickets, changed since 5 min", page(
                manager, filters={}, changed_since=timezone.now() - dt.timedelta(minutes=5))),
            ("agent: free text 'invoice' in open", page(agent, view="all_open", filters={"q": "invoice"})),
            ("manager: free text 'certificate sso', any status", page(manager, filters={"q": "certificate sso"})),
            ("manager: free text 'refund' + high priority", page(
                manager, view="all_open", filters={"q": "refund", "priority": "high"})),
            ("agent: one ticket with thread + timeline", detail),
        ]  # fmt: skip
        self.stdout.write(f"\n{'selector':52} {'median ms':>10} {'p95 ms':>10}   ({runs} runs each)")
        for label, fn in cases:
            median, p95 = self._time(fn, runs)
            self.stdout.write(f"{label:52} {median:10.2f} {p95:10.2f}")
        if explain:
            self._explain(agent, manager)

    def _explain(self, agent: User, manager: User) -> None:
        from tickets.selectors import ticket_queryset  # noqa: PLC0415

        for label, viewer, kwargs, ordering in [
            ("mine", agent, {"view": "mine"}, ["-updated_at", "-id"]),
            ("all_open", agent, {"view": "all_open"}, ["-updated_at", "-id"]),
            ("escalated", agent, {"view": "escalated"}, ["-updated_at", "-id"]),
            ("q=invoice", agent, {"view": "all_open", "filters": {"q": "invoice"}}, ["-updated_at", "-id"]),
        ]:
            qs = ticket_queryset(viewer=viewer, **kwargs).order_by(*ordering)[:51]
            self.stdout.write(f"\n--- {label}\n{qs.explain(analyze=True)}")
        self.stdout.write(json.dumps({"SLA_NEVER": SLA_NEVER.isoformat()}))
