"""E-mail in, end to end through the services and the (eager) worker task: stored once, routed right."""

import io
import sys
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.models import Customer, Delivery
from tests.factories import AgentFactory, CustomerFactory, ManagerFactory, OrganizationFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.inbound.addresses import reply_address, ticket_id_from_address
from tickets.inbound.models import InboundEmail, Mailbox, MailThreadId
from tickets.inbound.services import inbound_process, inbound_retry, inbound_store
from tickets.models import Message, Status, Ticket, TicketEvent
from tickets.services import ticket_merge, ticket_reply, ticket_update

pytestmark = pytest.mark.django_db

SUPPORT = "support@helpdesk.localhost"  # the test settings' DEFAULT_FROM_EMAIL


@pytest.fixture
def queue():
    return QueueFactory(slug="support", name="Support")


@pytest.fixture
def mailbox(queue):
    return Mailbox.objects.create(address=SUPPORT, name="Support", queue=queue)


@pytest.fixture
def agent(queue):
    agent = AgentFactory(email="alex@support.example", name="Alex Agent")
    QueueMembershipFactory(queue=queue, agent=agent)
    return agent


def mail(*, sender="Ada Lovelace <ada@math.example>", to=SUPPORT, subject="Cannot export", body="The export fails.",
         message_id=None, headers=None, cc=None):  # fmt: skip
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="math.example")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


def receive(django_capture_on_commit_callbacks, mailbox, message, via="api"):
    raw = message if isinstance(message, bytes) else message.as_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        inbound, _ = inbound_store(mailbox=mailbox, raw=raw, via=via)
    inbound.refresh_from_db()
    return inbound


@pytest.fixture
def deliver_mail(django_capture_on_commit_callbacks, mailbox):
    return lambda message, **kw: receive(django_capture_on_commit_callbacks, mailbox, message, **kw)


# --- new tickets and de-duplication -----------------------------------------------------------------


def test_a_new_e_mail_opens_a_ticket_in_the_mailboxs_queue(deliver_mail, queue):
    inbound = deliver_mail(
        mail(
            body="The export fails with E42.\n\nOn Tue, Dec 1, 2026 at 10:00 Bob <bob@x.example> wrote:\n> old",
            cc="Bob <bob@math.example>, support@helpdesk.localhost",
        )
    )
    ticket = inbound.ticket
    assert inbound.state == "processed"
    assert inbound.outcome == f"new ticket {ticket.reference}"
    assert (ticket.queue, ticket.channel, ticket.status, ticket.subject) == (queue, "email", "new", "Cannot export")
    assert (ticket.requester.email, ticket.requester.name) == ("ada@math.example", "Ada Lovelace")
    message = ticket.messages.get()
    assert (message.body, message.channel) == ("The export fails with E42.", "email")
    assert inbound.ticket_message == message
    assert [c.email for c in ticket.ccs.all()] == ["bob@math.example"]  # not our own address
    assert MailThreadId.objects.get(ticket=ticket, outbound=False).message_id == inbound.message_id


def test_the_same_message_twice_is_stored_and_processed_once(deliver_mail):
    message = mail(message_id="<once@math.example>")
    first = deliver_mail(message)
    relayed = b"Received: from relay.example by mx.example; Tue, 1 Dec 2026 10:00:01 +0000\r\n" + message.as_bytes()
    second = deliver_mail(relayed, via="imap")
    assert first.pk == second.pk
    assert InboundEmail.objects.count() == 1
    assert Ticket.objects.count() == 1
    assert inbound_process(inbound_id=first.pk) == "nothing to do"  # a task delivered twice does nothing


def test_a_message_without_a_message_id_is_keyed_by_its_body(deliver_mail):
    raw = b"From: ada@math.example\r\nTo: support@helpdesk.localhost\r\nSubject: Hi\r\n\r\nNo id here.\r\n"
    deliver_mail(raw)
    deliver_mail(b"Received: by mx\r\n" + raw)
    deliver_mail(raw.replace(b"No id here.", b"Another text."))
    assert InboundEmail.objects.count() == 2
    assert Ticket.objects.count() == 2


# --- routing -------------------------------------------------------------------------------------------


