"""E-mail in, many messages to a transaction: the batch reads once, and one broken message fails alone."""

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

import tickets.inbound.services as inbound_services
from customers.models import Customer, Delivery
from tests.factories import AgentFactory, CustomerFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tests.tickets.test_inbound import SUPPORT, VOUCHED, mail
from tickets.inbound.models import InboundEmail, Mailbox, MailThreadId
from tickets.inbound.services import inbound_process_batch, inbound_store_many
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import ticket_merge, ticket_reply

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
    # a new ticket from a known customer: on PostgreSQL its savepoint and nothing else. The ticket and its
    # message take their ids and the number with the batch's (a nextval each for all) and are written with
    # the batch's (an INSERT a table), the organization came with the customer, the SLA policies with the
    # batch's first ticket, the events and the Message-ID are written with the batch's (it was 12:
    # ticket_create's savepoint, the number, a policy query, the ticket, the message read back, the events
    # and the Message-ID each time). SQLite: the ticket and message inserts, and the number's insert and delete.
    own = 0 if connection.vendor == "postgresql" else 4
    assert new[1] - new[0] == 2 * (2 + own), new
    # a reply: on PostgreSQL its savepoint and nothing else (it was 9). The batch read its tickets FOR UPDATE,
    # so the reply neither locks nor reads its ticket again, and its message and its change to the ticket are
    # written with the batch's (an INSERT, one UPDATE for all). SQLite: the message and the ticket's update.
    own = 0 if connection.vendor == "postgresql" else 2
    assert replies[1] - replies[0] == 2 * (2 + own), replies
    # and the fixed part is a handful: the claim, the small messages' bytes, our addresses, agents,
    # customers, the rows' one UPDATE (the test's transaction makes the batch's own a savepoint: 2 more; on
    # PostgreSQL the routing has a savepoint of its own too, to fall back to one message at a time: 2 more),
    # and the one UPDATE that marks the rows started, committed before the batch reads them (in its own
    # transaction: here a savepoint, 2 more; in production one commit), so that a message that kills the
    # worker is found and routed alone next time (tests/tickets/test_inbound_poison.py)
    fallback = 2 if connection.vendor == "postgresql" else 0
    assert ignored[0] - 2 * 2 == 8 + fallback + 3, ignored
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

    own = 0 if connection.vendor == "postgresql" else 4  # the batch's nextvals and INSERTs; SQLite: see above
    assert sizes[1] - sizes[0] == 2 * (3 + own), sizes
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


def _a_failing_reply_then_another(mailbox, answered, monkeypatch):
    """Two stored replies to ``answered``: the first fails after its reply changed the ticket and wrote its
    message, the second is fine. (the ticket's version before, the two ids)"""
    real_remember = inbound_services._remember

    def remember(message_id, ticket, batch):
        if message_id == "poison@math.example":
            raise RuntimeError("undone")
        return real_remember(message_id, ticket, batch)

    monkeypatch.setattr(inbound_services, "_remember", remember)
    answered.refresh_from_db()
    thread = f"<{answered.mail_thread_ids.first()}>"
    poison, fine = stored(
        mailbox,
        mail(subject="Re: poison", message_id="<poison@math.example>", headers={"In-Reply-To": thread}),
        mail(subject="Re: fine", body="Still broken.", headers={"In-Reply-To": thread}),
    )
    return answered.version, poison, fine


def test_a_reply_undone_in_its_savepoint_leaves_nothing_on_the_ticket_the_next_reply_saves(mailbox, answered,
                                                                                           monkeypatch):  # fmt: skip
    """The batch reads its tickets FOR UPDATE and a reply works on a copy of the batch's object: one that
    fails after changing it (reopened, version + 1) must not hand that change to the next reply's save."""
    version, poison, fine = _a_failing_reply_then_another(mailbox, answered, monkeypatch)

    outcomes = inbound_process_batch(inbound_ids=[poison, fine])

    assert outcomes[poison] == "failed: undone"
    assert outcomes[fine] == f"reply on {answered.reference} by In-Reply-To/References"
    answered.refresh_from_db()
    assert (answered.status, answered.version) == ("open", version + 1)  # one reply's change, not two
    customer_messages = list(answered.messages.filter(by_agent=False).order_by("id").values_list("body", flat=True))
    assert customer_messages[-1] == "Still broken."
    assert "The export fails." not in customer_messages[1:]
    assert TicketEvent.objects.filter(ticket=answered, kind="customer_replied").count() == len(customer_messages)


def test_a_customer_reply_after_an_agent_reply_in_one_batch_sees_what_the_agent_changed(mailbox, answered):
    """An agent's e-mailed reply locks and saves its ticket itself: the batch's object of that ticket is
    stale after it, and the customer's reply that follows reads the row again instead of saving over it."""
    answered.refresh_from_db()
    version, thread = answered.version, f"<{answered.mail_thread_ids.first()}>"
    agent_mail, customer_mail = stored(
        mailbox,
        mail(
            sender="Alex <alex@support.example>",
            subject="Re: x",
            body="Try this.",
            headers={"In-Reply-To": thread, **VOUCHED},
        ),
        mail(subject="Re: x", body="Did not help.", headers={"In-Reply-To": thread}),
    )

    outcomes = inbound_process_batch(inbound_ids=[agent_mail, customer_mail])

    assert outcomes[agent_mail].startswith("agent reply on")
    assert outcomes[customer_mail].startswith("reply on")
    answered.refresh_from_db()
    assert answered.version == version + 2  # the agent's change and the customer's, neither lost
    assert answered.status == "open"
    bodies = list(answered.messages.order_by("id").values_list("body", flat=True))
    assert bodies[-2:] == ["Try this.", "Did not help."]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the batch writes its rows at once on PostgreSQL only")
