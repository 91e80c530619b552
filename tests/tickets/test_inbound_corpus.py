"""Every message of the corpus (``corpus/*.eml``, real clients' and servers' mail) through the real pipeline.

Each file is stored with ``inbound_store`` and processed by the (eager) worker task exactly as a message
from IMAP or a webhook, in a small world: ticket #1042 of Ada Lovelace (ada@math.example), whose e-mail
carried ``<reply-1042-1@helpdesk.localhost>``, and our delivery ``corpus:77`` to gone@client.example
(its Message-ID, ``<be4b4261...@helpdesk.localhost>``, is the one the hard bounce in the corpus names).
``corpus/expected.toml`` says, per file, what must happen: the outcome (``{ticket}`` stands for #1042,
``{new}`` for the ticket the message opened), and for a message that lands on a ticket the text it shows
(quotes and signature cut), its subject and its sender.

Adding a case: save the message as ``corpus/<name>.eml`` exactly as it arrived (bytes, CRLF) and add
``[<name>]`` to ``expected.toml``; ``test_every_corpus_file_has_its_expectations`` fails until both exist.
"""

import re
import tomllib
from pathlib import Path

import pytest

from customers.models import Customer, Delivery
from customers.services import delivery_plan
from tests.tickets.factories import QueueFactory, make_ticket
from tickets.inbound.models import InboundEmail, Mailbox, MailThreadId
from tickets.inbound.parsing import email_head, email_parse
from tickets.inbound.services import inbound_store
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).parent / "corpus"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
FILES = sorted(path.stem for path in CORPUS.glob("*.eml"))


def test_every_corpus_file_has_its_expectations_and_every_expectation_its_file():
    assert sorted(EXPECTED) == FILES


@pytest.fixture
def world():
    queue = QueueFactory(slug="support")
    mailbox = Mailbox.objects.create(address="support@helpdesk.localhost", queue=queue)
    ada = Customer.objects.create(email="ada@math.example", name="Ada Lovelace")
    ticket = make_ticket(queue=queue, requester=ada, subject="Export fails", body="The export fails.")
    Ticket.objects.filter(pk=ticket.pk).update(number=1042)
    MailThreadId.objects.create(message_id="reply-1042-1@helpdesk.localhost", ticket=ticket, outbound=True)
    gone = Customer.objects.create(email="gone@client.example", name="Gone")
    sent = delivery_plan(key="corpus:77", category="service", customer=gone, subject="[#1042] Export fails", body="x")
    Delivery.objects.filter(pk=sent.pk).update(status=Delivery.Status.SENT)
    ticket.refresh_from_db()
    return mailbox, ticket, sent


@pytest.mark.parametrize("name", FILES)
def test_a_corpus_message(name, world, django_capture_on_commit_callbacks):
    mailbox, ticket, delivery = world
    expected = EXPECTED[name]
    raw = (CORPUS / f"{name}.eml").read_bytes()

    with django_capture_on_commit_callbacks(execute=True):
        inbound, created = inbound_store(mailbox=mailbox, raw=raw, via=InboundEmail.Via.FOLDER)
    inbound.refresh_from_db()

    assert created
    assert inbound.last_error == ""
    assert inbound.state == expected["state"], inbound.outcome
    new = Ticket.objects.exclude(pk=ticket.pk).order_by("id").last()
    outcome = expected["outcome"].format(ticket=ticket.reference, new=new.reference if new else "?",
                                         delivery=delivery.pk)  # fmt: skip
    assert inbound.outcome == outcome
    if "text" in expected:
        message = inbound.ticket_message
        assert message is not None
        first = message.attachments.order_by("id").first()
        assert message.body == expected["text"].strip("\n").format(attachment1=first.pk if first else "?")
        assert message.ticket.pk == (ticket.pk if expected.get("on") == "1042" else new.pk)
    if "subject" in expected:
        assert inbound.ticket.subject == expected["subject"]
    if "sender" in expected:
        assert inbound.sender == expected["sender"]
    if "requester_name" in expected:
        assert inbound.ticket.requester.name == expected["requester_name"]
    if "attachments" in expected:
        names = list(inbound.ticket_message.attachments.values_list("filename", flat=True))
        assert names == expected["attachments"]
    if "automated" in expected:
        assert bool(inbound.automated) is expected["automated"]
        if expected["automated"]:
            assert re.search(expected.get("automated_match", "."), inbound.automated)


@pytest.mark.parametrize("name", FILES)
def test_storing_reads_the_head_of_a_corpus_message_as_the_whole_parse_does(name):
    """Storing keys a message by the Message-ID it reads from the header block alone (``email_head``); the
    worker's whole parse must read the same id, sender and subject, or a copy fetched twice would be two."""
    raw = (CORPUS / f"{name}.eml").read_bytes()
    whole = email_parse(raw)
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0] + b"\r\n\r\n"

    assert email_head(head) == (whole.message_id, whole.sender, whole.subject)
