"""Benchmark: declare an incident affecting N customers and time it until the last delivery is sent.

Run against a throw-away PostgreSQL database with a worker you start yourself, e.g.::

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/outreach_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/5
    export EMAIL_URL=smtp://127.0.0.1:2526 DJANGO_SECRET_KEY=bench DJANGO_DEBUG=1
    .venv/bin/python manage.py migrate
    .venv/bin/celery -A config worker -Q transactional,default,bulk -c 2 &
    .venv/bin/python manage.py bench_fanout --customers 100000 --smtp-port 2526

The command creates the customers with COPY (once), runs an aiosmtpd sink on ``--smtp-port`` in
this process, declares the incident through ``incident_declare`` and polls the Delivery counts.

Faults (``--fault``; the command then starts the worker and a separate beat itself, ``--spawn``):

- ``kill``: SIGKILL the worker (main process and pool) once ``--fault-at`` of the notices went, and
  start it again at once;
- ``db-restart``: ``pg_ctl restart -m immediate`` of a private cluster (``--pg-data``; never the shared
  server), kept down ``--down-seconds``. Point DATABASE_URL at that cluster, e.g.::

      d=$(mktemp -d); chown postgres $d; runuser -u postgres -- $PGBIN/initdb -D $d/data -U postgres --auth=trust
      runuser -u postgres -- $PGBIN/pg_ctl -D $d/data -o "-p 5441 -k $d" -l $d/pg.log start
      createdb -h 127.0.0.1 -p 5441 -U postgres bench
      DATABASE_URL=postgres://postgres@127.0.0.1:5441/bench manage.py migrate
      DATABASE_URL=... manage.py bench_fanout --customers 100000 --fault db-restart --pg-data $d/data

Each run reports the time from the declaration to the last notice sent, the time from the worker
(or database) being back to the last notice, and the duplicates: SMTP messages minus distinct
Message-IDs at the sink (a re-sent notice carries its original Message-ID).
"""

import collections
import io
import logging
import re
import shlex
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection, transaction
from django.db.models import Count

from core.bench import CeleryProcesses
from customers.models import Customer, Delivery, Organization, Product

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class _Sink:
    def __init__(self) -> None:
        self.count = 0
        self.ids: collections.Counter[bytes] = collections.Counter()
        self.seen: dict[bytes, list[float]] = collections.defaultdict(list)  # when each copy arrived
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(envelope.content)
        with self.lock:
            self.count += 1
            self.ids[found.group(1) if found else b""] += 1
            self.seen[found.group(1) if found else b""].append(time.monotonic())
        return "250 OK"

    def duplicates(self) -> int:
        with self.lock:
            return self.count - len(self.ids)


