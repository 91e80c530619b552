"""Benchmark: POST /api/v1/events/ throughput in events/s, median and p95 over batches, the whole request.

Run against a throw-away PostgreSQL database whose name contains ``bench``, with DEBUG off (DEBUG logs
every statement, which costs time a production server does not spend)::

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/events_bench DJANGO_SECRET_KEY=bench \\
        DJANGO_SECURE_SSL_REDIRECT=false
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py bench_events --customers 100000 --events 10000000 --batches 100
    # as a client sees it, over HTTP, against a server started the way production starts it:
    .venv/bin/gunicorn config.wsgi -w 1 -b 127.0.0.1:8765 &
    .venv/bin/python manage.py bench_events --customers 100000 --url http://127.0.0.1:8765

Each batch is a whole request with an agent's API token: over HTTP with ``--url`` (a kept-alive
connection; the time runs from the first byte sent to the last byte of the response read), otherwise
through Django's WSGI handler in this process (middleware, routing, authentication, parsing, the view,
rendering; no socket). A third of the rows name their customer by id, e-mail and external id each, one in
50 repeats an earlier event of the batch. A second pass re-posts the first batches (all duplicates).
``--clients N`` (with ``--url``) posts from N connections at once
and adds the overall rate: what a server with that many workers ingests, not one client's wait.
``--events`` first tops the events table up to that many rows (one ``INSERT ... SELECT`` per million, at
random customers over 90 days), so the figures are for a table of the size asked; ``--stages`` (in
process only) also prints where the time of a batch goes.
"""

import contextlib
import datetime as dt
import functools
import http.client
import io
import json
import queue
import random
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from core.models import User
from core.roles import AGENTS
from customers.models import Customer, CustomerEvent


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class _InProcess:
    """Posts through Django's WSGI handler, the object gunicorn calls."""

    def __init__(self, token: str) -> None:
        self.handler, self.token = WSGIHandler(), token

    def post(self, body: bytes) -> tuple[float, dict[str, Any]]:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/events/", "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Token {self.token}", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(), "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.version": (1, 0),
        }  # fmt: skip
        status: list[str] = []
        start = time.perf_counter()
        chunks = self.handler(environ, lambda s, headers, exc_info=None: status.append(s))
        content = b"".join(chunks)
        seconds = time.perf_counter() - start
        if hasattr(chunks, "close"):
            chunks.close()  # request_finished, as a WSGI server does
        if not status[0].startswith(("200", "207")):
            raise CommandError(f"{status[0]}: {content[:300]!r}")
        return seconds, json.loads(content)


