"""E-mail in, many messages to a transaction: the batch reads once, and one broken message fails alone."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import tickets.inbound.services as inbound_services
from customers.models import Customer, Delivery
from tests.factories import AgentFactory, CustomerFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tests.tickets.test_inbound import SUPPORT, mail
from tickets.inbound.models import InboundEmail, Mailbox, MailThreadId
from tickets.inbound.services import inbound_process_batch, inbound_store_many
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import ticket_reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox():
    return Mailbox.objects.create(address=SUPPORT, name="Support", queue=QueueFactory(slug="support"))


@pytest.fixture
def answered(mailbox):
    """A customer's ticket with an agent's e-mailed reply, whose Message-ID replies name."""
    agent = AgentFactory(email="alex@support.example")
    QueueMembershipFactory(queue=mailbox.queue, agent=agent)
    ticket = make_ticket(queue=mailbox.queue, requester=CustomerFactory(email="ada@math.example", name="Ada"))
    ticket_reply(ticket=ticket, author=agent, body="Please try again.")
    return ticket


def stored(mailbox, *messages):
    """Stored and committed, not processed yet: what a poll leaves for the batch task."""
    return inbound_store_many(mailbox=mailbox, raws=[m.as_bytes() for m in messages], via="imap", enqueue=False)


def queries_for(ids):
    with CaptureQueriesContext(connection) as captured:
        outcomes = inbound_process_batch(inbound_ids=ids)
    return len(captured.captured_queries), outcomes


def _new_requests(n, start):
    return [mail(sender=f"customer{start + i}@math.example", subject=f"Request {start + i}") for i in range(n)]


def _replies(n, start, ticket):
    return [
        mail(subject=f"Re: still broken {start + i}", headers={"In-Reply-To": f"<{ticket.mail_thread_ids.first()}>"})
        for i in range(n)
    ]


def _ignored(n, start):
    out_of_office = [
        mail(sender=f"away{start + i}@math.example", subject="Away", headers={"Auto-Submitted": "auto-replied"})
        for i in range(n)
    ]
    own = [mail(sender=SUPPORT, subject=f"Loop {start + i}") for i in range(n)]
    return out_of_office + own


def test_a_batch_reads_what_its_messages_need_once_whatever_its_size(mailbox, answered):
    """Reads (our addresses, tickets, thread ids, agents, customers, the answer cap) are a few queries per
    batch; what grows with the batch is each message's savepoint and its own writes, a fixed number per kind."""
    for i in range(100, 106):  # customers known in advance: their records are read with the batch's
        CustomerFactory(email=f"customer{i}@math.example")
    # given: a first batch of each kind warms Django's caches (content types, the test client's first reads)
    queries_for(stored(mailbox, *_ignored(1, 0), *_new_requests(1, 0), *_replies(1, 0, answered)))

    # when: batches of 2 and 4 messages of each kind
    ignored = [queries_for(stored(mailbox, *_ignored(n // 2, 10 * n)))[0] for n in (2, 4)]
    new = [queries_for(stored(mailbox, *_new_requests(n, start)))[0] for n, start in ((2, 100), (4, 102))]
    replies = [queries_for(stored(mailbox, *_replies(n, 200 + n, answered)))[0] for n in (2, 4)]

    # then: messages that are only read cost their savepoint (2 statements) each and nothing else
    assert ignored[1] - ignored[0] == 2 * 2
    # a new ticket from a known customer: its savepoint and 2 inserts (the ticket, the message); the number
    # came with the batch's (one nextval for all), the organization with the customer, the SLA policies
    # with the batch's first ticket, and the events and the Message-ID are written with the batch's (it was
    # 12: ticket_create's savepoint, the number, a policy query, the events, the message read back and the
    # Message-ID each time)
    number = 0 if connection.vendor == "postgresql" else 2  # SQLite: an insert and a delete each
    assert new[1] - new[0] == 2 * (4 + number), new
    # a reply: its savepoint, the ticket's lock, the message and the ticket's update (it was 9)
    assert replies[1] - replies[0] == 2 * 5, replies
    # and the fixed part is a handful: the claim, the small messages' bytes, our addresses, agents,
    # customers, the rows' one UPDATE (the test's transaction makes the batch's own a savepoint: 2 more),
    # and the one UPDATE that marks the rows started, committed before the batch reads them (in its own
    # transaction: here a savepoint, 2 more; in production one commit), so that a message that kills the
    # worker is found and routed alone next time (tests/tickets/test_inbound_poison.py)
    assert ignored[0] - 2 * 2 == 8 + 3, ignored
    assert InboundEmail.objects.filter(state__in=["new", "failed"]).count() == 0


def test_a_new_ticket_from_a_new_sender_costs_one_more_insert_and_the_batch_writes_the_rest_once(mailbox):
    """The most common message: a request from an address never seen. The batch reads the senders' domains
    with one query, the first new ticket reads the SLA policies; each message then costs its savepoint, the
    customer, the ticket and the message (it was 17: customer_get_or_create's read, domain query, savepoint
    and insert, ticket_create's savepoint, the number, the policy, the events, the message read back and the
    Message-ID); the batch takes all the numbers, and writes all the events and all the Message-IDs, with a
    statement each."""
    queries_for(stored(mailbox, *_new_requests(1, 300)))  # warms Django's caches

    sizes = [queries_for(stored(mailbox, *_new_requests(n, start)))[0] for n, start in ((2, 310), (4, 320))]

    number = 0 if connection.vendor == "postgresql" else 2  # the batch's one nextval; SQLite's insert and delete
    assert sizes[1] - sizes[0] == 2 * (5 + number), sizes
    tickets = Ticket.objects.filter(requester__email__startswith="customer3")
    assert tickets.count() == 7
    # each ticket's history and Message-ID are there, written by the batch
    kinds = sorted(TicketEvent.objects.filter(ticket__in=tickets).values_list("ticket__subject", "kind"))
    assert kinds == sorted((t.subject, k) for t in tickets for k in ("created", "customer_replied")), kinds
    assert MailThreadId.objects.filter(ticket__in=tickets, outbound=False).count() == 7
    # the batch took as many numbers as it opened tickets: none wasted, the next ticket's follows theirs
    numbers = sorted(tickets.values_list("number", flat=True))
    assert make_ticket(queue=mailbox.queue).number == numbers[-1] + 1


def test_a_failed_message_leaves_no_customer_event_or_message_id_behind(mailbox, monkeypatch):
    real_acknowledge = inbound_services._acknowledge

    def acknowledge(ticket, customer, batch):  # fails after the customer, the ticket and its message are written
        if ticket.subject == "poison":
            raise RuntimeError("a bug no sample foresaw")
        return real_acknowledge(ticket, customer, batch)

    monkeypatch.setattr(inbound_services, "_acknowledge", acknowledge)
    ids = stored(
        mailbox,
        mail(sender="first@new.example", subject="First", message_id="<first@new.example>"),
        mail(sender="poison@new.example", subject="poison", message_id="<poison@new.example>"),
        mail(sender="last@new.example", subject="Last", message_id="<last@new.example>"),
    )

    outcomes = inbound_process_batch(inbound_ids=ids)

    assert outcomes[ids[1]] == "failed: a bug no sample foresaw"
    assert sorted(Customer.objects.filter(email__endswith="@new.example").values_list("email", flat=True)) == [
        "first@new.example",
        "last@new.example",
    ]
    assert sorted(TicketEvent.objects.values_list("ticket__subject", "kind")) == [
        ("First", "created"),
        ("First", "customer_replied"),
        ("Last", "created"),
        ("Last", "customer_replied"),
    ]
    assert sorted(MailThreadId.objects.filter(outbound=False).values_list("message_id", flat=True)) == [
        "first@new.example",
        "last@new.example",
    ]


def test_one_broken_message_in_a_batch_fails_alone_and_is_undone_whole(mailbox, monkeypatch, settings):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_ATTEMPTS": 2, "INBOUND_RETRY_BASE_SECONDS": 0}
    real_acknowledge = inbound_services._acknowledge

    def acknowledge(ticket, customer, batch):  # fails after the ticket, its message and its thread id are written
        if ticket.subject == "poison":
            raise RuntimeError("a bug no sample foresaw")
        return real_acknowledge(ticket, customer, batch)

    monkeypatch.setattr(inbound_services, "_acknowledge", acknowledge)
    before, poison, after = stored(
        mailbox,
        mail(subject="Before", message_id="<before@math.example>"),
        mail(subject="poison", message_id="<poison@math.example>"),
        mail(subject="After", message_id="<after@math.example>"),
    )

    outcomes = inbound_process_batch(inbound_ids=[before, poison, after])

    assert outcomes[poison] == "failed: a bug no sample foresaw"
    assert outcomes[before].startswith("new ticket")
    assert outcomes[after].startswith("new ticket")
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["After", "Before"]
    assert not Message.objects.filter(ticket__subject="poison").exists()
    assert not MailThreadId.objects.filter(message_id="poison@math.example").exists()
    assert Delivery.objects.filter(source__startswith="ticket:").count() == 2  # the others are acknowledged
    row = InboundEmail.objects.get(pk=poison)
    assert (row.state, row.attempts, row.ticket_id) == ("failed", 1, None)
    # its retry is its own: the second failure quarantines it, and nothing else is touched
    inbound_process_batch(inbound_ids=[before, poison, after])
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("quarantined", 2)
    assert Ticket.objects.count() == 2


def test_a_message_the_batch_cannot_parse_fails_in_its_own_savepoint(mailbox, monkeypatch):
    real_parse = inbound_services.email_parse

    def parse(raw):
        if b"poison" in raw:
            raise UnicodeError("a charset no sample had")
        return real_parse(raw)

    monkeypatch.setattr(inbound_services, "email_parse", parse)
    ids = stored(mailbox, mail(subject="One"), mail(subject="poison"), mail(subject="Two"))
    outcomes = inbound_process_batch(inbound_ids=ids)
    assert [o.split(" #")[0] for o in outcomes.values()] == [
        "new ticket",
        "failed: a charset no sample had",
        "new ticket",
    ]
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["One", "Two"]


def test_a_reply_finds_a_ticket_opened_earlier_in_its_batch_but_never_one_that_was_undone(mailbox, monkeypatch):
    real_acknowledge = inbound_services._acknowledge

    def acknowledge(ticket, customer, batch):
        if ticket.subject == "poison":
            raise RuntimeError("undone")
        return real_acknowledge(ticket, customer, batch)

    monkeypatch.setattr(inbound_services, "_acknowledge", acknowledge)
    ids = stored(
        mailbox,
        mail(subject="First", message_id="<first@math.example>"),
        mail(subject="Re: First", message_id="<second@math.example>", headers={"In-Reply-To": "<first@math.example>"}),
        mail(subject="poison", message_id="<poison@math.example>"),
        mail(subject="Re: poison", headers={"In-Reply-To": "<poison@math.example>"}),
    )

    outcomes = list(inbound_process_batch(inbound_ids=ids).values())

    first = Ticket.objects.get(subject="First")
    assert outcomes[1] == f"reply on {first.reference} by In-Reply-To/References"
    assert list(first.messages.order_by("id").values_list("body", flat=True)) == ["The export fails."] * 2
    assert outcomes[2] == "failed: undone"
    assert outcomes[3].startswith("new ticket")  # the undone ticket's Message-ID names nothing
    assert Ticket.objects.filter(subject="Re: poison").count() == 1


def test_a_poll_stores_its_messages_in_one_transaction_each_once(mailbox):
    known = mail(message_id="<known@math.example>")
    [known_id] = stored(mailbox, known)
    no_id = b"From: ada@math.example\r\nTo: support@helpdesk.localhost\r\nSubject: Hi\r\n\r\nNo id here.\r\n"
    relayed = b"Received: from relay.example by mx.example; Tue, 1 Dec 2026 10:00:01 +0000\r\n" + known.as_bytes()
    fresh = mail(message_id="<fresh@math.example>").as_bytes()

    with CaptureQueriesContext(connection) as captured:
        new = inbound_store_many(mailbox=mailbox, raws=[relayed, fresh, no_id, fresh, no_id], via="imap", enqueue=False)

    assert len(captured.captured_queries) == 5  # a savepoint (the test's transaction), known keys, insert, ids
    assert InboundEmail.objects.count() == 3
    assert new == sorted(InboundEmail.objects.exclude(pk=known_id).values_list("pk", flat=True))
    assert bytes(InboundEmail.objects.get(pk=known_id).raw) == known.as_bytes()  # the first copy is kept
    assert set(InboundEmail.objects.values_list("state", flat=True)) == {"new"}


def test_large_messages_are_parsed_in_their_turn_and_routed_the_same(mailbox, answered, monkeypatch):
    monkeypatch.setattr(inbound_services, "_PREPARSE_BYTES", 0)  # every message is "large"
    mailbox.accept = Mailbox.Accept.KNOWN
    mailbox.save()
    CustomerFactory(email="known@math.example")
    reply, known, stranger = stored(
        mailbox,
        *_replies(1, 0, answered),
        mail(sender="known@math.example", subject="Known"),
        mail(sender="stranger@math.example", subject="Stranger"),
    )

    outcomes = inbound_process_batch(inbound_ids=[reply, known, stranger])

    assert outcomes[reply] == f"reply on {answered.reference} by In-Reply-To/References"
    assert outcomes[known].startswith("new ticket")
    assert outcomes[stranger].startswith("kept for managers: unknown sender")


def test_a_row_postgresql_cannot_store_as_it_is_does_not_hold_back_its_batch(mailbox):
    machine = mail(subject="Away", body="Away\x00 until Monday", headers={"Auto-Submitted": "auto-replied"})
    ids = stored(mailbox, machine, mail(subject="Fine"))

    outcomes = inbound_process_batch(inbound_ids=ids)

    assert outcomes[ids[0]].startswith("ignored: automatic reply")
    assert outcomes[ids[1]].startswith("new ticket")
    assert InboundEmail.objects.get(pk=ids[0]).text == "Away until Monday"