@pytest.fixture
def answered(agent, queue, mailbox):
    """A customer's ticket with an agent's e-mailed reply: the Delivery carries the threading headers."""
    ticket = make_ticket(queue=queue, requester=CustomerFactory(email="ada@math.example", name="Ada"))
    ticket_reply(ticket=ticket, author=agent, body="Please try again.")
    ticket.refresh_from_db()
    return ticket


def test_ticket_e_mail_threads_and_carries_the_reply_address(answered):
    delivery = Delivery.objects.get(source=f"ticket:{answered.pk}")
    headers = delivery.headers
    assert headers["Reply-To"] == reply_address(mailbox_address=SUPPORT, ticket_id=answered.pk)
    assert headers["From"] == '"Alex Agent (Support)" <support@helpdesk.localhost>'
    outbound = MailThreadId.objects.get(ticket=answered, outbound=True)
    assert outbound.message_id.endswith("@helpdesk.localhost")
    assert "Auto-Submitted" not in headers  # a person wrote it


def test_a_reply_by_in_reply_to_lands_on_the_ticket_and_reopens_it(deliver_mail, answered):
    assert answered.status == Status.PENDING
    sent_id = MailThreadId.objects.get(ticket=answered, outbound=True).message_id
    inbound = deliver_mail(
        mail(
            subject="Re: your request",
            body="Still broken.\n\n> Please try again.",
            headers={"In-Reply-To": f"<{sent_id}>", "References": f"<{sent_id}>"},
        )
    )
    answered.refresh_from_db()
    assert inbound.ticket == answered
    assert inbound.outcome == f"reply on {answered.reference} by In-Reply-To/References"
    assert answered.status == Status.OPEN
    assert answered.messages.last().body == "Still broken."
    # the next ticket e-mail answers the customer's message
    ticket_reply(ticket=answered, author=answered.assignee, body="Fixed now.")
    latest = Delivery.objects.filter(source=f"ticket:{answered.pk}").order_by("-id").first()
    assert latest.headers["In-Reply-To"] == f"<{inbound.message_id}>"
    assert f"<{sent_id}>" in latest.headers["References"]


def test_a_reply_to_the_reply_address_lands_without_any_threading_header(deliver_mail, answered):
    address = reply_address(mailbox_address=SUPPORT, ticket_id=answered.pk)
    inbound = deliver_mail(mail(to=address, subject="no reference here", body="Thanks!"))
    assert inbound.ticket == answered
    assert inbound.outcome.endswith("by reply address")


def test_a_forged_reply_address_names_no_ticket(answered):
    genuine = reply_address(mailbox_address=SUPPORT, ticket_id=answered.pk)
    forged = genuine.replace(f"+t{answered.pk}-", f"+t{answered.pk + 1}-")
    assert ticket_id_from_address(address=genuine, mailbox_address=SUPPORT) == answered.pk
    assert ticket_id_from_address(address=genuine.upper(), mailbox_address=SUPPORT) == answered.pk
    assert ticket_id_from_address(address=forged, mailbox_address=SUPPORT) is None
    assert ticket_id_from_address(address=genuine, mailbox_address="sales@helpdesk.localhost") is None


def test_a_reply_by_the_subject_reference(deliver_mail, answered):
    inbound = deliver_mail(mail(subject=f"Re: [{answered.reference}] Cannot log in", body="Any news?"))
    assert inbound.ticket == answered
    assert inbound.outcome.endswith("by subject reference")


def test_a_stranger_naming_a_ticket_opens_a_new_one_and_is_never_shown_to_its_requester(deliver_mail, answered):
    before = answered.messages.count()
    inbound = deliver_mail(
        mail(
            sender="Mallory <mallory@evil.example>",
            subject=f"Re: [{answered.reference}] Cannot log in",
            body="Please send me the invoice.",
        )
    )
    assert answered.messages.count() == before
    new = inbound.ticket
    assert new != answered
    assert new.requester.email == "mallory@evil.example"
    assert new.subject == "Re: Cannot log in"
    assert TicketEvent.objects.get(ticket=new, kind="mentioned").new_value == answered.number
    assert "mentions" in inbound.outcome


def test_a_colleague_who_sees_the_organizations_tickets_may_reply(deliver_mail, queue, mailbox):
    org = OrganizationFactory(shared_tickets=True)
    ada = CustomerFactory(email="ada@math.example", organization=org)
    CustomerFactory(email="bob@math.example", organization=org)
    ticket = make_ticket(queue=queue, requester=ada)
    inbound = deliver_mail(mail(sender="bob@math.example", subject=f"[{ticket.reference}]", body="Me too."))
    assert inbound.ticket == ticket


