import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from core.exceptions import ApplicationError
from customers.models import Delivery
from tests.factories import AgentFactory, CustomerFactory, TagFactory
from tests.tickets.factories import MacroFactory, QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Attachment, CustomField, Message, Queue, Status, Ticket, TicketEvent
from tickets.selectors import ticket_other_viewers
from tickets.services import (
    macro_apply,
    message_split,
    ticket_assign,
    ticket_create,
    ticket_customer_reply,
    ticket_merge,
    ticket_reply,
    ticket_solve,
    ticket_update,
    ticket_viewing_ping,
    tickets_autoclose,
    tickets_bulk_update,
)

pytestmark = pytest.mark.django_db


def _status(ticket):
    return Ticket.objects.values_list("status", flat=True).get(pk=ticket.pk)


# --- creation and numbering ------------------------------------------------------------------------


def test_a_customer_ticket_is_new_with_a_reference_and_its_first_message():
    customer = CustomerFactory(name="Ada Lovelace")
    ticket = make_ticket(requester=customer, body="**Help**")
    second = make_ticket()
    assert ticket.status == Status.NEW
    assert ticket.reference == f"#{ticket.number}"
    assert second.number == ticket.number + 1
    assert ticket.organization_id == customer.organization_id
    message = ticket.messages.get()
    assert (message.author_customer, message.by_agent, message.is_internal) == (customer, False, False)
    assert message.body_html == "<p><strong>Help</strong></p>\n"
    assert list(ticket.events.values_list("kind", flat=True)) == ["created", "customer_replied"]
    assert ticket.version == 1


def test_an_empty_subject_is_refused_and_nothing_is_written():
    with pytest.raises(ApplicationError):
        make_ticket(subject="  ")
    assert Ticket.objects.count() == 0


def test_round_robin_hands_tickets_to_available_members_in_turn():
    queue = QueueFactory(assignment_mode=Queue.AssignmentMode.ROUND_ROBIN)
    first, second, away = (QueueMembershipFactory(queue=queue) for _ in range(3))
    away.is_available = False
    away.save()
    assignees = [make_ticket(queue=queue).assignee for _ in range(4)]
    assert assignees == [first.agent, second.agent, first.agent, second.agent]
    queue.refresh_from_db()
    assert queue.round_robin_last == second.agent


# --- lifecycle -----------------------------------------------------------------------------------------


def test_an_agent_public_reply_moves_new_to_pending_and_takes_the_ticket(agent):
    ticket = make_ticket()
    message = ticket_reply(ticket=ticket, author=agent, body="Try resetting it.")
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert ticket.assignee == agent
    assert ticket.first_agent_reply_at == message.created_at
    assert ticket.version == 2


def test_an_agent_may_pick_another_status_in_the_same_submit(agent):
    ticket = make_ticket()
    ticket_reply(ticket=ticket, author=agent, body="Looking into it.", status=Status.ON_HOLD)
    assert _status(ticket) == Status.ON_HOLD


def test_an_internal_note_does_not_change_the_status_nor_email(agent, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=ticket, author=agent, body="Customer is on the old plan.", internal=True)
    assert _status(ticket) == Status.NEW
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize("status", [Status.PENDING, Status.ON_HOLD, Status.SOLVED])
def test_a_customer_reply_reopens(agent, status):
    ticket = make_ticket()
    ticket_update(ticket=ticket, actor=agent, status=status)
    ticket_customer_reply(ticket=ticket, body="Still broken.")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.reopen_count == (1 if status == Status.SOLVED else 0)


def test_a_customer_reply_to_a_new_ticket_keeps_it_new():
    ticket = make_ticket()
    ticket_customer_reply(ticket=ticket, body="More details.")
    assert _status(ticket) == Status.NEW


def test_impossible_transitions_are_refused(agent):
    ticket = make_ticket()
    ticket_update(ticket=ticket, actor=agent, status=Status.OPEN)
    with pytest.raises(ApplicationError, match="cannot go from open to new"):
        ticket_update(ticket=ticket, actor=agent, status=Status.NEW)
    with pytest.raises(ApplicationError):
        ticket_update(ticket=ticket, actor=agent, status=Status.CLOSED)
    assert _status(ticket) == Status.OPEN