def test_a_row_the_batch_insert_refuses_fails_alone_and_the_others_are_written(mailbox, caplog):
    """The batch's new tickets and messages go in with one INSERT a table; should PostgreSQL refuse one row,
    the batch is routed again with each message writing its own rows, and only that one fails."""
    with connection.cursor() as cursor:  # a rule only this test has (the test's transaction drops it)
        cursor.execute("ALTER TABLE tickets_message ADD CONSTRAINT test_refused CHECK (body NOT LIKE '%%refuse me%%')")
    ids = stored(
        mailbox,
        mail(subject="One", sender="one@math.example"),
        mail(subject="Refused", body="Please refuse me.", sender="two@math.example"),
        mail(subject="Three", sender="three@math.example"),
    )

    outcomes = inbound_process_batch(inbound_ids=ids)

    assert outcomes[ids[0]].startswith("new ticket")
    assert outcomes[ids[2]].startswith("new ticket")
    assert outcomes[ids[1]].startswith("failed:")
    assert "test_refused" in outcomes[ids[1]]
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["One", "Three"]
    assert InboundEmail.objects.get(pk=ids[1]).state == "failed"
    assert "rows at once failed; one at a time" in caplog.text


def test_replies_to_a_ticket_and_to_one_merged_into_it_in_one_batch_both_land_and_neither_is_lost(mailbox):
    """The first reply's change to the target waits for the batch's one UPDATE; the second reply follows the
    merge and reads the target from the database, so the batch writes what it holds first."""
    agent = AgentFactory(email="alex@support.example")
    QueueMembershipFactory(queue=mailbox.queue, agent=agent)
    ada = CustomerFactory(email="ada@math.example")
    source = make_ticket(queue=mailbox.queue, requester=ada, subject="Duplicate")
    target = make_ticket(queue=mailbox.queue, requester=ada, subject="Original")
    ticket_merge(source=source, target=target, actor=agent)
    target.refresh_from_db()
    version = target.version
    ids = stored(
        mailbox,
        mail(subject=f"Re: [{target.reference}]", body="First."),
        mail(subject=f"Re: [{source.reference}]", body="Second."),
    )

    outcomes = inbound_process_batch(inbound_ids=ids)

    assert outcomes[ids[0]] == f"reply on {target.reference} by subject reference"
    assert outcomes[ids[1]].startswith(f"reply (landed on {target.reference})")
    target.refresh_from_db()
    assert target.version == version + 2  # both replies' changes
    assert list(target.messages.filter(by_agent=False).order_by("id").values_list("body", flat=True))[-2:] == [
        "First.",
        "Second.",
    ]


@pytest.mark.parametrize("large", [False, True], ids=["parsed-with-the-batch", "parsed-in-its-turn"])
def test_an_agent_reply_after_a_customer_reply_in_one_batch_saves_over_nothing_the_customer_changed(
    mailbox, answered, monkeypatch, large
):
    """The customer's reply waits for the batch's one UPDATE; the agent's reply reads its ticket from the
    database, so the batch writes what it holds first, and its own write does not undo the agent's. A large
    message (parsed only in its turn: nobody knows what it names before) has the batch write first too."""
    if large:
        monkeypatch.setattr(inbound_services, "_PREPARSE_BYTES", 0)
    answered.refresh_from_db()
    version, thread = answered.version, f"<{answered.mail_thread_ids.first()}>"
    customer_mail, agent_mail = stored(
        mailbox,
        mail(subject="Re: x", body="Did not help.", headers={"In-Reply-To": thread}),
        mail(
            sender="Alex <alex@support.example>",
            subject="Re: x",
            body="Try that.",
            headers={"In-Reply-To": thread, **VOUCHED},
        ),
    )

    outcomes = inbound_process_batch(inbound_ids=[customer_mail, agent_mail])

    assert outcomes[customer_mail].startswith("reply on")
    assert outcomes[agent_mail].startswith("agent reply on")
    answered.refresh_from_db()
    assert answered.version == version + 2
    assert answered.status == "pending"  # the agent answered last
    bodies = list(answered.messages.order_by("id").values_list("body", flat=True))
    assert bodies[-2:] == ["Did not help.", "Try that."]


def test_a_ticket_read_in_a_savepoint_that_failed_is_read_again_before_the_next_reply_changes_it(
    mailbox, answered, monkeypatch
):
    """A large message reads its ticket FOR UPDATE in its own savepoint; when it fails, the rollback lets go
    of that lock, so the batch's object of the ticket may be stale by the next message (another transaction
    changed the row): the next reply reads it again instead of saving the old version over the new one."""
    monkeypatch.setattr(inbound_services, "_PREPARSE_BYTES", 0)  # every message is read in its own turn
    real_write_if_named = inbound_services._Batch.write_if_named

    def write_if_named(batch, inbound):  # between the two messages, someone else changes the ticket
        if inbound.pk == fine:
            Ticket.objects.filter(pk=answered.pk).update(version=F("version") + 1, priority="high")
        return real_write_if_named(batch, inbound)

    monkeypatch.setattr(inbound_services._Batch, "write_if_named", write_if_named)
    version, poison, fine = _a_failing_reply_then_another(mailbox, answered, monkeypatch)

    outcomes = inbound_process_batch(inbound_ids=[poison, fine])

    assert outcomes[poison] == "failed: undone"
    assert outcomes[fine].startswith("reply on")
    answered.refresh_from_db()
    assert answered.version == version + 2  # the other change and the reply, not the reply over an old version
    assert answered.priority == "high"