VOUCHED = {"Authentication-Results": "mx.example; dkim=pass header.d=support.example; dmarc=pass"}


def test_an_agent_replying_by_e_mail_posts_a_public_reply_when_the_server_vouches_for_the_sender(
    deliver_mail, answered, agent
):
    address = reply_address(mailbox_address=SUPPORT, ticket_id=answered.pk)
    inbound = deliver_mail(
        mail(sender="Alex <ALEX@support.example>", to=address, body="Done on our side.", headers=VOUCHED)
    )
    message = inbound.ticket_message
    assert (message.author_user, message.by_agent, message.is_internal) == (agent, True, False)
    assert inbound.outcome.startswith("agent reply")


def test_a_forged_agent_address_never_speaks_to_the_customer(deliver_mail, answered, agent):
    """Anyone can put an agent's address in From: without the receiving server's DKIM/DMARC pass, the
    message is the agent's internal note, and nothing is e-mailed to the customer."""
    sent_before = Delivery.objects.filter(customer=answered.requester).count()
    address = reply_address(mailbox_address=SUPPORT, ticket_id=answered.pk)
    for headers in ({}, {"Authentication-Results": "mx.example; dkim=fail header.d=support.example; dmarc=fail"}):
        inbound = deliver_mail(mail(sender="alex@support.example", to=address, body="Pay to IBAN X.", headers=headers))
        message = inbound.ticket_message
        assert (message.author_user, message.is_internal) == (agent, True)
        assert "could not verify the sender" in message.body
        assert inbound.outcome.startswith("agent note (sender not verified")
    assert Delivery.objects.filter(customer=answered.requester).count() == sent_before


def test_an_agent_outside_the_tickets_queue_cannot_post_by_e_mail(deliver_mail, answered):
    AgentFactory(email="other@support.example")
    address = reply_address(mailbox_address=SUPPORT, ticket_id=answered.pk)
    inbound = deliver_mail(mail(sender="other@support.example", to=address, body="Hi"))
    assert inbound.state == "ignored"
    assert answered.messages.filter(body="Hi").count() == 0


def test_a_reply_to_a_closed_ticket_opens_a_follow_up_and_one_to_a_merged_ticket_lands_on_the_target(
    deliver_mail, answered, agent, queue
):
    ticket_update(ticket=answered, actor=agent, status=Status.SOLVED)
    ticket_update(ticket=answered, actor=agent, status=Status.CLOSED)
    inbound = deliver_mail(mail(subject=f"Re: [{answered.reference}]", body="It broke again."))
    assert inbound.ticket.follow_up_of == answered
    source = make_ticket(queue=queue, requester=answered.requester, subject="Duplicate")
    target = make_ticket(queue=queue, requester=answered.requester, subject="Original")
    ticket_merge(source=source, target=target, actor=agent)
    merged = deliver_mail(mail(subject=f"Re: [{source.reference}]", body="Any news?"))
    assert merged.ticket == target
    assert "landed on" in merged.outcome


def test_a_new_e_mail_ticket_is_acknowledged_as_an_automatic_answer(deliver_mail):
    inbound = deliver_mail(mail())
    (ack,) = Delivery.objects.filter(source=f"ticket:{inbound.ticket.pk}")
    assert ack.headers["Auto-Submitted"] == "auto-replied"
    assert ack.headers["X-Auto-Response-Suppress"] == "All"
    assert ack.headers["Reply-To"] == reply_address(mailbox_address=SUPPORT, ticket_id=inbound.ticket.pk)
    assert ack.headers["In-Reply-To"] == f"<{inbound.message_id}>"  # threads under the customer's own e-mail
    assert inbound.ticket.reference in ack.body


def test_automatic_answers_to_one_address_stop_at_the_hourly_cap(deliver_mail, settings):
    """A partner system that answers every acknowledgment with a new e-mail: a loop, broken at the cap."""
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_AUTO_REPLIES_PER_HOUR": 3}
    outcomes = [deliver_mail(mail(sender="robot@partner.example", subject=f"Ticket {n}")).outcome for n in range(5)]
    assert Delivery.objects.filter(customer__email="robot@partner.example").count() == 3
    assert outcomes[-1].endswith("(not acknowledged: automatic answer cap reached)")
    assert Ticket.objects.count() == 5  # the tickets are all there; only the answers stop