def test_required_custom_fields_block_solving(agent):
    CustomField.objects.create(
        key="root-cause", label="Root cause", type="choice", choices=["bug", "user"], required=True
    )
    ticket = make_ticket()
    with pytest.raises(ApplicationError, match="Root cause"):
        ticket_solve(ticket=ticket, actor=agent)
    with pytest.raises(ApplicationError, match="not a valid choice"):
        ticket_update(ticket=ticket, actor=agent, custom_fields={"root-cause": "cosmic rays"})
    ticket = ticket_update(ticket=ticket, actor=agent, custom_fields={"root-cause": "bug"})
    ticket = ticket_solve(ticket=ticket, actor=agent)
    assert ticket.status == Status.SOLVED
    assert ticket.custom_fields == {"root-cause": "bug"}


def test_typed_custom_fields_are_cleaned(agent):
    CustomField.objects.create(key="seats", label="Seats", type="number")
    CustomField.objects.create(key="renewal", label="Renewal", type="date")
    CustomField.objects.create(key="vip", label="VIP", type="checkbox")
    ticket = make_ticket()
    ticket = ticket_update(
        ticket=ticket, actor=agent, custom_fields={"seats": "12", "renewal": "2026-05-01", "vip": True}
    )
    assert ticket.custom_fields == {"seats": 12, "renewal": "2026-05-01", "vip": True}
    with pytest.raises(ApplicationError):
        ticket_update(ticket=ticket, actor=agent, custom_fields={"renewal": "soon"})
    with pytest.raises(ApplicationError, match="Unknown custom field"):
        ticket_update(ticket=ticket, actor=agent, custom_fields={"colour": "red"})


def test_update_writes_one_audit_event_per_change_and_one_version(agent):
    other = AgentFactory()
    queue = QueueFactory()
    ticket = make_ticket()
    ticket = ticket_update(
        ticket=ticket, actor=agent, priority="urgent", queue=queue, assignee=other, tags=["billing", "VIP"]
    )
    assert ticket.version == 2
    assert ticket.priority_rank == 4
    changes = {
        e.field: (e.old_value, e.new_value) for e in ticket.events.filter(kind=TicketEvent.Kind.CHANGED, actor=agent)
    }
    assert changes["priority"] == ("normal", "urgent")
    assert changes["assignee"] == (None, {"id": other.pk, "label": str(other)})
    assert changes["tags"] == ([], ["billing", "vip"])
    assert changes["queue"][1] == {"id": queue.pk, "label": queue.name}
    # nothing changed: no new version
    assert ticket_update(ticket=ticket, actor=agent, priority="urgent").version == 2


def test_assign_refuses_a_non_agent(agent, customer_user):
    ticket = make_ticket()
    with pytest.raises(ApplicationError, match="not an agent"):
        ticket_assign(ticket=ticket, assignee=customer_user, actor=agent)
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


# --- optimistic concurrency ----------------------------------------------------------------------------


def test_a_stale_version_is_a_conflict_and_nothing_is_written(agent):
    ticket = make_ticket()
    ticket_update(ticket=ticket, actor=agent, priority="high")  # someone else, meanwhile
    with pytest.raises(ApplicationError) as exc:
        ticket_reply(ticket=ticket, author=agent, body="My reply", expected_version=1)
    assert exc.value.extra == {"conflict": True, "current_version": 2}
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert Ticket.objects.get(pk=ticket.pk).version == 2
    ticket_reply(ticket=ticket, author=agent, body="My reply", expected_version=2)
    assert Ticket.objects.get(pk=ticket.pk).version == 3


# --- customer e-mail ------------------------------------------------------------------------------------


def test_a_public_reply_emails_the_customer_with_the_reference(agent, django_capture_on_commit_callbacks):
    customer = CustomerFactory(email="ada@client.example")
    ticket = make_ticket(requester=customer, subject="Invoice wrong")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = ticket_reply(ticket=ticket, author=agent, body="We *fixed* it.")
    delivery = Delivery.objects.get()
    assert delivery.idempotency_key == f"ticket:{ticket.pk}:message:{message.pk}"
    assert delivery.category == "service"
    assert delivery.recipient == "ada@client.example"
    assert delivery.subject == f"[#{ticket.number}] Invoice wrong"
    assert delivery.html_body == "<p>We <em>fixed</em> it.</p>\n"
    assert len(callbacks) == 1


def test_ccs_get_the_reply_too(agent):
    cc = CustomerFactory()
    ticket = make_ticket(ccs=[cc])
    message = ticket_reply(ticket=ticket, author=agent, body="Hi both")
    keys = set(Delivery.objects.values_list("idempotency_key", flat=True))
    assert keys == {f"ticket:{ticket.pk}:message:{message.pk}", f"ticket:{ticket.pk}:message:{message.pk}:cc:{cc.pk}"}