class _OverHttp:
    def __init__(self, url: str, token: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        self.path, self.token, self.host = parts.path.rstrip("/") + "/api/v1/events/", token, parts.netloc

    def post(self, body: bytes) -> tuple[float, dict[str, Any]]:
        headers = {"Content-Type": "application/json", "Authorization": f"Token {self.token}", "Host": self.host}
        start = time.perf_counter()
        self.connection.request("POST", self.path, body=body, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        seconds = time.perf_counter() - start
        if response.status not in (200, 207):
            raise CommandError(f"{response.status}: {content[:300]!r}")
        return seconds, json.loads(content)


class _Stages:
    """Wall time per stage of each in-process request, by wrapping the functions a request goes through."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self.current: dict[str, float] = {}

    def add(self, label: str, seconds: float) -> None:
        self.current[label] = self.current.get(label, 0.0) + seconds

    def request_done(self, seconds: float) -> None:
        """Close the request's totals (a stage called per row sums); what no stage covers is the rest."""
        self.current["the rest (middleware, authentication, routing, DRF, the view's loop)"] = seconds - sum(
            v for k, v in self.current.items() if not k.startswith("  ")
        )
        for label, value in self.current.items():
            self.seconds.setdefault(label, []).append(value)
        self.current = {}

    def wrap(self, owner: Any, name: str, label: str) -> Callable[[], None]:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start)

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from rest_framework.renderers import JSONRenderer  # noqa: PLC0415

        from core.api.parsers import DepthLimitedJSONParser  # noqa: PLC0415
        from customers.api import views  # noqa: PLC0415
        from customers.services import events  # noqa: PLC0415

        undo = [
            self.wrap(DepthLimitedJSONParser, "parse", "parse JSON (depth guard + json.loads)"),
            self.wrap(views, "event_row_check", "row checks (1,000 calls)"),
            self.wrap(views, "customer_events_ingest", "service (resolve + insert + commit)"),
            self.wrap(events, "_resolve", "  resolve customers"),
            self.wrap(events, "_insert", "  insert + last-seen touch"),
            self.wrap(JSONRenderer, "render", "render the response"),
        ]
        original_atomic = transaction.Atomic.__exit__

        def timed_exit(atomic: Any, *args: Any) -> Any:
            start = time.perf_counter()
            try:
                return original_atomic(atomic, *args)
            finally:
                if connection.get_autocommit():  # the outermost block: its exit is the COMMIT
                    self.add("  commit (deferred FK checks, WAL flush)", time.perf_counter() - start)

        transaction.Atomic.__exit__ = timed_exit  # type: ignore[method-assign]
        try:
            yield
        finally:
            transaction.Atomic.__exit__ = original_atomic  # type: ignore[method-assign]
            for step in undo:
                step()


class Command(BaseCommand):
    help = "Time event ingestion through the whole API request (PostgreSQL database whose name contains 'bench')."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=10_000)
        parser.add_argument("--events", type=int, default=0, help="top the events table up to this many rows first")
        parser.add_argument("--batches", type=int, default=100)
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--url", default="", help="post over HTTP to a running server at this address")
        parser.add_argument("--stages", action="store_true", help="also time the stages of each request")
        parser.add_argument("--clients", type=int, default=1, help="with --url: this many posting at once")

    def handle(self, *args: Any, **options: Any) -> None:
        name = settings.DATABASES["default"]["NAME"]
        if connection.vendor != "postgresql" or "bench" not in str(name):
            raise CommandError("Run it against a PostgreSQL database whose name contains 'bench'.")
        if options["stages"] and options["url"]:
            raise CommandError("--stages times this process: leave out --url.")
        if options["clients"] > 1 and not options["url"]:
            raise CommandError("--clients needs a server to post to (--url).")
        rng = random.Random(options["seed"])
        customers = self._customers(options["customers"])
        if options["events"]:
            self._events(options["events"], customers)
        agent, _ = User.objects.get_or_create(email="bench-agent@bench.example")
        agent.groups.add(Group.objects.get_or_create(name=AGENTS)[0])
        token = Token.objects.get_or_create(user=agent)[0].key
        client = _OverHttp(options["url"], token) if options["url"] else _InProcess(token)
        run = f"{time.time_ns():x}"
        before = CustomerEvent.objects.count()
        size = options["batch_size"]
        sent: list[bytes] = []
        stages = _Stages()
        fresh: list[float] = []

        def body_of(number: int) -> bytes:
            events: list[dict[str, Any]] = []
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
            return json.dumps({"events": events}).encode()

        def checked(data: dict[str, Any]) -> None:
            if data["invalid"] or data["unknown_customer"]:
                raise CommandError(f"unexpected rejects: {data['invalid']} invalid, {data['unknown_customer']} unknown")

        wall = 0.0
        if options["clients"] > 1:  # concurrent clients, each on its own connection, sharing one list of batches
            bodies = [body_of(number) for number in range(options["batches"])]
            sent = bodies[:10]
            work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
            for body in bodies:
                work.put(body)
            failures: list[BaseException] = []

            def drive(each: _OverHttp) -> None:
                try:
                    while True:
                        try:
                            body = work.get_nowait()
                        except queue.Empty:
                            return
                        seconds, data = each.post(body)
                        checked(data)
                        fresh.append(seconds)
                except BaseException as exc:  # reported once the threads are joined
                    failures.append(exc)

            threads = [
                threading.Thread(target=drive, args=(_OverHttp(options["url"], token),))
                for _ in range(options["clients"])
            ]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - start
            if failures:
                raise CommandError(f"a client failed: {failures[0]!r}")
        with stages.installed() if options["stages"] else contextlib.nullcontext():
            for number in range(options["batches"] if options["clients"] == 1 else 0):
                body = body_of(number)
                seconds, data = client.post(body)
                if options["stages"]:
                    stages.request_done(seconds)
                checked(data)
                fresh.append(seconds)
                if number < 10:
                    sent.append(body)
        again = [client.post(body)[0] for body in sent]  # (after the stages are uninstalled)
        after = CustomerEvent.objects.count()

        def report(label: str, seconds: list[float]) -> None:
            median, p95 = statistics.median(seconds), _percentile(seconds, 95)
            self.stdout.write(
                f"{label}: {len(seconds)} batches of {size}: "
                f"median {median * 1000:.1f} ms ({size / median:,.0f} events/s), "
                f"p95 {p95 * 1000:.1f} ms ({size / p95:,.0f} events/s)"
            )

        how = f"over HTTP to {options['url']}" if options["url"] else "through the WSGI handler in process"
        self.stdout.write(f"{how}; customers {len(customers):,}; events table {before:,} rows before, {after:,} after")
        report("new events", fresh)
        if wall:
            self.stdout.write(
                f"  {options['clients']} clients at once: {len(fresh) * size / wall:,.0f} events/s overall "
                f"({len(fresh)} batches in {wall:.1f} s)"
            )
        report("re-posted (all duplicates)", again)
        if options["stages"]:
            self.stdout.write("stages of a new batch (median ms):")
            for label, seconds in stages.seconds.items():
                self.stdout.write(f"  {label}: {statistics.median(seconds) * 1000:.1f}")

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

    def _events(self, n: int, customers: list[tuple[int, str, str]]) -> None:
        """Top the table up to ``n`` rows, a million per statement, built by the server (no rows cross the wire)."""
        table = CustomerEvent._meta.db_table
        have = CustomerEvent.objects.count()
        ids = [pk for pk, _, _ in customers]
        while have < n:
            part = min(1_000_000, n - have)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (event_id, customer_id, kind, occurred_at, properties, received_at) "  # noqa: S608
                    "SELECT 'seed-' || md5(%s || '-' || i), (%s::bigint[])[1 + floor(random() * %s)::int], "
                    "(ARRAY['login', 'export.run', 'error', 'page.view'])[1 + i %% 4], "
                    "timestamptz '2026-08-01' + random() * interval '90 days', jsonb_build_object('n', i), "
                    "timestamptz '2026-08-01' + i * interval '1 second' FROM generate_series(1, %s) AS i",
                    [f"{time.time_ns():x}", ids, len(ids), part],
                )
            have += part
            self.stderr.write(f"events table: {have:,} rows")
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