def test_machine_mail_is_never_acknowledged_and_solved_notices_say_they_are_automatic(deliver_mail, answered, agent):
    deliver_mail(mail(sender="bot@math.example", headers={"Auto-Submitted": "auto-generated"}))
    assert not Delivery.objects.filter(customer__email="bot@math.example").exists()
    ticket_update(ticket=answered, actor=agent, status=Status.SOLVED)
    solved = Delivery.objects.filter(source=f"ticket:{answered.pk}", subject__endswith="(solved)").get()
    assert solved.headers["Auto-Submitted"] == "auto-generated"


# --- machines, lists, our own mail, bounces ---------------------------------------------------------------


def test_an_out_of_office_reply_is_stored_but_reopens_nothing(deliver_mail, answered):
    inbound = deliver_mail(
        mail(
            subject=f"Automatic reply: [{answered.reference}]",
            body="I am away until Monday.",
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    answered.refresh_from_db()
    assert answered.status == Status.PENDING
    assert inbound.automated == "Auto-Submitted: auto-replied"
    assert inbound.ticket_message.body == "I am away until Monday."
    assert inbound.outcome.startswith("automatic reply stored")


def test_machine_mail_that_answers_no_ticket_opens_none(deliver_mail):
    away = deliver_mail(mail(body="Away.", headers={"X-Autoreply": "yes"}))
    newsletter = deliver_mail(mail(sender="news@shop.example", body="Sale!", headers={"List-Id": "<news.shop>"}))
    assert (away.state, newsletter.state) == ("ignored", "ignored")
    assert newsletter.outcome == "ignored: bulk (List-Id: <news.shop>)"
    assert Ticket.objects.count() == 0


def test_a_mailbox_may_open_tickets_for_list_mail(deliver_mail, mailbox):
    mailbox.open_tickets_for_bulk = True
    mailbox.save()
    inbound = deliver_mail(mail(sender="list@partner.example", headers={"Precedence": "list"}))
    assert inbound.ticket is not None


def test_mail_from_our_own_address_is_never_a_ticket(deliver_mail):
    inbound = deliver_mail(mail(sender=f"Support <{SUPPORT}>"))
    assert inbound.state == "ignored"
    loop = deliver_mail(mail(sender="support+t1-0123456789abcdef@helpdesk.localhost"))
    assert loop.state == "ignored"
    assert Ticket.objects.count() == 0


def test_a_delivery_report_opens_no_ticket_and_adds_no_message(deliver_mail):
    from tests.tickets.test_inbound_parsing import DSN

    inbound = deliver_mail(DSN)
    assert inbound.state == "ignored"
    assert inbound.outcome.startswith("delivery report: failed 5.1.1 for gone@client.example")
    assert Ticket.objects.count() == Message.objects.count() == 0


def test_a_known_customers_only_mailbox_keeps_a_strangers_mail_for_managers(deliver_mail, mailbox):
    mailbox.accept = Mailbox.Accept.KNOWN
    mailbox.save()
    inbound = deliver_mail(mail(sender="stranger@unknown.example"))
    assert inbound.state == "ignored"
    assert "known customers only" in inbound.outcome
    assert not Customer.objects.filter(email="stranger@unknown.example").exists()
    (notice,) = Delivery.objects.filter(recipient="stranger@unknown.example")
    assert notice.headers["Auto-Submitted"] == "auto-replied"
    assert "registered customers only" in notice.body
    deliver_mail(mail(sender="stranger@unknown.example", subject="Again"))
    deliver_mail(mail(sender="stranger@unknown.example", subject="Away", headers={"Auto-Submitted": "auto-replied"}))
    assert Delivery.objects.filter(recipient="stranger@unknown.example").count() == 1  # once a day, never to machines
    CustomerFactory(email="ada@math.example")
    assert deliver_mail(mail()).ticket is not None


# --- attachments, size, poison messages ----------------------------------------------------------------------


def test_attachments_are_checked_by_their_bytes(deliver_mail):
    message = mail(body="Two files.")
    message.add_attachment(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", maintype="application", subtype="pdf",
                           filename="invoice.pdf")  # fmt: skip
    message.add_attachment(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", maintype="application", subtype="pdf",
                           filename="totally-a.pdf")  # fmt: skip
    inbound = deliver_mail(message)
    kept = inbound.ticket_message.attachments.get()
    assert kept.filename == "invoice.pdf"
    assert "Attachments not kept: totally-a.pdf" in inbound.ticket_message.body


def test_a_message_over_the_size_limit_opens_a_ticket_with_a_note(deliver_mail, settings):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_BYTES": 2000}
    message = mail(body="x" * 5000)
    inbound = deliver_mail(message)
    assert inbound.outcome.endswith("(too large)")
    assert "its text and attachments were not imported" in inbound.ticket.messages.get().body
    assert bytes(inbound.raw) == message.as_bytes()  # the original is kept whole


def test_a_poison_message_is_retried_then_quarantined_and_blocks_nothing(deliver_mail, settings, monkeypatch):
    """A message that makes processing fail (here: a parser bug no sample foresaw, injected) never blocks others."""
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_ATTEMPTS": 3, "INBOUND_RETRY_BASE_SECONDS": 0}
    import tickets.inbound.services as inbound_services

    real_parse = inbound_services.email_parse

    def parse(raw):
        if b"poison" in raw:
            raise UnicodeError("a charset no sample had")
        return real_parse(raw)

    monkeypatch.setattr(inbound_services, "email_parse", parse)
    poison = deliver_mail(mail(subject="poison"))  # each retry is enqueued on commit; here they run inline
    assert (poison.state, poison.attempts) == ("quarantined", 3)
    assert poison.last_error == "UnicodeError: a charset no sample had"
    assert deliver_mail(mail(subject="Fine")).state == "processed"  # the next message is not held up
    assert inbound_process(inbound_id=poison.pk) == "nothing to do"
    monkeypatch.setattr(inbound_services, "email_parse", real_parse)  # the bug is fixed; a manager retries
    inbound_retry(inbound=poison)
    inbound_process(inbound_id=poison.pk)
    poison.refresh_from_db()
    assert poison.state == "processed"
    assert Ticket.objects.filter(subject="poison").exists()


def test_senders_that_no_customer_record_can_hold_are_kept_not_crashed_on(deliver_mail):
    too_long = deliver_mail(mail(sender=("a" * 250) + "@math.example"))
    assert (too_long.state, too_long.outcome) == ("ignored", "ignored: the sender's address is not valid")
    long_name = deliver_mail(mail(sender=("N" * 300) + " <ada@math.example>"))
    assert long_name.state == "processed"
    assert long_name.ticket.requester.name == "N" * 200


# --- entry points ----------------------------------------------------------------------------------------------


def _run_pipe(raw: bytes, *args: str):
    stdin, stdout = sys.stdin, io.StringIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(raw))
    try:
        call_command("mail_inbound", *args, stdout=stdout)
    finally:
        sys.stdin = stdin
    return stdout.getvalue()


def test_the_pipe_command_stores_even_broken_mime_and_fails_only_when_nothing_was_stored(mailbox):
    assert _run_pipe(mail().as_bytes()).startswith("stored: message")
    assert _run_pipe(b"\x00\xff garbage, no headers at all").startswith("stored: message")
    with pytest.raises(CommandError) as empty:
        _run_pipe(b"  \n")
    assert empty.value.returncode == 75
    with pytest.raises(CommandError) as unknown:
        _run_pipe(mail().as_bytes(), "--mailbox", "nobody@helpdesk.localhost")
    assert unknown.value.returncode == 75
    assert InboundEmail.objects.count() == 2


def test_the_inbound_api_takes_raw_mail_from_those_allowed(api_client_for, mailbox, agent):
    raw = mail(message_id="<api-1@math.example>").as_bytes()
    manager = api_client_for(ManagerFactory())
    first = manager.post("/api/v1/inbound/", raw, content_type="message/rfc822")
    assert first.status_code == 202, first.content
    assert manager.post("/api/v1/inbound/", raw, content_type="message/rfc822").status_code == 200
    assert manager.post("/api/v1/inbound/", b"", content_type="message/rfc822").status_code == 400
    assert (
        manager.post("/api/v1/inbound/?mailbox=nope@x.example", raw, content_type="message/rfc822").status_code == 404
    )
    assert api_client_for(agent).post("/api/v1/inbound/", raw, content_type="message/rfc822").status_code == 403
    assert InboundEmail.objects.count() == 1


def test_the_drop_folder_is_polled_and_a_file_moves_only_once_stored(
    tmp_path, queue, django_capture_on_commit_callbacks
):
    from tickets.inbound.sources import mailboxes_poll

    Mailbox.objects.create(address=SUPPORT, queue=queue, source=Mailbox.Source.FOLDER, folder_path=str(tmp_path))
    (tmp_path / "one.eml").write_bytes(mail(subject="Dropped").as_bytes())
    (tmp_path / "notes.txt").write_text("not mail")
    with django_capture_on_commit_callbacks(execute=True):
        assert mailboxes_poll() == {"polled": 1, "stored": 1}
    assert Ticket.objects.get().subject == "Dropped"
    assert (tmp_path / "processed" / "one.eml").exists()
    assert not (tmp_path / "one.eml").exists()
    assert (tmp_path / "notes.txt").exists()


def test_a_missing_drop_folder_is_an_error_on_the_mailbox_not_a_crash(tmp_path, queue):
    from tickets.inbound.sources import mailboxes_poll

    box = Mailbox.objects.create(
        address=SUPPORT, queue=queue, source=Mailbox.Source.FOLDER, folder_path=str(tmp_path / "nope")
    )
    assert mailboxes_poll() == {"polled": 1, "stored": 0}
    box.refresh_from_db()
    assert "does not exist" in box.last_poll_error


# --- what agents see ----------------------------------------------------------------------------------------


def test_agents_see_how_an_e_mail_arrived_and_can_unfold_and_download_it(deliver_mail, answered, agent, client):
    sent_id = MailThreadId.objects.get(ticket=answered, outbound=True).message_id
    quoted = (
        "Still broken.\n\nOn Tue, Dec 1, 2026 at 10:00 AM Support <support@helpdesk.localhost> wrote:\n> Try again."
    )
    inbound = deliver_mail(
        mail(body=quoted, headers={"In-Reply-To": f"<{sent_id}>",
                                   "Authentication-Results": "mx.example; dkim=fail header.d=math.example"})
    )  # fmt: skip
    client.force_login(agent)
    page = client.get(f"/agent/tickets/{answered.pk}/").content.decode()
    assert "sender not verified" in page
    assert "Show the full message" in page
    assert "&gt; Try again." in page  # the quote is folded away, not lost
    original = client.get(f"/agent/tickets/{answered.pk}/messages/{inbound.ticket_message.pk}/original.eml")
    assert original.status_code == 200
    assert original["Content-Disposition"].startswith("attachment;")
    assert original.content == bytes(inbound.raw)
    # another agent's ticket, or a message that is not an e-mail: 404
    other = make_ticket(queue=QueueFactory(slug="elsewhere"))
    assert client.get(f"/agent/tickets/{other.pk}/messages/{inbound.ticket_message.pk}/original.eml").status_code == 404
    first = answered.messages.order_by("id").first()
    assert client.get(f"/agent/tickets/{answered.pk}/messages/{first.pk}/original.eml").status_code == 404


def test_the_ticket_page_reads_no_raw_e_mail_and_no_query_per_message(
    deliver_mail, answered, agent, client, django_assert_max_num_queries
):
    client.force_login(agent)
    deliver_mail(mail(subject=f"[{answered.reference}]", body="one"))
    client.get(f"/agent/tickets/{answered.pk}/")
    with django_assert_max_num_queries(60) as baseline:
        client.get(f"/agent/tickets/{answered.pk}/")
    for n in range(5):
        deliver_mail(mail(subject=f"[{answered.reference}]", body=f"more {n}"))
    with django_assert_max_num_queries(len(baseline.captured_queries)) as more:
        client.get(f"/agent/tickets/{answered.pk}/")
    thread_sql = [q["sql"] for q in more.captured_queries if "tickets_inboundemail" in q["sql"]]
    assert thread_sql
    assert not any('"raw"' in sql for sql in thread_sql)


# --- the mailbox and inbound-log API ---------------------------------------------------------------------------


def test_managers_manage_mailboxes_through_the_api_and_never_read_a_password(api_client_for, queue, agent):
    manager = api_client_for(ManagerFactory())
    created = manager.post(
        "/api/v1/mailboxes/",
        {"address": "Sales@Example.com", "queue": "support", "source": "imap", "imap_host": "imap.example.com",
         "imap_user": "sales", "imap_password": "s3cret"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["address"] == "sales@example.com"
    assert "imap_password" not in body
    assert "s3cret" not in manager.get("/api/v1/mailboxes/").content.decode()
    box = Mailbox.objects.get(address="sales@example.com")
    assert box.imap_password == "s3cret"
    patched = manager.patch(f"/api/v1/mailboxes/{box.pk}/", {"name": "Sales", "imap_password": ""}, format="json")
    assert patched.status_code == 200
    box.refresh_from_db()
    assert (box.name, box.imap_password) == ("Sales", "s3cret")  # an empty password keeps the stored one
    bad = manager.post("/api/v1/mailboxes/", {"address": "x@example.com", "queue": "support", "source": "imap"},
                       format="json")  # fmt: skip
    assert bad.status_code == 400
    assert set(bad.json()["extra"]["fields"]) >= {"imap_host", "imap_user", "imap_password"}
    assert api_client_for(agent).get("/api/v1/mailboxes/").status_code == 403


def test_the_inbound_log_lists_downloads_and_retries(api_client_for, deliver_mail, settings, monkeypatch):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_ATTEMPTS": 1}
    import tickets.inbound.services as inbound_services

    real_parse = inbound_services.email_parse
    monkeypatch.setattr(inbound_services, "email_parse", lambda raw: 1 / 0)
    broken = deliver_mail(mail(subject="Breaks the parser"))
    monkeypatch.setattr(inbound_services, "email_parse", real_parse)
    fine = deliver_mail(mail(subject="Fine"))
    manager = api_client_for(ManagerFactory())
    listed = manager.get("/api/v1/inbound-emails/").json()["results"]
    assert [row["id"] for row in listed] == [fine.pk, broken.pk]
    quarantined = manager.get("/api/v1/inbound-emails/", {"state": "quarantined"}).json()["results"]
    assert [row["id"] for row in quarantined] == [broken.pk]
    assert manager.get("/api/v1/inbound-emails/", {"state": "nope"}).status_code == 400
    raw = manager.get(quarantined[0]["raw_url"])
    assert raw.content == bytes(broken.raw)
    assert manager.post(f"/api/v1/inbound-emails/{fine.pk}/retry/").status_code == 400  # nothing to retry
    with_commit = manager.post(f"/api/v1/inbound-emails/{broken.pk}/retry/")
    assert with_commit.status_code == 202
    inbound_process(inbound_id=broken.pk)
    broken.refresh_from_db()
    assert broken.state == "processed"
    assert manager.get("/api/v1/inbound-emails/999999/raw/").status_code == 404


# --- bounces --------------------------------------------------------------------------------------------------


def _report(*, message_id, recipient, status="5.1.1", action="failed"):
    from tests.tickets.test_inbound_parsing import DSN

    return (
        DSN.replace(b"delivery-42.abc@help.example.com", message_id.strip("<>").encode())
        .replace(b"Gone@Client.example", recipient.encode())
        .replace(b"Status: 5.1.1", f"Status: {status}".encode())
        .replace(b"Action: failed", f"Action: {action}".encode())
    )


def test_a_hard_bounce_marks_the_delivery_and_stops_outreach_to_that_address_until_it_changes(deliver_mail):
    from customers.services import deliveries_send, delivery_message_id, delivery_plan

    ada = CustomerFactory(email="ada@math.example")
    news = delivery_plan(key="campaign:1:ada", category="announcement", customer=ada, subject="News", body="Hi")
    inbound = deliver_mail(_report(message_id=delivery_message_id(news.idempotency_key), recipient=ada.email))
    news.refresh_from_db()
    ada.refresh_from_db()
    assert news.status == "bounced"
    assert news.last_error.startswith("5.1.1 550 5.1.1")
    assert ada.email_undeliverable
    assert inbound.outcome.endswith(f"(delivery {news.pk} bounced; the address is now undeliverable)")
    assert Ticket.objects.count() == 0
    # the next announcement is suppressed when it is due, with the reason; a ticket reply still goes
    later = delivery_plan(key="campaign:2:ada", category="announcement", customer=ada, subject="More", body="Hi")
    reply = delivery_plan(key="ticket:9:message:9", category="service", customer=ada, subject="Re", body="Hi")
    deliveries_send(delivery_ids=[later.pk, reply.pk])
    later.refresh_from_db()
    reply.refresh_from_db()
    assert (later.status, later.suppressed_reason) == (
        "suppressed",
        "the address is undeliverable (a delivery report said so)",
    )
    assert reply.status == "sent"
    # a new address lifts it
    Customer.objects.filter(pk=ada.pk).update(email="ada@new.example")
    third = delivery_plan(key="campaign:3:ada", category="announcement", customer=Customer.objects.get(pk=ada.pk),
                    subject="Again", body="Hi")  # fmt: skip
    deliveries_send(delivery_ids=[third.pk])
    third.refresh_from_db()
    assert third.status == "sent"


def test_a_forged_or_soft_report_changes_nothing(deliver_mail):
    from customers.services import delivery_message_id, delivery_plan

    ada = CustomerFactory(email="ada@math.example")
    news = delivery_plan(key="campaign:1:ada", category="announcement", customer=ada, subject="News", body="Hi")
    forged = deliver_mail(_report(message_id="made-up@helpdesk.localhost", recipient=ada.email))
    assert forged.outcome.endswith("(answers no message of ours: nothing changed)")
    delayed = deliver_mail(
        _report(message_id=delivery_message_id(news.idempotency_key), recipient=ada.email, status="4.4.1",
                action="delayed")
    )  # fmt: skip
    assert delayed.state == "ignored"
    news.refresh_from_db()
    ada.refresh_from_db()
    assert news.status != "bounced"
    assert not ada.email_undeliverable


# --- the raw API's own body limit -----------------------------------------------------------------------


def big_mail(size: int, message_id: str) -> bytes:
    """A message of about ``size`` bytes: a text body of that many characters (base64 lines in real mail)."""
    line = "The log of the failed export follows, line after line of it.\n"
    return mail(message_id=message_id, body=line * (size // len(line))).as_bytes()


def test_a_message_over_djangos_form_limit_but_under_ours_is_stored_and_imported(
    api_client_for, mailbox, settings, django_capture_on_commit_callbacks
):
    # given a 4 MB message: over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), under the 25 MB message limit
    raw = big_mail(4 * 1024 * 1024, "<big-1@math.example>")
    assert len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(ManagerFactory()).post("/api/v1/inbound/", raw, content_type="message/rfc822")
    assert response.status_code == 202, response.content
    inbound = InboundEmail.objects.get()
    assert bytes(inbound.raw) == raw
    assert inbound.state == "processed"
    assert inbound.ticket.messages.get().body.startswith("The log of the failed export follows")


def test_a_message_over_the_message_limit_but_under_the_body_limit_is_kept_raw_with_a_note(
    api_client_for, mailbox, settings, django_capture_on_commit_callbacks
):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_BYTES": 1024 * 1024}  # the body limit is 1.5 MB
    raw = big_mail(1200 * 1024, "<big-2@math.example>")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(ManagerFactory()).post("/api/v1/inbound/", raw, content_type="message/rfc822")
    assert response.status_code == 202, response.content
    inbound = InboundEmail.objects.get()
    assert (inbound.size, inbound.outcome) == (len(raw), f"new ticket {inbound.ticket.reference} (too large)")
    assert "over the 1 MB limit" in inbound.ticket.messages.get().body


def test_a_body_over_the_limit_is_a_413_with_a_json_error_and_stores_nothing(api_client_for, mailbox, settings):
    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_BYTES": 1024 * 1024}
    raw = big_mail(1600 * 1024, "<big-3@math.example>")
    response = api_client_for(ManagerFactory()).post("/api/v1/inbound/", raw, content_type="message/rfc822")
    assert response.status_code == 413
    assert response.json() == {"message": "The message is larger than 1.5 MB, the most this endpoint takes.",
                               "extra": {}}  # fmt: skip
    assert not InboundEmail.objects.exists()


def test_a_body_longer_than_its_content_length_claims_is_read_only_to_the_limit(mailbox, settings):
    from io import BytesIO

    from tickets.inbound.api import PayloadTooLarge, RawEmailParser

    settings.HELPDESK = {**settings.HELPDESK, "INBOUND_MAX_BYTES": 1024 * 1024}
    stream = BytesIO(b"x" * (3 * 1024 * 1024))
    with pytest.raises(PayloadTooLarge):
        RawEmailParser().parse(stream)
    assert stream.tell() == 1024 * 1024 + 512 * 1024 + 1  # one byte past the limit, not the whole body