def test_solving_emails_the_customer_once(agent, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket_solve(ticket=ticket, actor=agent)
    delivery = Delivery.objects.get()
    assert delivery.idempotency_key == f"ticket:{ticket.pk}:solved:0"
    assert delivery.subject.startswith(f"[#{ticket.number}]")
    assert len(callbacks) == 1


# --- closing --------------------------------------------------------------------------------------------


def test_autoclose_closes_tickets_solved_long_enough_ago(agent, clock):
    old, recent, open_ = make_ticket(), make_ticket(), make_ticket()
    ticket_solve(ticket=old, actor=agent)
    clock.advance(days=3)
    ticket_solve(ticket=recent, actor=agent)
    clock.advance(days=1, minutes=1)
    assert tickets_autoclose() == 1
    assert (_status(old), _status(recent), _status(open_)) == (Status.CLOSED, Status.SOLVED, Status.NEW)
    old.refresh_from_db()
    assert old.closed_at == clock.now
    assert old.version == 3
    assert old.events.filter(kind=TicketEvent.Kind.AUTO_CLOSED).count() == 1
    assert tickets_autoclose() == 0


@override_settings(HELPDESK={**__import__("django.conf").conf.settings.HELPDESK, "TICKET_AUTOCLOSE_DAYS": 1})
def test_autoclose_days_is_a_setting(agent, clock):
    ticket = make_ticket()
    ticket_solve(ticket=ticket, actor=agent)
    clock.advance(days=1, seconds=1)
    assert tickets_autoclose() == 1


def test_a_closed_ticket_never_changes_and_a_customer_reply_opens_a_follow_up(agent, clock):
    ticket = make_ticket(subject="Export fails")
    ticket_solve(ticket=ticket, actor=agent)
    clock.advance(days=5)
    tickets_autoclose()
    ticket.refresh_from_db()
    with pytest.raises(ApplicationError, match="closed"):
        ticket_update(ticket=ticket, actor=agent, priority="high")
    with pytest.raises(ApplicationError, match="closed"):
        ticket_reply(ticket=ticket, author=agent, body="hello?")
    message = ticket_customer_reply(ticket=ticket, body="It fails again.")
    follow_up = message.ticket
    assert follow_up.pk != ticket.pk
    assert follow_up.follow_up_of == ticket
    assert follow_up.subject == "Export fails"
    assert follow_up.status == Status.NEW
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


# --- merge and split ---------------------------------------------------------------------------------------


def test_merge_moves_messages_and_closes_the_source_with_a_pointer(agent):
    queue = QueueFactory()
    customer = CustomerFactory()
    target = make_ticket(queue=queue, requester=customer, subject="Login broken")
    source = make_ticket(queue=queue, requester=customer, subject="Still cannot log in", tags=["login"])
    ticket_customer_reply(ticket=source, body="Any news?")
    merged = ticket_merge(source=source, target=target, actor=agent)
    source.refresh_from_db()
    assert source.status == Status.CLOSED
    assert source.merged_into == target
    assert merged.messages.count() == 4  # 1 + 2 moved + the internal note
    assert merged.messages.filter(moved_from=source).count() == 2
    assert list(merged.tags.values_list("name", flat=True)) == ["login"]
    assert merged.events.filter(kind=TicketEvent.Kind.MERGED).count() == 1
    # a reply by e-mail to the merged ticket lands on the target
    assert ticket_customer_reply(ticket=source, body="Hello?").ticket_id == target.pk


def test_merge_into_itself_or_a_closed_ticket_is_refused(agent):
    a, b = make_ticket(), make_ticket()
    with pytest.raises(ApplicationError):
        ticket_merge(source=a, target=a, actor=agent)
    ticket_merge(source=b, target=a, actor=agent, confirm=True)
    with pytest.raises(ApplicationError, match="closed"):
        ticket_merge(source=a, target=b, actor=agent, confirm=True)


def test_split_moves_one_message_into_a_linked_ticket(agent):
    ticket = make_ticket(subject="Two problems")
    second = ticket_customer_reply(ticket=ticket, body="Also: my invoice is wrong.")
    new = message_split(message=second, actor=agent, subject="Invoice wrong")
    assert new.split_from == ticket
    assert new.subject == "Invoice wrong"
    assert list(new.messages.all()) == [second]
    assert ticket.messages.count() == 1
    assert new.requester == ticket.requester
    assert new.number == ticket.number + 1


def test_the_only_message_cannot_be_split(agent):
    ticket = make_ticket()
    with pytest.raises(ApplicationError, match="only message"):
        message_split(message=ticket.messages.get(), actor=agent)


# --- macros --------------------------------------------------------------------------------------------------


def test_a_macro_replies_with_placeholders_and_changes_fields_in_one_version(agent):
    billing = QueueFactory(name="Billing")
    macro = MacroFactory(set_status=Status.SOLVED, set_priority="low", set_queue=billing)
    macro.add_tags.add(TagFactory(name="refund"))
    customer = CustomerFactory(name="Ada Lovelace")
    ticket = make_ticket(requester=customer)
    ticket, message = macro_apply(ticket=ticket, macro=macro, actor=agent, expected_version=1)
    assert message.body == f"Hello Ada,\n\nthanks for writing about #{ticket.number}.\n\n{agent.name}"
    assert not message.is_internal
    assert (ticket.status, ticket.priority, ticket.queue, ticket.version) == (Status.SOLVED, "low", billing, 2)
    assert list(ticket.tags.values_list("name", flat=True)) == ["refund"]
    assert ticket.events.filter(kind=TicketEvent.Kind.MACRO).count() == 1
    # one e-mail: the reply says it is solved
    assert Delivery.objects.get().idempotency_key == f"ticket:{ticket.pk}:message:{message.pk}"


def test_a_macro_cannot_reach_model_internals(agent):
    macro = MacroFactory(body="{{ customer.user.password }}{{ ticket.requester }}|", is_internal=True)
    ticket = make_ticket()
    _, message = macro_apply(ticket=ticket, macro=macro, actor=agent)
    assert message.body == "|"
    assert message.is_internal


# --- attachments ----------------------------------------------------------------------------------------------


def test_an_attachment_is_stored_under_a_random_name(agent):
    ticket = make_ticket()
    upload = SimpleUploadedFile("screen shot.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    message = ticket_reply(ticket=ticket, author=agent, body="See attached", attachments=[upload])
    attachment = message.attachments.get()
    assert attachment.filename == "screen shot.png"
    assert attachment.size == 8
    assert "screen" not in attachment.file.name
    assert attachment.file.name.startswith("tickets/")


@override_settings(HELPDESK={**__import__("django.conf").conf.settings.HELPDESK, "ATTACHMENT_MAX_BYTES": 10})
def test_an_attachment_over_the_limit_is_refused_before_anything_is_written(agent):
    ticket = make_ticket()
    upload = SimpleUploadedFile("big.pdf", b"x" * 11, content_type="application/pdf")
    with pytest.raises(ApplicationError, match="larger than the limit") as exc:
        ticket_reply(ticket=ticket, author=agent, body="Big file", attachments=[upload])
    assert exc.value.extra["max_bytes"] == 10
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("run.exe", "application/x-msdownload"), ("page.html", "text/plain"), ("x.svg", "image/svg+xml")],
)
def test_a_disallowed_content_type_is_refused(name, content_type):
    customer = CustomerFactory()
    upload = SimpleUploadedFile(name, b"data", content_type=content_type)
    with pytest.raises(ApplicationError, match="cannot be attached"):
        ticket_create(requester=customer, subject="File", body="here", queue=QueueFactory(), attachments=[upload])
    assert Ticket.objects.count() == 0


