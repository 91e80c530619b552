"""Benchmark: e-mail in, from a drop folder or a real IMAP server, parsed and routed by one process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inbound_bench DJANGO_SECRET_KEY=bench \\
      .venv/bin/python manage.py bench_inbound --messages 10000 --source folder --poll-interval 10
    ... --source imap --imap-port 10143 --imap-user support@example.com --imap-password secret

A writer drops a realistic mix (new requests, quoted replies to tickets we answered, HTML-only mail,
attachments, out-of-office replies, RFC 3464 bounces of e-mails we sent) at ``--rate`` messages a second
while this process polls every ``--poll-interval`` seconds and processes what it stored, as a worker with
beat would (tasks run inline: one process does everything). Reported: messages per second processed
(store + parse + route + write), the same for routing alone (the processing tasks' own time, without the
acknowledgments' sending that runs inside them inline), the median and p95 time one message takes (its
task's time over the messages it took: a batch's cost is shared by its messages), and the median and p95
time from a message landing in the mailbox to its ticket being visible (target: p95 within the poll
interval plus 5 s).

``--worker N`` routes as deployed instead: this process polls and stores (beat's task), a real worker of
N processes (started here, against ``CELERY_BROKER_URL``) routes what it stores, and the report gives the
time from the start of the poll that took the most messages to the last of them processed, instead of the
routing tasks' own time.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import random
import shutil
import statistics
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from celery import current_app as celery_app
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from core.bench import CeleryProcesses
from customers.models import Customer, Delivery
from tickets.inbound.models import InboundEmail, Mailbox, MailThreadId
from tickets.inbound.sources import mailbox_poll
from tickets.models import Queue, Ticket

MIX = [("new", 40), ("reply", 30), ("html", 10), ("attachment", 10), ("auto", 5), ("bounce", 5)]
QUOTE = "\n".join(f"> line {n} of what we wrote before, quoted back at us" for n in range(30))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 40_000
#: the tasks that parse and route (one message each before batches, a batch now)
ROUTING_TASKS = {"tickets.process_inbound_email": False, "tickets.process_inbound_emails": True}


class _RoutingTimer:
    """The time the routing tasks take (eager: inside the poll), and each message's share of it.

    Eager tasks run inside the task that sent them on commit (the batch's acknowledgments' sending, a
    retry): each task's own time leaves out the tasks nested in it, so routing is counted once and
    sending e-mail (a task of its own on a worker) not at all."""

    def __init__(self) -> None:
        self.running: list[list[Any]] = []  # [task_id, started, time of the tasks nested in it]
        self.total = 0.0
        self.per_message: list[float] = []

    def prerun(self, task_id: str = "", task: Any = None, **kwargs: Any) -> None:
        self.running.append([task_id, time.perf_counter(), 0.0])

    def postrun(self, task_id: str = "", task: Any = None, args: Any = (), **kwargs: Any) -> None:
        if not self.running or self.running[-1][0] != task_id:
            return
        _, started, nested = self.running.pop()
        took = time.perf_counter() - started
        if self.running:
            self.running[-1][2] += took
        if task is None or task.name not in ROUTING_TASKS:
            return
        own = took - nested
        count = max(1, len(args[0])) if ROUTING_TASKS[task.name] else 1
        self.total += own
        self.per_message += [own / count] * count


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Messages per second and landing-to-visible time of inbound e-mail (a database whose name has 'bench')."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--messages", type=int, default=10_000)
        parser.add_argument("--rate", type=float, default=300.0, help="messages landing per second")
        parser.add_argument("--poll-interval", type=float, default=10.0)
        parser.add_argument("--source", choices=["folder", "imap"], default="folder")
        parser.add_argument("--imap-port", type=int, default=10143)
        parser.add_argument("--imap-user", default="support@example.com")
        parser.add_argument("--imap-password", default="secret")
        parser.add_argument(
            "--worker", type=int, default=0, metavar="N",
            help="route in a real worker of N processes (as deployed) instead of inline in this one",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if "bench" not in str(connection.settings_dict["NAME"]):
            raise CommandError("Run it against a database whose name has 'bench' (it creates thousands of tickets).")
        processes = None
        if options["worker"]:  # as deployed: a worker's processes route what this process (beat's poll) stores
            if settings.CELERY_BROKER_URL.startswith("filesystem"):
                raise CommandError("--worker needs a broker both processes reach: set CELERY_BROKER_URL=redis://...")
            processes = CeleryProcesses(env={}, concurrency=options["worker"], own_var_dir=False)
            processes.start_worker()
            processes.wait_ready()
        else:
            celery_app.conf.task_always_eager = True  # one process: each stored message is processed at once
        try:
            self._run(options)
        finally:
            if processes is not None:
                processes.stop()

    def _run(self, options: dict[str, Any]) -> None:
        rng = random.Random(42)
        folder = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
        mailbox = self._mailbox(options, folder)
        replies_to = self._answered_tickets(mailbox.queue, 200)
        landed: dict[str, float] = {}
        kinds: dict[str, str] = {}
        bounced = self._sent_deliveries(replies_to)
        messages = [self._message(n, rng, replies_to, kinds, bounced) for n in range(options["messages"])]
        writer = threading.Thread(target=self._land, args=(messages, options, folder, landed), daemon=True)
        timer = _RoutingTimer()
        task_prerun.connect(timer.prerun, weak=False)
        task_postrun.connect(timer.postrun, weak=False)
        started = time.monotonic()
        writer.start()
        busy = 0.0
        polls: list[tuple[dt.datetime, int]] = []  # (when a poll started, how many it stored)

        def left() -> bool:
            return (
                writer.is_alive()
                or self._waiting(options, folder, mailbox)
                or mailbox.inbound_emails.filter(state__in=[InboundEmail.State.NEW, InboundEmail.State.FAILED]).exists()
            )

        while left():
            t0 = time.monotonic()
            polls.append((timezone.now(), mailbox_poll(mailbox)))
            busy += time.monotonic() - t0
            while time.monotonic() - t0 < options["poll_interval"] and left():
                time.sleep(0.5)  # the next poll when the interval is up, or the end once all is routed
        elapsed = time.monotonic() - started
        self._report(options, mailbox, landed, busy, elapsed, timer, polls)
        shutil.rmtree(folder, ignore_errors=True)

    # set-up ------------------------------------------------------------------------------------------------

    def _mailbox(self, options: dict[str, Any], folder: Path) -> Mailbox:
        queue, _ = Queue.objects.get_or_create(slug="bench-inbound", defaults={"name": "Bench inbound"})
        # a mailbox of its own each run: the stored messages of an earlier run keep theirs (PROTECT)
        Mailbox.objects.filter(address="bench-support@helpdesk.localhost").update(
            address=f"bench-support-{time.time_ns():x}@helpdesk.localhost", is_active=False
        )
        fields: dict[str, Any] = {"source": Mailbox.Source.FOLDER, "folder_path": str(folder)}
        if options["source"] == "imap":
            fields = {
                "source": Mailbox.Source.IMAP, "imap_host": "127.0.0.1", "imap_port": options["imap_port"],
                "imap_security": Mailbox.ImapSecurity.NONE, "imap_user": options["imap_user"],
                "imap_password": options["imap_password"],
            }  # fmt: skip
        return Mailbox.objects.create(address="bench-support@helpdesk.localhost", queue=queue, **fields)

    def _answered_tickets(self, queue: Queue, count: int) -> list[tuple[str, str]]:
        """(customer e-mail, Message-ID we sent): tickets that replies in the mix answer."""
        from tickets.services import ticket_create  # noqa: PLC0415

        pairs = []
        for n in range(count):
            customer, _ = Customer.objects.get_or_create(
                email=f"bench-reply{n}@math.example", defaults={"name": f"R{n}"}
            )
            ticket = ticket_create(requester=customer, subject=f"Bench ticket {n}", body="Help", queue=queue)
            message_id = f"bench-sent-{ticket.pk}@helpdesk.localhost"
            MailThreadId.objects.get_or_create(message_id=message_id, defaults={"ticket": ticket, "outbound": True})
            pairs.append((customer.email, message_id))
        return pairs

    def _sent_deliveries(self, replies_to: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """(recipient, Message-ID): e-mails we sent that the mix's bounces report on (one delivery each)."""
        from customers.services.deliveries_sending import delivery_message_id  # noqa: PLC0415

        sent = []
        for n, (email, _) in enumerate(replies_to):
            key = f"bench-inbound:{time.time_ns()}:{n}"
            Delivery.objects.create(
                idempotency_key=key, customer=Customer.objects.get(email=email), recipient=email,
                category="service", subject="Your request", body="We answered.", status=Delivery.Status.SENT,
            )  # fmt: skip
            sent.append((email, delivery_message_id(key)))
        return sent

    def _bounce(self, n: int, message_id: str, bounced: tuple[str, str]) -> bytes:
        """An RFC 3464 report as Postfix writes it: text, message/delivery-status, the original's headers."""
        recipient, original = bounced
        return (
            "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
            "To: bench-support@helpdesk.localhost\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: <{message_id}>\r\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="b{n}"\r\n\r\n'
            f"--b{n}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "This is the mail system at host mx.example.net.\r\n\r\n"
            f"<{recipient}>: host mx.client.example said: 550 5.1.1 User unknown\r\n\r\n"
            f"--b{n}\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.net\r\nArrival-Date: Tue, 01 Dec 2026 09:59:58 +0000\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
            f"--b{n}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: support@helpdesk.localhost\r\nTo: {recipient}\r\nSubject: Your request\r\n"
            f"Message-ID: {original}\r\n\r\n"
            f"--b{n}--\r\n"
        ).encode()

    def _message(self, n: int, rng: random.Random, replies_to: list[tuple[str, str]], kinds: dict[str, str],
                 bounced: list[tuple[str, str]]) -> bytes:  # fmt: skip
        kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        message = EmailMessage()
        message_id = f"bench-{n}-{rng.getrandbits(32):x}@math.example"
        kinds[message_id] = kind
        message["Message-ID"] = f"<{message_id}>"
        message["To"] = "bench-support@helpdesk.localhost"
        message["Date"] = "Tue, 01 Dec 2026 10:00:00 +0000"
        sender = f"bench-new{n % 3000}@math.example"
        if kind == "reply":
            sender, sent_id = rng.choice(replies_to)
            message["In-Reply-To"] = f"<{sent_id}>"
            message["Subject"] = "Re: Bench ticket"
            message.set_content(
                f"Thanks, still broken ({n}).\n\nOn Tue, Dec 1, 2026 at 10:00 AM Support wrote:\n{QUOTE}"
            )
        elif kind == "html":
            message["Subject"] = f"HTML only {n}"
            message.set_content(f"<html><body><p>Hello,</p><p>the <b>export</b> fails ({n}).</p></body></html>",
                                subtype="html")  # fmt: skip
        elif kind == "attachment":
            message["Subject"] = f"Invoice {n}"
            message.set_content("See the attached invoice.")
            message.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"invoice-{n}.pdf")
        elif kind == "auto":
            sender, sent_id = rng.choice(replies_to)
            message["In-Reply-To"] = f"<{sent_id}>"
            message["Auto-Submitted"] = "auto-replied"
            message["Subject"] = "Out of office"
            message.set_content("I am away until Monday.")
        elif kind == "bounce":
            return self._bounce(n, message_id, rng.choice(bounced))
        else:
            message["Subject"] = f"New request {n}"
            message.set_content(f"The export fails with error E{n}.\n\nBest,\nA customer")
        message["From"] = sender
        return message.as_bytes()

    # the run -------------------------------------------------------------------------------------------------

    def _land(self, messages: list[bytes], options: dict[str, Any], folder: Path, landed: dict[str, float]) -> None:
        interval = 1.0 / options["rate"]
        client = None
        if options["source"] == "imap":
            client = imaplib.IMAP4("127.0.0.1", options["imap_port"])
            client.login(options["imap_user"], options["imap_password"])
        next_at = time.monotonic()
        for n, raw in enumerate(messages):
            message_id = raw.split(b"Message-ID: <", 1)[1].split(b">", 1)[0].decode()
            if client is not None:
                client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
            else:
                tmp = folder / f".{n}.tmp"
                tmp.write_bytes(raw)
                tmp.rename(folder / f"{n:06d}.eml")  # appears whole, as an MTA's delivery would
            landed[message_id] = time.time()
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        if client is not None:
            client.logout()

    def _waiting(self, options: dict[str, Any], folder: Path, mailbox: Mailbox) -> bool:
        if options["source"] == "folder":
            return any(folder.glob("*.eml"))
        client = imaplib.IMAP4("127.0.0.1", options["imap_port"])
        try:
            client.login(options["imap_user"], options["imap_password"])
            client.select("INBOX")
            _, data = client.search(None, "UNSEEN")
            return bool(data[0].split())
        finally:
            client.logout()

    def _report(self, options: dict[str, Any], mailbox: Mailbox, landed: dict[str, float], busy: float,
                elapsed: float, timer: _RoutingTimer, polls: list[tuple[dt.datetime, int]]) -> None:  # fmt: skip
        # this run's mailbox only: an earlier run's messages carry the same Message-IDs (the same seed)
        rows = list(
            mailbox.inbound_emails.filter(message_id__in=list(landed)).values_list(
                "message_id", "received_at", "processed_at", "state"
            )
        )
        waits = [r[2].timestamp() - landed[r[0]] for r in rows if r[2] is not None]
        processing = [(r[2] - r[1]).total_seconds() for r in rows if r[2] is not None]
        states: dict[str, int] = {}
        for row in rows:
            states[row[3]] = states.get(row[3], 0) + 1
        self.stdout.write(
            f"{options['source']}: {len(landed)} messages landed at {options['rate']:.0f}/s, "
            f"poll every {options['poll_interval']:.0f} s; stored {len(rows)}, {states}; "
            f"tickets now {Ticket.objects.count()}; "
            f"{mailbox.inbound_emails.filter(outcome__contains='bounced').count()} bounces matched to their delivery"
        )
        work = "stored {} in {:.1f} s of polling" if options["worker"] else "processed {} in {:.1f} s of work"
        self.stdout.write(
            f"  {work.format(len(processing), busy)}: {len(processing) / busy:.0f} messages/s; "
            f"store-to-processed median {statistics.median(processing) * 1000:.1f} ms, "
            f"p95 {_percentile(processing, 0.95) * 1000:.1f} ms"
        )
        costs = timer.per_message
        if not costs:  # --worker: the routing ran in the worker's processes
            # the largest poll's burst: from that poll's start to the last of its messages processed
            index = max(range(len(polls)), key=lambda i: polls[i][1])
            start, end = polls[index][0], polls[index + 1][0] if index + 1 < len(polls) else None
            burst = [r[2] for r in rows if r[1] >= start and (end is None or r[1] < end) and r[2] is not None]
            took = (max(burst) - start).total_seconds()
            self.stdout.write(
                f"  a worker of {options['worker']} processes routed them: the largest poll's {len(burst)} in "
                f"{took:.1f} s from its start to the last of them processed ({len(burst) / took:.0f} messages/s); "
                f"the polls (storing and the source) took {busy:.1f} s"
            )
        else:
            median, p95 = statistics.median(costs) * 1000, _percentile(costs, 0.95) * 1000
            self.stdout.write(
                f"  routing alone (parse + route + write): {len(costs)} in {timer.total:.1f} s, "
                f"{len(costs) / timer.total:.0f} messages/s; per message median {median:.1f} ms, p95 {p95:.1f} ms; "
                f"storing, the source and sending the acknowledgments: {busy - timer.total:.1f} s"
            )
        self.stdout.write(
            f"  landing to visible: median {statistics.median(waits):.2f} s, p95 {_percentile(waits, 0.95):.2f} s, "
            f"max {max(waits):.2f} s (target p95 <= {options['poll_interval'] + 5:.0f} s); wall {elapsed:.1f} s"
        )
