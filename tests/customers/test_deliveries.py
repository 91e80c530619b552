import datetime as dt
import smtplib
import uuid
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from customers.models import ContactPreference, Delivery
from customers.services import (
    DeliveryDraft,
    deliveries_enqueue,
    deliveries_plan,
    deliveries_send,
    deliveries_sending,
    deliveries_sweep,
    delivery_plan,
)
from customers.services.customers import contact_preference_update
from customers.services.deliveries_planning import contact_preference_quiet_hours_end
from customers.services.deliveries_sending import delivery_email_build
from tests.factories import CustomerFactory
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db


def _deliver(customer, key="k-1", category="service", **kwargs):
    return delivery_plan(key=key, category=category, subject="Hello", body="Body", customer=customer, **kwargs)


def test_deliver_creates_a_queued_row_and_sends_it_on_commit(django_capture_on_commit_callbacks):
    customer = CustomerFactory(email="ada@client.example")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        delivery = _deliver(customer)
    assert len(callbacks) == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 1
    assert abs((timezone.now() - delivery.sent_at).total_seconds()) < 60
    assert Delivery.objects.filter(sent_at__lte=timezone.now(), status="sent").count() == 1
    assert [m.to for m in mail.outbox] == [["ada@client.example"]]
    assert mail.outbox[0].subject == "Hello"