# --- bulk and presence ------------------------------------------------------------------------------------------


def test_bulk_update_changes_visible_tickets_and_reports_the_rest(agent):
    queue = QueueFactory()
    QueueMembershipFactory(queue=queue, agent=agent)
    mine = [make_ticket(queue=queue) for _ in range(3)]
    hidden = make_ticket()
    result = tickets_bulk_update(
        ticket_ids=[t.pk for t in mine] + [hidden.pk], actor=agent, priority="high", add_tags=["outage"]
    )
    assert sorted(result.updated) == sorted(t.pk for t in mine)
    assert result.failed == {hidden.pk: "not found"}
    assert set(Ticket.objects.filter(priority="high").values_list("pk", flat=True)) == {t.pk for t in mine}
    assert Ticket.objects.get(pk=hidden.pk).priority == "normal"


def test_viewing_ping_shows_other_agents(agent, clock):
    other = AgentFactory()
    ticket = make_ticket()
    ticket_viewing_ping(ticket=ticket, agent=agent)
    ticket_viewing_ping(ticket=ticket, agent=other)
    ticket_viewing_ping(ticket=ticket, agent=other)
    assert [v.agent for v in ticket_other_viewers(ticket=ticket, viewer=agent)] == [other]
    assert list(ticket_other_viewers(ticket=ticket, viewer=agent, now=clock.now + dt.timedelta(minutes=5))) == []
