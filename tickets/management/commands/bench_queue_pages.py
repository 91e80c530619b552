"""Benchmark: server time of the agent's queue page, the ticket page and the list API, through the full
Django stack (middleware, views, templates), on the data ``bench_tickets`` loaded.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tickets_bench DJANGO_SECRET_KEY=bench \\
    DJANGO_SECURE_SSL_REDIRECT=false .venv/bin/python manage.py bench_queue_pages --runs 50
"""

import statistics
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client

from core.models import User
from tickets.models import Ticket
from tickets.selectors import ticket_list


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Median and p95 server time of the queue page, the ticket page and the list API (PostgreSQL bench DB)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--runs", type=int, default=50)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql" or "bench" not in str(connection.settings_dict["NAME"]):
            raise CommandError("Run it against the PostgreSQL database bench_tickets loaded (its name has 'bench').")
        agent = User.objects.get(email="bench-agent0@support.example")
        manager = User.objects.get(email="bench-manager@support.example")
        as_agent, as_manager = Client(), Client()
        as_agent.force_login(agent)
        as_manager.force_login(manager)
        total = Ticket.objects.count()
        some = Ticket.objects.filter(status="open", queue__memberships__agent=agent).order_by("-id").first()
        cursor = ticket_list(viewer=agent, view="all_open").next_cursor
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("queue: my open tickets", lambda: as_agent.get("/agent/", {"view": "mine"})),
            (
                "queue: my open tickets by priority",
                lambda: as_agent.get("/agent/", {"view": "mine", "sort": "priority"}),
            ),
            ("queue: my open tickets by SLA due", lambda: as_agent.get("/agent/", {"view": "mine", "sort": "sla"})),
            ("queue: unassigned in my queues", lambda: as_agent.get("/agent/", {"view": "unassigned"})),
            ("queue: all open", lambda: as_agent.get("/agent/", {"view": "all_open"})),
            (
                "queue: all open, next page (htmx)",
                lambda: as_agent.get("/agent/", {"view": "all_open", "cursor": cursor}, headers={"HX-Request": "true"}),
            ),
            ("queue: escalated / breaching < 1 h", lambda: as_agent.get("/agent/", {"view": "escalated"})),
            ("queue: proactive", lambda: as_agent.get("/agent/", {"view": "proactive"})),
            (
                "queue: manager, all open by priority",
                lambda: as_manager.get("/agent/", {"view": "all_open", "sort": "priority"}),
            ),
            (
                "queue: filtered search 'invoice' + high",
                lambda: as_agent.get("/agent/", {"view": "all_open", "q": "invoice", "priority": "high"}),
            ),
            (
                "queue: search a rare phrase 'certificate sso'",
                lambda: as_agent.get("/agent/", {"view": "all_open", "q": "certificate sso"}),
            ),
            (
                "queue: manager, rare phrase, any status",
                lambda: as_manager.get("/agent/", {"view": "", "q": "certificate sso"}),
            ),
            ("queue: search 'refund', any status", lambda: as_manager.get("/agent/", {"view": "", "q": "refund"})),
            (
                "queue: search a requester e-mail from 'mine'",
                lambda: as_agent.get("/agent/", {"q": "bench-4242@client.example"}),
            ),
            ("queue: search '#<number>' from 'mine'", lambda: as_agent.get("/agent/", {"q": f"#{some.number}"})),
            ("queue: search 'refund' from 'mine' (+ elsewhere)", lambda: as_agent.get("/agent/", {"q": "refund"})),
            ("ticket page with thread and side panel", lambda: as_agent.get(f"/agent/tickets/{some.pk}/")),
            ("API: GET /api/v1/tickets/?view=all_open", lambda: as_agent.get("/api/v1/tickets/", {"view": "all_open"})),
        ]
        self.stdout.write(f"{total:,} tickets; {options['runs']} runs each; milliseconds")
        self.stdout.write(f"{'case':48} {'median':>8} {'p95':>8}")
        for name, call in cases:
            response = call()
            if response.status_code != 200:
                raise CommandError(f"{name}: HTTP {response.status_code}")
            timings = []
            for _ in range(options["runs"]):
                start = time.perf_counter()
                call()
                timings.append((time.perf_counter() - start) * 1000)
            self.stdout.write(f"{name:48} {statistics.median(timings):8.1f} {_percentile(timings, 0.95):8.1f}")