def test_deliver_with_the_same_key_twice_gives_one_row_and_one_email(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = _deliver(customer, key="ticket:1:message:7")
        second = _deliver(customer, key="ticket:1:message:7")
    assert first.pk == second.pk
    assert Delivery.objects.count() == 1
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1


def test_nothing_is_sent_when_the_callers_transaction_rolls_back(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _deliver(customer)
    # the callbacks only run on commit; a rolled-back caller never runs them
    assert len(callbacks) == 1
    assert mail.outbox == []
    assert Delivery.objects.get().status == Delivery.Status.QUEUED


def test_sending_the_same_rows_twice_sends_once():
    customer = CustomerFactory()
    delivery = _deliver(customer)  # no on-commit run: the row stays queued
    first = deliveries_send(delivery_ids=[delivery.pk])
    second = deliveries_send(delivery_ids=[delivery.pk])
    assert first == {"sent": 1, "failed": 0, "retrying": 0, "suppressed": 0}
    assert second == {"sent": 0, "failed": 0, "retrying": 0, "suppressed": 0}
    assert len(mail.outbox) == 1


def test_an_opted_out_category_is_suppressed_with_its_reason(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    ContactPreference.objects.create(customer=customer, opted_out=["announcement"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        delivery = _deliver(customer, category="announcement")
    assert delivery.status == Delivery.Status.SUPPRESSED
    assert delivery.suppressed_reason == "opted out of announcements"
    assert callbacks == []
    assert mail.outbox == []


def test_service_and_outage_messages_ignore_opt_outs_and_quiet_hours(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    ContactPreference.objects.create(
        customer=customer,
        opted_out=["outage", "service"],
        quiet_hours_start=dt.time(0),
        quiet_hours_end=dt.time(23, 59),
    )
    with django_capture_on_commit_callbacks(execute=True):
        outage = _deliver(customer, key="a", category="outage")
        service = _deliver(customer, key="b", category="service")
    outage.refresh_from_db()
    service.refresh_from_db()
    assert (outage.status, service.status) == (Delivery.Status.SENT, Delivery.Status.SENT)


def test_quiet_hours_hold_a_reminder_until_they_end_in_the_customers_zone(django_capture_on_commit_callbacks):
    customer = CustomerFactory(timezone="America/New_York")
    ContactPreference.objects.create(customer=customer, quiet_hours_start=dt.time(22), quiet_hours_end=dt.time(7))
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        delivery = _deliver(customer, category="reminder")
    expected = contact_preference_quiet_hours_end(customer.contact_preference, customer.zone, now)
    if expected is None:  # it is daytime in New York: sent at once
        assert delivery.next_attempt_at <= timezone.now()
        assert len(callbacks) == 1
    else:
        assert callbacks == []
        assert abs((delivery.next_attempt_at - expected).total_seconds()) < 5
        assert delivery.status == Delivery.Status.QUEUED


@pytest.mark.parametrize(
    ("utc_now", "expected_end_utc"),
    [
        # 23:30 in New York (EDT, UTC-4) on 2026-07-01: held until 07:00 EDT = 11:00 UTC next day
        (dt.datetime(2026, 7, 2, 3, 30, tzinfo=dt.UTC), dt.datetime(2026, 7, 2, 11, 0, tzinfo=dt.UTC)),
        # 06:00 local, still quiet: until 07:00 the same day
        (dt.datetime(2026, 7, 2, 10, 0, tzinfo=dt.UTC), dt.datetime(2026, 7, 2, 11, 0, tzinfo=dt.UTC)),
        # 12:00 local: not quiet
        (dt.datetime(2026, 7, 2, 16, 0, tzinfo=dt.UTC), None),
        # the night DST ends (2026-11-01, EDT -> EST): 07:00 EST is 12:00 UTC
        (dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)),
    ],
)
def test_quiet_hours_across_midnight_and_dst(utc_now, expected_end_utc):
    import zoneinfo

    preference = ContactPreference(quiet_hours_start=dt.time(22), quiet_hours_end=dt.time(7))
    assert (
        contact_preference_quiet_hours_end(preference, zoneinfo.ZoneInfo("America/New_York"), utc_now)
        == expected_end_utc
    )


def test_deliver_many_plans_rows_in_bulk_and_enqueues_chunks(django_capture_on_commit_callbacks, settings):
    settings.HELPDESK = {**settings.HELPDESK, "DELIVERY_CHUNK_SIZE": 4}
    customers = CustomerFactory.create_batch(10)
    drafts = [DeliveryDraft(key=f"incident:1:{c.pk}", category="outage", subject="Down", body="We are on it",
                            customer=c, source="incident:1") for c in customers]  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queued = deliveries_plan(drafts=drafts)
        again = deliveries_plan(drafts=drafts)
    assert len(queued) == 10
    assert again == []
    assert len(callbacks) == 3  # 4 + 4 + 2 recipients a task, not one task a recipient
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 10
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)


def test_deliveries_enqueue_sends_chunks_per_queue_on_commit_and_nothing_on_rollback(
    django_capture_on_commit_callbacks, settings
):
    # given rows planned without enqueueing (a worker would pick them up only through the sweeper)
    settings.HELPDESK = {**settings.HELPDESK, "DELIVERY_CHUNK_SIZE": 2}
    customers = CustomerFactory.create_batch(5)
    rows = [Delivery.objects.create(idempotency_key=f"e-{c.pk}", customer=c, recipient=c.email,
                                    category="service" if i < 3 else "announcement", subject="S", body="B",
                                    next_attempt_at=timezone.now())
            for i, c in enumerate(customers)]  # fmt: skip
    by_queue = {"transactional": [r.pk for r in rows[:3]], "bulk": [r.pk for r in rows[3:]]}
    # when the transaction that enqueued them rolls back
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        deliveries_enqueue(by_queue)
        transaction.set_rollback(True)
    # then nothing was published
    assert callbacks == []
    assert mail.outbox == []
    # when it commits: 2 + 1 transactional and 2 bulk ids a task
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        deliveries_enqueue(by_queue)
    assert len(callbacks) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)


def test_the_sweeper_recovers_rows_a_dead_worker_left_in_sending(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    delivery = _deliver(customer)
    long_ago = timezone.now() - dt.timedelta(hours=1)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.SENDING, claimed_until=long_ago,
                                                   next_attempt_at=long_ago, created_at=long_ago)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        result = deliveries_sweep()
    assert result == {"recovered": 1, "enqueued": 1}
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT  # eager: the sweeper's task ran at once
    assert len(mail.outbox) == 1


def test_the_sweeper_leaves_a_chunk_whose_lease_is_current_and_a_sending_chunk_extends_it(smtp, settings):
    settings.HELPDESK = {**settings.HELPDESK, "DELIVERY_LEASE_SECONDS": 0.4, "DELIVERY_MARK_BATCH": 1}
    customers = CustomerFactory.create_batch(3)
    rows = [_deliver(c, key=f"k-{c.pk}") for c in customers]
    smtp.delay = 0.3  # the chunk takes 0.9 s, longer than its lease: it must extend it to keep it
    leases = []
    real_keep = deliveries_sending._Lease.keep

    def keep(self):
        kept = real_keep(self)
        leases.extend(Delivery.objects.filter(status="sending").values_list("claimed_until", flat=True))
        assert deliveries_sweep()["recovered"] == 0  # alive: nothing to recover meanwhile
        return kept

    deliveries_sending._Lease.keep = keep
    try:
        assert deliveries_send(delivery_ids=[r.pk for r in rows])["sent"] == 3
    finally:
        deliveries_sending._Lease.keep = real_keep
    assert len(set(leases)) >= 2  # extended while sending
    assert len(smtp.messages) == 3


def test_a_chunk_that_lost_its_lease_stops_sending_the_rows_given_to_another_worker(smtp, settings):
    settings.HELPDESK = {**settings.HELPDESK, "DELIVERY_LEASE_SECONDS": 0.2, "DELIVERY_MARK_BATCH": 1}
    customers = CustomerFactory.create_batch(4)
    rows = [_deliver(c, key=f"k-{c.pk}") for c in customers]
    smtp.delay = 0.25  # frozen past its lease after the first message
    real_keep = deliveries_sending._Lease.keep

    def keep(self):  # meanwhile the sweeper re-queued the lapsed rows and another worker claimed them
        Delivery.objects.filter(status="sending").update(claim_token=uuid.uuid4())
        return real_keep(self)

    deliveries_sending._Lease.keep = keep
    try:
        assert deliveries_send(delivery_ids=[r.pk for r in rows])["sent"] == 1
    finally:
        deliveries_sending._Lease.keep = real_keep
    assert len(smtp.messages) == 1  # not four: the other three are the new owner's


def test_the_sweeper_leaves_fresh_rows_to_their_own_task():
    customer = CustomerFactory()
    _deliver(customer)
    assert deliveries_sweep() == {"recovered": 0, "enqueued": 0}
    assert Delivery.objects.get().status == Delivery.Status.QUEUED


def test_the_sweeper_enqueues_a_held_row_once_it_is_due(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    delivery = _deliver(customer, send_after=timezone.now() + dt.timedelta(hours=3))
    assert deliveries_sweep()["enqueued"] == 0
    # three hours later
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=now - dt.timedelta(hours=3), next_attempt_at=now - dt.timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep()["enqueued"] == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT


# --- a real SMTP server on loopback ------------------------------------------------------


@pytest.fixture
def smtp(settings):
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_TIMEOUT = 5
        yield server.sink


def test_a_chunk_goes_over_one_smtp_connection(smtp):
    customers = CustomerFactory.create_batch(5)
    rows = [_deliver(c, key=f"k-{c.pk}") for c in customers]
    counts = deliveries_send(delivery_ids=[r.pk for r in rows])
    assert counts == {"sent": 5, "failed": 0, "retrying": 0, "suppressed": 0}
    assert sorted(smtp.recipients()) == sorted(c.email for c in customers)
    assert len(smtp.sessions) == 1
    # the Message-ID derives from the idempotency key, so a receiver can drop a re-send
    assert len({m["Message-ID"] for m in smtp.messages}) == 5


def test_a_refusing_server_makes_rows_back_off_and_they_are_sent_when_it_recovers(smtp):
    smtp.refuse_next = 1
    customer = CustomerFactory()
    delivery = _deliver(customer)
    assert deliveries_send(delivery_ids=[delivery.pk]) == {"sent": 0, "failed": 0, "retrying": 1, "suppressed": 0}
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.QUEUED
    assert delivery.attempts == 1
    assert "451" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()
    # not due yet: nothing happens
    assert deliveries_send(delivery_ids=[delivery.pk])["sent"] == 0
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliveries_send(delivery_ids=[delivery.pk]) == {"sent": 1, "failed": 0, "retrying": 0, "suppressed": 0}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (Delivery.Status.SENT, 2, "")
    assert smtp.recipients() == [customer.email]


def test_a_permanent_rejection_is_recorded_and_the_rest_of_the_chunk_still_goes(smtp):
    good, bad = CustomerFactory(), CustomerFactory(email="nobody@client.example")
    smtp.reject.add("nobody@client.example")
    rows = [_deliver(bad, key="bad"), _deliver(good, key="good")]
    assert deliveries_send(delivery_ids=[r.pk for r in rows]) == {
        "sent": 1,
        "failed": 1,
        "retrying": 0,
        "suppressed": 0,
    }
    failed = Delivery.objects.get(idempotency_key="bad")
    assert failed.status == Delivery.Status.FAILED
    assert "550" in failed.last_error
    assert smtp.recipients() == [good.email]


def test_one_mailbox_answering_450_delays_its_own_row_only_and_fails_with_its_own_error(smtp, settings):
    settings.HELPDESK = {**settings.HELPDESK, "DELIVERY_MAX_ATTEMPTS": 2}
    customers = CustomerFactory.create_batch(5)
    busy = customers[1]
    smtp.defer.add(busy.email)
    rows = [_deliver(c, key=f"k-{c.pk}") for c in customers]
    assert deliveries_send(delivery_ids=[r.pk for r in rows]) == {
        "sent": 4,
        "failed": 0,
        "retrying": 1,
        "suppressed": 0,
    }
    assert sorted(smtp.recipients()) == sorted(c.email for c in customers if c != busy)
    assert len(smtp.sessions) == 1  # the session went on after the refusal
    others = Delivery.objects.exclude(customer=busy)
    assert set(others.values_list("status", "last_error")) == {(Delivery.Status.SENT, "")}
    row = Delivery.objects.get(customer=busy)
    assert (row.status, row.attempts) == (Delivery.Status.QUEUED, 1)
    assert "450" in row.last_error
    assert busy.email in row.last_error
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert deliveries_send(delivery_ids=[row.pk]) == {"sent": 0, "failed": 0, "retrying": 1, "suppressed": 0}
    row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED
    assert row.last_error.startswith("gave up after 2 attempts")
    assert busy.email in row.last_error


def test_a_server_closing_the_session_puts_the_rest_of_the_chunk_back(smtp):
    customers = CustomerFactory.create_batch(4)
    rows = [_deliver(c, key=f"k-{c.pk}") for c in customers]
    deliveries_send(delivery_ids=[rows[0].pk])  # the first goes
    smtp.close_next = 1
    assert deliveries_send(delivery_ids=[r.pk for r in rows]) == {
        "sent": 0,
        "failed": 0,
        "retrying": 3,
        "suppressed": 0,
    }
    assert set(Delivery.objects.filter(pk__in=[r.pk for r in rows[1:]]).values_list("status", flat=True)) == {
        Delivery.Status.QUEUED
    }
    assert all("421" in e for e in Delivery.objects.filter(pk__in=[r.pk for r in rows[1:]]).values_list(
        "last_error", flat=True))  # fmt: skip


def test_an_unreachable_server_backs_off_every_row_and_gives_up_after_the_last_attempt(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    settings.HELPDESK = {**settings.HELPDESK, "DELIVERY_MAX_ATTEMPTS": 2}
    delivery = _deliver(CustomerFactory())
    deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.QUEUED, 1)
    assert delivery.last_error.startswith("could not connect")
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 2)
    assert delivery.last_error.startswith("gave up after 2 attempts")


def test_smtp_errors_are_classified():
    from customers.services.deliveries_sending import _classify, _Connection, _Permanent, _Transient

    assert _classify(smtplib.SMTPDataError(451, b"later")) is _Transient
    assert _classify(smtplib.SMTPDataError(554, b"no")) is _Permanent
    assert _classify(smtplib.SMTPServerDisconnected("gone")) is _Connection
    assert _classify(ConnectionRefusedError()) is _Connection
    assert _classify(smtplib.SMTPRecipientsRefused({"a@b": (550, b"no")})) is _Permanent
    assert _classify(smtplib.SMTPRecipientsRefused({"a@b": (450, b"busy")})) is _Transient
    assert _classify(smtplib.SMTPRecipientsRefused({"a@b": (421, b"closing")})) is _Connection
    assert _classify(smtplib.SMTPDataError(421, b"closing")) is _Connection
    assert _classify(smtplib.SMTPSenderRefused(451, b"slow down", "from@x")) is _Connection


@override_settings(DEFAULT_FROM_EMAIL="Support <help@acme.example>")
def test_headers_are_kept_on_the_email():
    delivery = _deliver(CustomerFactory(), headers={"List-Unsubscribe": "<https://x/unsub>"})
    deliveries_send(delivery_ids=[delivery.pk])
    assert mail.outbox[0].extra_headers["List-Unsubscribe"] == "<https://x/unsub>"
    assert mail.outbox[0].extra_headers["Message-ID"].endswith("@acme.example>")


# --- the bytes sent over SMTP (customers.services.mime) ------------------------------------

LONG_LINE = "word " * 300  # 1,500 characters on one line: more than SMTP allows, so quoted-printable


@pytest.mark.parametrize(
    ("subject", "body", "html_body", "recipient"),
    [
        ("Hello", "Plain ASCII.\n\nSecond paragraph.\n.\nA lone dot above.", "<p>Plain</p>", "ann@example.com"),
        ("Panne en cours : réseau ⚡", "Bonjour Zoë,\n\nle réseau est coupé.", "<p>Bonjour Zoë</p>", "zoe@example.com"),
        ("Long", LONG_LINE, "", "long@example.com"),
        ("Idn", "Body", "", "ann@exämple.com"),
    ],
)
@override_settings(DEFAULT_FROM_EMAIL="Équipe Support <help@acme.example>")
def test_the_smtp_bytes_say_what_djangos_message_says(smtp, subject, body, html_body, recipient):
    delivery = delivery_plan(
        key=f"mime-{subject}",
        category="announcement",
        subject=subject,
        body=body,
        html_body=html_body,
        recipient=recipient,
        headers={"List-Unsubscribe": "<https://help.example/u/" + "x" * 120 + ">"},
    )
    assert deliveries_send(delivery_ids=[delivery.pk])["sent"] == 1
    (received,) = smtp.messages
    expected = message_from_bytes(delivery_email_build(delivery).message().as_bytes())

    def parts(message):
        return {
            part.get_content_type(): part.get_payload(decode=True).decode().replace("\r\n", "\n").rstrip("\n")
            for part in message.walk()
            if not part.is_multipart()
        }

    def header(message, name):
        return " ".join(str(make_header(decode_header(message[name]))).split())  # unfolded

    for name in ("Subject", "From", "To", "Message-ID", "List-Unsubscribe"):
        assert header(received, name) == header(expected, name), name
    assert header(received, "Subject") == subject
    assert header(received, "From") == "Équipe Support <help@acme.example>"
    assert parts(received) == parts(expected)
    assert parts(received)["text/plain"] == body.rstrip("\n")
    assert all(len(line) <= 998 for line in received.as_bytes().split(b"\n"))


def test_a_line_break_in_a_header_value_cannot_add_a_header(smtp):
    delivery = _deliver(CustomerFactory(), headers={"X-Note": "a\r\nBcc: evil@example.com"})
    assert deliveries_send(delivery_ids=[delivery.pk])["sent"] == 1
    (received,) = smtp.messages
    assert received["Bcc"] is None
    assert received["X-Note"] == "a Bcc: evil@example.com"


# --- the customer's state at send time ------------------------------------------------------


def _plan_announcements(customers, prefix="a"):
    with transaction.atomic():  # planned, not sent: the test sends them later, as a throttled campaign would
        deliveries_plan(
            drafts=[
                DeliveryDraft(key=f"{prefix}-{c.pk}", category="announcement", subject="News", body="B", customer=c)
                for c in customers
            ]
        )
    return list(Delivery.objects.filter(idempotency_key__startswith=f"{prefix}-").order_by("pk"))


def test_an_unsubscribe_after_planning_suppresses_the_rows_not_yet_sent_with_the_reason(smtp):
    stays, leaves, moves = CustomerFactory.create_batch(3)
    rows = _plan_announcements([stays, leaves, moves])
    reset = _deliver(leaves, key="reset-password", category="service")  # transactional mail still goes
    contact_preference_update(customer=leaves, opted_out=["announcement"], quiet_hours_start=None,
                              quiet_hours_end=None)  # fmt: skip
    old_address = moves.email
    moves.email = "new-address@client.example"
    moves.save()
    counts = deliveries_send(delivery_ids=[*(r.pk for r in rows), reset.pk])
    assert counts == {"sent": 2, "failed": 0, "retrying": 0, "suppressed": 2}
    assert sorted(smtp.recipients()) == sorted([stays.email, leaves.email])
    assert old_address not in smtp.recipients()
    by_customer = {(d.customer_id, d.category): d for d in Delivery.objects.all()}
    assert by_customer[(stays.pk, "announcement")].status == Delivery.Status.SENT
    assert by_customer[(leaves.pk, "service")].status == Delivery.Status.SENT
    suppressed = by_customer[(leaves.pk, "announcement")]
    assert (suppressed.status, suppressed.suppressed_reason) == (
        Delivery.Status.SUPPRESSED,
        "opted out of announcements",
    )
    assert suppressed.claim_token is None
    moved = by_customer[(moves.pk, "announcement")]
    assert moved.status == Delivery.Status.SUPPRESSED
    assert "address changed" in moved.suppressed_reason


@pytest.mark.parametrize("size", [3, 30])
def test_a_chunk_send_costs_the_same_queries_whatever_its_size(smtp, settings, size, django_assert_num_queries):
    settings.HELPDESK = {**settings.HELPDESK, "DELIVERY_MARK_BATCH": 100}
    customers = CustomerFactory.create_batch(size)
    rows = _plan_announcements(customers)
    for customer in customers[::3]:  # a third unsubscribed after planning
        ContactPreference.objects.create(customer=customer, opted_out=["announcement"])
    # claim and suppress (1), read the claimed rows (1), mark the sent ones (1 a batch)
    with django_assert_num_queries(3):
        counts = deliveries_send(delivery_ids=[r.pk for r in rows])
    assert counts["suppressed"] == len(customers[::3])
    assert counts["sent"] == size - counts["suppressed"]