class Command(BaseCommand):
    help = "Time an incident fan-out to N customers (PostgreSQL database whose name contains 'bench' only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--smtp-port", type=int, default=2526)
        parser.add_argument("--timeout", type=float, default=600.0)
        parser.add_argument("--organizations", type=int, default=200)
        parser.add_argument("--fault", choices=["none", "kill", "db-restart"], default="none")
        parser.add_argument("--fault-at", type=float, default=0.5, help="fraction of notices sent before the fault")
        parser.add_argument("--down-seconds", type=float, default=3.0, help="db-restart: how long it stays down")
        parser.add_argument("--pg-data", default="", help="db-restart: the private cluster's data directory")
        parser.add_argument("--spawn", action="store_true", help="start the worker and beat here (faults imply it)")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        name = settings.DATABASES["default"]["NAME"]
        if connection.vendor != "postgresql" or "bench" not in str(name):
            raise CommandError("Run it against a PostgreSQL database whose name contains 'bench'.")
        from aiosmtpd.controller import Controller  # noqa: PLC0415  (a test dependency)

        n = options["customers"]
        fault = options["fault"]
        if fault == "db-restart" and not options["pg_data"]:
            raise CommandError("--fault db-restart needs --pg-data of a private cluster (never the shared server).")
        product = self._world(n, options["organizations"])
        sink = _Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=options["smtp_port"])
        controller.start()
        processes = None
        if options["spawn"] or fault != "none":
            processes = CeleryProcesses(
                env={"EMAIL_URL": f"smtp://127.0.0.1:{options['smtp_port']}"}, concurrency=options["concurrency"]
            )
            processes.start()
            time.sleep(5)  # the worker connects and consumes before the clock starts
        try:
            self._run(n, product, sink, processes, options)
        finally:
            controller.stop()
            if processes:
                processes.stop()

    def _counts(self, source: str) -> dict[str, int]:
        for _ in range(120):  # the database may be restarting (db-restart)
            try:
                return dict(Delivery.objects.filter(source=source).values_list("status").annotate(n=Count("id")))
            except OperationalError:
                connection.close()
                time.sleep(0.5)
        raise CommandError("the database did not come back within a minute")

    def _run(self, n: int, product: Product, sink: _Sink, processes: CeleryProcesses | None, options: Any) -> None:
        from outreach.services import incident_declare  # noqa: PLC0415

        fault = options["fault"]
        started = time.monotonic()
        with transaction.atomic():
            incident = incident_declare(title="Benchmark outage", message="Benchmark.", products=[product])
        declared = time.monotonic() - started
        source = f"incident:{incident.pk}"
        self.stdout.write(f"declared incident {incident.pk} in {declared:.2f} s; waiting for {n} deliveries")
        last_report = 0.0
        planned_at = None
        back_at = None  # when the worker or the database was back after the fault
        while True:
            counts = self._counts(source)
            total = sum(counts.values())
            done = counts.get("sent", 0) + counts.get("failed", 0) + counts.get("suppressed", 0)
            elapsed = time.monotonic() - started
            if planned_at is None and total >= n:
                planned_at = elapsed
            if fault != "none" and back_at is None and counts.get("sent", 0) >= n * options["fault_at"]:
                sent_before = counts.get("sent", 0)
                if fault == "kill":
                    processes.kill_worker()
                    processes.start_worker()
                else:
                    self._restart_database(options["pg_data"], options["down_seconds"])
                back_at = time.monotonic()
                self.stdout.write(f"  {elapsed:6.1f} s {fault} with {sent_before} sent")
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
        finished = time.monotonic()
        last_sent = (
            Delivery.objects.filter(source=source, status="sent")
            .order_by("-sent_at")
            .values_list("sent_at", flat=True)
            .first()
        )
        first_created = incident.created_at
        wall = (last_sent - first_created).total_seconds() if last_sent else finished - started
        with connection.cursor() as cursor:  # how long each customer waited for the notice
            cursor.execute(
                "SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP "
                "(ORDER BY EXTRACT(EPOCH FROM sent_at - %s)) FROM customers_delivery "
                "WHERE source = %s AND status = 'sent'",
                [first_created, source],
            )
            median, p95 = cursor.fetchone()[0] or [0.0, 0.0]
        time.sleep(1)  # the last SMTP transactions finish
        self.stdout.write(f"declare to a customer's notice sent: median {median:.1f} s, p95 {p95:.1f} s")
        recovery = f"; {fault} to last sent {finished - back_at:.1f} s (poll 0.5 s)" if back_at else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"recipients {n}; fault {fault}; all planned after {planned_at or 0:.1f} s; declare to last sent "
                f"{wall:.1f} s{recovery}; {n / wall:.0f} deliveries/s; sent {counts.get('sent', 0)} "
                f"failed {counts.get('failed', 0)} suppressed {counts.get('suppressed', 0)}; SMTP messages "
                f"{sink.count}, distinct Message-IDs {len(sink.ids)}, duplicates {sink.duplicates()}"
            )
        )
        self._explain_duplicates(source, sink, back_at)

    def _explain_duplicates(self, source: str, sink: _Sink, fault_at: float | None) -> None:
        """Which rows went twice, how many claims each had and when the copies arrived: the story of a bound
        exceeded (two claims: a lease lapsed or a release; one claim: the first claim and its marks were undone)."""
        from customers.services.deliveries_sending import delivery_message_id  # noqa: PLC0415

        twice = {mid: times for mid, times in sink.seen.items() if len(times) > 1}
        if not twice:
            return
        attempts: collections.Counter[int] = collections.Counter()
        for key, tries in Delivery.objects.filter(source=source).values_list("idempotency_key", "attempts").iterator():
            if delivery_message_id(key).encode() in twice:
                attempts[tries] += 1
        gaps = sorted(times[1] - times[0] for times in twice.values())
        firsts = sorted(times[0] - (fault_at or 0.0) for times in twice.values())
        self.stdout.write(
            f"duplicated rows by attempts {dict(sorted(attempts.items()))}; gap between copies "
            f"min {gaps[0]:.1f} s, median {gaps[len(gaps) // 2]:.1f} s, max {gaps[-1]:.1f} s; first copy "
            f"{firsts[0]:+.1f} .. {firsts[-1]:+.1f} s from the fault"
        )

    def _restart_database(self, data: str, down_seconds: float) -> None:
        pg_bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]

        def pg_ctl(*args: str) -> None:
            command = ["runuser", "-u", "postgres", "--", str(pg_bin / "pg_ctl"), "-D", data, "-w", *args]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603

        # start it again with the options it runs with (port, socket directory), as `pg_ctl restart` would
        opts = shlex.split((Path(data) / "postmaster.opts").read_text())[1:]
        if "-D" in opts:
            del opts[opts.index("-D") : opts.index("-D") + 2]
        pg_ctl("stop", "-m", "immediate")
        time.sleep(down_seconds)
        pg_ctl("start", "-l", str(Path(data).parent / "pg.log"), "-o", shlex.join(opts))
        connection.close()

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
                f"2026-01-01 00:00:00+00\tf\n"
            )
        buffer.seek(0)
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY customers_customer (name, email, organization_id, timezone, language, external_id, created_at, "
                "organization_by_domain) "
                "FROM STDIN"
            ) as copy,
        ):
            copy.write(buffer.read())
        self.stdout.write(f"created {n - have} customers with COPY")
        return product
