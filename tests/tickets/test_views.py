"""The agent workspace through HTTP: full pages, htmx partials, visibility, concurrency, query counts."""

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import AgentFactory, CustomerUserFactory
from tests.tickets.factories import MacroFactory, QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Message, Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(agent):
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    return queue


@pytest.fixture
def ticket(queue):
    return make_ticket(queue=queue, subject="Cannot log in")


def test_the_queue_lists_the_tickets_of_my_queues(agent_client, ticket):
    response = agent_client.get(reverse("agent-home"), {"view": "all_open"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Cannot log in" in body
    assert ticket.reference in body
    assert "<html" in body


def test_the_queue_filters_by_text_and_answers_htmx_with_the_rows_only(agent_client, queue, htmx_headers):
    make_ticket(queue=queue, subject="Invoice is wrong")
    make_ticket(queue=queue, subject="Cannot log in")
    response = agent_client.get(
        reverse("agent-home"),
        {"view": "all_open", "q": "invoice"},
        headers={**htmx_headers, "HX-Target": "queue-results"},
    )
    body = response.content.decode()
    assert "Invoice is wrong" in body
    assert "Cannot log in" not in body
    assert "<html" not in body


def test_the_queue_pages_by_keyset(agent_client, queue, htmx_headers):
    for n in range(55):
        make_ticket(queue=queue, subject=f"Ticket {n:02}")
    first = agent_client.get(reverse("agent-home"), {"view": "all_open"})
    cursor = first.context["page"].next_cursor
    assert cursor is not None
    assert len(first.context["page"].items) == 50
    second = agent_client.get(reverse("agent-home"), {"view": "all_open", "cursor": cursor}, headers=htmx_headers)
    body = second.content.decode()
    assert re.findall(r"Ticket \d\d", body) == [f"Ticket {n:02}" for n in range(4, -1, -1)]
    assert "Load more" not in body
    assert "<html" not in body


def test_the_queue_query_count_does_not_grow_with_rows(
    agent_client, queue, django_assert_max_num_queries, django_assert_num_queries
):
    make_ticket(queue=queue)
    agent_client.get(reverse("agent-home"), {"view": "all_open"})  # warm caches (content types, sessions)
    with django_assert_max_num_queries(12) as few:
        agent_client.get(reverse("agent-home"), {"view": "all_open", "sort": "priority"})
    for n in range(30):
        make_ticket(queue=queue, subject=f"More {n}", tags=["billing", f"t{n}"])
    with django_assert_num_queries(len(few.captured_queries)):
        agent_client.get(reverse("agent-home"), {"view": "all_open", "sort": "priority"})


def test_changed_rows_come_back_as_out_of_band_swaps(agent_client, ticket, queue, htmx_headers):
    old = make_ticket(queue=queue, subject="Old one")
    Ticket.objects.filter(pk=old.pk).update(updated_at="2020-01-01T00:00:00Z")
    response = agent_client.get(
        reverse("agent-home"), {"view": "all_open", "changed_since": "2025-01-01T00:00:00Z"}, headers=htmx_headers
    )
    body = response.content.decode()
    assert f'id="ticket-row-{ticket.pk}"' in body
    assert 'hx-swap-oob="true"' in body
    assert "Old one" not in body


def test_bulk_update_changes_the_selected_tickets(agent_client, queue, agent, htmx_headers):
    tickets = [make_ticket(queue=queue, subject=f"T{n}") for n in range(3)]
    response = agent_client.post(
        reverse("agent-ticket-bulk"),
        {
            "ticket": [tickets[0].pk, tickets[1].pk],
            "action": "priority",
            "value": "urgent",
            "return_query": "view=all_open",
        },
        headers=htmx_headers,
    )
    assert response.status_code == 200
    assert "Updated 2 tickets." in response.content.decode()
    assert sorted(Ticket.objects.values_list("priority", flat=True)) == ["normal", "urgent", "urgent"]


def test_bulk_with_a_bad_value_says_why_and_changes_nothing(agent_client, ticket, htmx_headers):
    response = agent_client.post(
        reverse("agent-ticket-bulk"), {"ticket": [ticket.pk], "action": "status", "value": "done"}, headers=htmx_headers
    )
    assert "is not a status you can set" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_saving_a_view_keeps_the_filters(agent_client, queue):
    make_ticket(queue=queue, subject="Invoice is wrong")
    make_ticket(queue=queue, subject="Cannot log in")
    response = agent_client.post(
        reverse("agent-saved-view-create"), {"name": "Invoices", "filters": '{"q": "invoice", "view": "all_open"}'}
    )
    assert response.status_code == 302
    page = agent_client.get(response["Location"])
    assert [t.subject for t in page.context["page"].items] == ["Invoice is wrong"]
    assert page.context["view_label"] == "Invoices"


def test_the_ticket_page_shows_the_thread_the_customer_story_and_notes_apart(agent_client, agent, ticket):
    agent_client.post(
        reverse("agent-ticket-reply", args=[ticket.pk]),
        {"body": "Checking the logs", "internal": "on", "expected_version": ticket.version},
    )
    response = agent_client.get(reverse("agent-ticket-detail", args=[ticket.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "It says my password is wrong." in body
    assert "Checking the logs" in body
    assert "internal note" in body
    assert ticket.requester.name in body


def test_a_public_reply_emails_the_customer_and_moves_the_ticket_to_pending(
    agent_client, ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            reverse("agent-ticket-reply", args=[ticket.pk]),
            {"body": "Please try again now.", "expected_version": ticket.version},
        )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert len(mail.outbox) == 1
    assert ticket.reference in mail.outbox[0].subject


def test_a_reply_on_a_ticket_changed_meanwhile_is_refused_and_the_text_kept(agent_client, ticket, queue):
    other = AgentFactory()
    QueueMembershipFactory(queue=queue, agent=other)
    stale_version = ticket.version
    from tickets.services import ticket_reply

    ticket_reply(ticket=ticket, author=other, body="I am on it", internal=True)
    response = agent_client.post(
        reverse("agent-ticket-reply", args=[ticket.pk]),
        {"body": "My careful answer", "expected_version": stale_version},
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "My careful answer" in body
    assert "changed since you opened it" in body
    assert not Message.objects.filter(body="My careful answer").exists()


def test_an_empty_reply_is_a_form_error(agent_client, ticket):
    response = agent_client.post(reverse("agent-ticket-reply", args=[ticket.pk]), {"body": "", "expected_version": 1})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_a_disallowed_attachment_is_refused_and_the_text_kept(agent_client, ticket):
    upload = SimpleUploadedFile("run.exe", b"MZ\x90\x00", content_type="application/x-msdownload")
    response = agent_client.post(
        reverse("agent-ticket-reply", args=[ticket.pk]),
        {"body": "See attached", "attachments": [upload], "expected_version": ticket.version},
    )
    assert response.status_code == 400
    assert "See attached" in response.content.decode()
    assert not Message.objects.filter(body="See attached").exists()


def test_an_attachment_is_served_only_to_those_who_see_the_ticket(
    agent_client, ticket, client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("shot.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):  # the file is written when the reply commits
        agent_client.post(
            reverse("agent-ticket-reply", args=[ticket.pk]),
            {"body": "Screenshot", "attachments": [upload], "expected_version": ticket.version},
        )
    attachment = Message.objects.get(body="Screenshot").attachments.get()
    url = reverse("agent-attachment", args=[ticket.pk, attachment.pk])
    response = agent_client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    outsider = AgentFactory()
    client.force_login(outsider)
    assert client.get(url).status_code == 404


def test_inline_edit_saves_and_answers_htmx_with_the_panel(agent_client, ticket, agent, htmx_headers):
    data = {
        "status": "open",
        "priority": "high",
        "kind": "incident",
        "queue": ticket.queue_id,
        "assignee": agent.pk,
        "tags": "vip, billing",
        "expected_version": ticket.version,
    }
    response = agent_client.post(reverse("agent-ticket-update", args=[ticket.pk]), data, headers=htmx_headers)
    assert response.status_code == 200
    assert "Saved." in response.content.decode()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assignee_id) == ("open", "high", agent.pk)
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["billing", "vip"]


def test_inline_edit_on_a_stale_version_says_so_and_changes_nothing(agent_client, ticket, htmx_headers):
    data = {
        "status": "open",
        "priority": "high",
        "kind": "question",
        "queue": ticket.queue_id,
        "assignee": "",
        "tags": "",
        "expected_version": ticket.version - 1 or 99,
    }
    response = agent_client.post(reverse("agent-ticket-update", args=[ticket.pk]), data, headers=htmx_headers)
    assert "changed" in response.content.decode().lower()
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_a_macro_fills_the_reply_box_and_its_changes_apply_on_send(agent_client, ticket, htmx_headers):
    macro = MacroFactory(name="Solved it", body="Hi {{ customer.first_name }}, fixed.", set_status="solved")
    response = agent_client.post(
        reverse("agent-ticket-macro", args=[ticket.pk]),
        {"macro": macro.pk, "body": "", "expected_version": ticket.version},
        headers=htmx_headers,
    )
    body = response.content.decode()
    first_name = ticket.requester.name.split()[0]
    assert f"Hi {first_name}, fixed." in body
    assert "set status to solved" in body
    response = agent_client.post(
        reverse("agent-ticket-reply", args=[ticket.pk]),
        {"body": f"Hi {first_name}, fixed.", "macro_id": macro.pk, "expected_version": ticket.version},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED


def test_merge_moves_the_thread_and_points_to_the_target(agent_client, queue, ticket):
    target = make_ticket(queue=queue, subject="Same problem", requester=ticket.requester)
    response = agent_client.post(
        reverse("agent-ticket-merge", args=[ticket.pk]), {"into": target.reference, "expected_version": ticket.version}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.merged_into_id == target.pk
    assert ticket.status == Status.CLOSED


def test_merge_into_an_unknown_number_is_a_form_error(agent_client, ticket):
    response = agent_client.post(
        reverse("agent-ticket-merge", args=[ticket.pk]), {"into": "#999999", "expected_version": 1}
    )
    assert response.status_code == 400
    assert "No ticket with that number" in response.content.decode()


def test_split_turns_a_message_into_a_new_ticket(agent_client, ticket):
    from tickets.services import ticket_customer_reply

    message = ticket_customer_reply(ticket=ticket, body="Also, my invoice is wrong.")
    response = agent_client.post(reverse("agent-message-split", args=[ticket.pk, message.pk]))
    assert response.status_code == 302
    new = Ticket.objects.exclude(pk=ticket.pk).get()
    assert new.split_from_id == ticket.pk
    assert list(new.messages.values_list("body", flat=True)) == ["Also, my invoice is wrong."]


def test_presence_shows_another_agent_viewing_and_a_change_meanwhile(agent_client, ticket, queue, htmx_headers, client):
    other = AgentFactory(name="Sam Support")
    QueueMembershipFactory(queue=queue, agent=other)
    client.force_login(other)
    client.get(reverse("agent-ticket-detail", args=[ticket.pk]))
    opened = ticket.version
    client.post(
        reverse("agent-ticket-reply", args=[ticket.pk]), {"body": "note", "internal": "on", "expected_version": opened}
    )
    response = agent_client.post(
        reverse("agent-ticket-presence", args=[ticket.pk]), {"version": opened}, headers=htmx_headers
    )
    body = response.content.decode()
    assert "Sam Support" in body
    assert "is viewing this ticket too" in body
    assert "changed since you opened it" in body


def test_an_agent_creates_a_ticket_for_a_new_customer(agent_client, queue):
    response = agent_client.post(
        reverse("agent-ticket-create"),
        {
            "requester_email": "new@client.example",
            "requester_name": "New Person",
            "subject": "Phone call",
            "body": "Called about billing.",
            "queue": queue.pk,
            "priority": "high",
            "kind": "question",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.channel, ticket.requester.email) == ("Phone call", "agent", "new@client.example")


def test_ticket_pages_are_a_404_for_outsiders_and_customers_and_a_sign_in_for_anonymous(ticket, client):
    url = reverse("agent-ticket-detail", args=[ticket.pk])
    outsider = AgentFactory()
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(CustomerUserFactory())
    assert client.get(url).status_code == 404
    assert client.get(reverse("agent-home")).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302


def test_user_text_is_escaped_in_the_queue_and_the_ticket(agent_client, queue):
    ticket = make_ticket(queue=queue, subject="<img src=x onerror=alert(1)>", body="<script>alert(2)</script>")
    queue_body = agent_client.get(reverse("agent-home"), {"view": "all_open"}).content.decode()
    ticket_body = agent_client.get(reverse("agent-ticket-detail", args=[ticket.pk])).content.decode()
    assert "<img src=x onerror" not in queue_body
    assert "<script>alert(2)</script>" not in ticket_body


def test_inline_edit_sets_ccs_and_typed_custom_fields(agent_client, ticket, htmx_headers):
    from tickets.models import CustomField

    CustomField.objects.create(key="plan_seats", label="Seats", type="number")
    CustomField.objects.create(key="due", label="Due", type="date")
    CustomField.objects.create(key="area", label="Area", type="choice", choices=["billing", "login"])
    data = {
        "status": ticket.status,
        "priority": "normal",
        "kind": "question",
        "queue": ticket.queue_id,
        "assignee": "",
        "tags": "",
        "ccs": "Boss@Client.example, ops@client.example",
        "cf_plan_seats": "25",
        "cf_due": "2026-12-01",
        "cf_area": "login",
        "expected_version": ticket.version,
    }
    response = agent_client.post(reverse("agent-ticket-update", args=[ticket.pk]), data, headers=htmx_headers)
    assert "Saved." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.custom_fields == {"plan_seats": 25, "due": "2026-12-01", "area": "login"}
    assert sorted(ticket.ccs.values_list("email", flat=True)) == ["boss@client.example", "ops@client.example"]


def test_a_bad_custom_field_value_is_refused_and_nothing_changes(agent_client, ticket, htmx_headers):
    from tickets.models import CustomField

    CustomField.objects.create(key="area", label="Area", type="choice", choices=["billing", "login"])
    data = {
        "status": ticket.status,
        "priority": "high",
        "kind": "question",
        "queue": ticket.queue_id,
        "assignee": "",
        "tags": "",
        "ccs": "not an email",
        "cf_area": "nope",
        "expected_version": ticket.version,
    }
    response = agent_client.post(reverse("agent-ticket-update", args=[ticket.pk]), data, headers=htmx_headers)
    body = response.content.decode()
    assert "Select a valid choice" in body
    assert "Enter a valid email address." in body
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_the_sort_in_effect_is_the_one_shown(agent_client, ticket):
    body = agent_client.get(reverse("agent-home"), {"view": "all_open"}).content.decode()
    assert '<option value="updated" selected>' in body
    body = agent_client.get(reverse("agent-home"), {"view": "all_open", "sort": "sla"}).content.decode()
    assert '<option value="sla" selected>' in body


def test_the_side_panel_offers_every_queue_and_marks_the_current_one(agent_client, ticket):
    other_team = QueueFactory(name="Escalations", slug="escalations")
    body = agent_client.get(reverse("agent-ticket-detail", args=[ticket.pk])).content.decode()
    assert f'<option value="{ticket.queue_id}" selected>Support</option>' in body
    assert f'<option value="{other_team.pk}">Escalations</option>' in body


def test_a_saved_view_keeps_requester_and_unassigned_filters(agent_client, queue):
    from tests.factories import CustomerFactory

    ada = CustomerFactory(email="ada@client.example")
    make_ticket(queue=queue, requester=ada, subject="Ada's question")
    make_ticket(queue=queue, subject="Someone else's")
    page = agent_client.get(reverse("agent-home"), {"view": "all_open", "requester_email": "ada@client.example",
                                                    "assignee": "none"})  # fmt: skip
    response = agent_client.post(reverse("agent-saved-view-create"),
                                 {"name": "Ada, unassigned", "filters": page.context["filters_json"]})  # fmt: skip
    saved = agent_client.get(response["Location"])
    assert [t.subject for t in saved.context["page"].items] == ["Ada's question"]


def test_a_requester_address_nobody_has_shows_no_tickets_not_the_whole_queue(agent_client, queue):
    make_ticket(queue=queue, subject="Someone's")
    page = agent_client.get(reverse("agent-home"), {"view": "all_open", "requester_email": "nobody@nowhere.example"})
    assert page.status_code == 200
    assert page.context["page"].items == []
    assert page.context["shown"]["requester_email"] == "nobody@nowhere.example"  # the box keeps what was typed
