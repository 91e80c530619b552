"""Outreach meets tickets: open-ticket suppression, incident links and auto-replies, follow-up surveys."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.exceptions import ApplicationError
from customers.models import Delivery
from outreach.models import FollowUp, IncidentTicket
from outreach.services import (
    campaign_cancel,
    campaign_create,
    campaign_schedule,
    followups_run,
    held_deliveries_release,
    incident_declare,
    incident_link_earlier_tickets,
    incident_link_ticket,
    incident_solve_linked_tickets,
    incidents_link_new_tickets,
    survey_answer,
)
from outreach.services.followups import survey_token
from tests.factories import AgentFactory, CustomerFactory, OrganizationFactory, ProductFactory
from tests.outreach.factories import SegmentFactory, TemplateFactory
from tests.tickets.factories import make_ticket
from tickets.models import Ticket
from tickets.services import ticket_solve

pytestmark = pytest.mark.django_db


def _solve(ticket, agent):
    ticket_solve(ticket=ticket, actor=agent)
    return Ticket.objects.get(pk=ticket.pk)


def test_announcements_wait_while_a_ticket_is_open_but_outage_notices_go(django_capture_on_commit_callbacks):
    product = ProductFactory()
    org = OrganizationFactory()
    org.products.add(product)
    busy, free = CustomerFactory(organization=org), CustomerFactory(organization=org)
    make_ticket(requester=busy)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_create(
            name="News", template=TemplateFactory(category="announcement"), segment=SegmentFactory()
        )
        campaign_schedule(campaign=campaign)
        incident = incident_declare(title="Down", message="Sorry.", products=[product])
    held = Delivery.objects.get(source=campaign.source, customer=busy)
    campaign.refresh_from_db()
    until = campaign.started_at + dt.timedelta(days=14)
    assert (held.status, held.next_attempt_at) == ("held", until)
    assert held.suppressed_reason == (
        f"open ticket: held, sent once the customer's open tickets are solved (until {until:%Y-%m-%d %H:%M} UTC)"
    )
    assert Delivery.objects.get(source=campaign.source, customer=free).status == "sent"
    assert Delivery.objects.get(source=f"incident:{incident.pk}", customer=busy).status == "sent"


def _announce(segment=None, **kw):
    campaign = campaign_create(
        name="News", template=TemplateFactory(category="announcement"), segment=segment or SegmentFactory(), **kw
    )
    return campaign_schedule(campaign=campaign)


def test_a_held_announcement_goes_once_the_customers_last_open_ticket_is_solved(django_capture_on_commit_callbacks):
    agent = AgentFactory()
    busy = CustomerFactory()
    first, second = make_ticket(requester=busy), make_ticket(requester=busy)
    with django_capture_on_commit_callbacks(execute=True):
        campaign = _announce()
    row = Delivery.objects.get(source=campaign.source, customer=busy)
    assert row.status == "held"
    mail.outbox.clear()
    ticket_solve(ticket=first, actor=agent)
    with django_capture_on_commit_callbacks(execute=True):
        assert held_deliveries_release() == {"released": 0, "expired": 0}  # one ticket still open
    ticket_solve(ticket=second, actor=agent)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert held_deliveries_release() == {"released": 1, "expired": 0}
        assert held_deliveries_release() == {"released": 0, "expired": 0}  # twice: sent once
    row.refresh_from_db()
    assert (row.status, row.suppressed_reason) == ("sent", "")
    assert [m.to[0] for m in mail.outbox] == [busy.email]


def test_a_hold_that_outlives_the_campaigns_validity_is_skipped_with_a_reason(django_capture_on_commit_callbacks):
    busy = CustomerFactory()
    ticket = make_ticket(requester=busy)
    with django_capture_on_commit_callbacks(execute=True):
        campaign = _announce(hold_days=2)
    ticket_solve(ticket=ticket, actor=AgentFactory())
    later = timezone.now() + dt.timedelta(days=2, minutes=1)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert held_deliveries_release(now=later) == {"released": 0, "expired": 1}
    row = Delivery.objects.get(source=campaign.source)
    assert (row.status, row.suppressed_reason) == (
        "suppressed",
        "open ticket: not sent, a ticket was still open when the message expired",
    )
    assert mail.outbox == []


def test_the_release_job_is_set_based(django_capture_on_commit_callbacks, django_assert_num_queries):
    customers = [CustomerFactory() for _ in range(5)]
    tickets = [make_ticket(requester=c) for c in customers]
    with django_capture_on_commit_callbacks(execute=True):
        _announce()
    agent = AgentFactory()
    for ticket in tickets[:4]:
        ticket_solve(ticket=ticket, actor=agent)
    # expire + select + lock + update, whatever the number of rows (savepoints of the atomic block aside)
    with django_assert_num_queries(6):
        assert held_deliveries_release()["released"] == 4


def test_cancelling_a_campaign_drops_its_held_messages(django_capture_on_commit_callbacks):
    busy = CustomerFactory()
    make_ticket(requester=busy)
    with django_capture_on_commit_callbacks(execute=True):
        campaign = _announce(segment=SegmentFactory(open_tickets="yes"))
    campaign_cancel(campaign=campaign)
    row = Delivery.objects.get(source=campaign.source)
    assert (row.status, row.suppressed_reason) == ("suppressed", "campaign cancelled")


def test_outage_notices_and_service_mail_are_never_held():
    from customers.services import DeliveryDraft, deliveries_plan

    customer = CustomerFactory()
    drafts = [
        DeliveryDraft(key=f"k{category}", category=category, subject="s", body="b", customer=customer,
                      hold_reason="open ticket", hold_until=timezone.now() + dt.timedelta(days=1))
        for category in ("outage", "service", "announcement")
    ]  # fmt: skip
    deliveries_plan(drafts=drafts)
    assert dict(Delivery.objects.values_list("category", "status")) == {
        "outage": "queued",
        "service": "queued",
        "announcement": "held",
    }


def test_a_segment_can_select_customers_with_or_without_open_tickets():
    from outreach.selectors import segment_customers

    busy, free = CustomerFactory(), CustomerFactory()
    make_ticket(requester=busy)
    assert list(segment_customers(segment=SegmentFactory(open_tickets="yes"))) == [busy]
    assert list(segment_customers(segment=SegmentFactory(open_tickets="no"))) == [free]


@pytest.fixture
def outage(django_capture_on_commit_callbacks):
    product = ProductFactory()
    org = OrganizationFactory()
    org.products.add(product)
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_declare(
            title="Exports fail",
            message="We are on it.",
            products=[product],
            started_at=timezone.now() - dt.timedelta(minutes=5),
        )
    mail.outbox.clear()
    return {"incident": incident, "org": org}


def test_a_ticket_from_an_affected_customer_is_linked_and_answered_automatically(
    outage, django_capture_on_commit_callbacks
):
    affected = CustomerFactory(organization=outage["org"])
    ticket = make_ticket(requester=affected, subject="Export broken")
    make_ticket(requester=CustomerFactory())  # not affected
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert incidents_link_new_tickets() == 1
        assert incidents_link_new_tickets() == 0  # twice: nothing more
    link = IncidentTicket.objects.get()
    assert (link.ticket_id, link.automatic) == (ticket.pk, True)
    reply = ticket.messages.order_by("-id").first()
    assert "Exports fail" in reply.body
    assert reply.by_agent
    assert not reply.is_internal
    assert [m.to[0] for m in mail.outbox] == [affected.email]
    assert "We are on it." in mail.outbox[0].body


def test_the_auto_reply_is_a_system_reply_through_the_ticket_services(outage, django_capture_on_commit_callbacks):
    ticket = make_ticket(requester=CustomerFactory(organization=outage["org"]), subject="Export broken")
    version = ticket.version
    with django_capture_on_commit_callbacks(execute=True):
        incidents_link_new_tickets()
    ticket.refresh_from_db()
    reply = ticket.messages.order_by("-id").first()
    event = ticket.events.get(kind="replied", message=reply)
    assert event.actor is None  # the helpdesk itself
    assert reply.author_user is None
    assert ticket.version > version
    # it waits for the incident, not for the customer; the first reply is given
    assert ticket.status == "on_hold"
    assert ticket.first_agent_reply_at == reply.created_at
    assert ticket.first_reply_due_at is None
    assert ticket.assignee is None  # no agent took it
    assert ticket.events.filter(kind="changed", field="status", new_value="on_hold").exists()


@pytest.fixture
def earlier(outage):
    incident = outage["incident"]
    affected = CustomerFactory(organization=outage["org"])
    before = make_ticket(requester=affected, subject="Exports slow since this morning")
    long_ago = make_ticket(requester=affected, subject="Old")
    solved = make_ticket(requester=affected, subject="Solved")
    ticket_solve(ticket=solved, actor=AgentFactory())
    stranger = make_ticket(requester=CustomerFactory(), subject="Unrelated")
    Ticket.objects.filter(pk__in=[before.pk, solved.pk, stranger.pk]).update(
        created_at=incident.started_at - dt.timedelta(hours=2)
    )
    Ticket.objects.filter(pk=long_ago.pk).update(created_at=incident.started_at - dt.timedelta(days=3))
    mail.outbox.clear()
    return {"incident": incident, "before": before, "affected": affected}


def test_a_manager_links_and_answers_the_tickets_opened_before_the_declaration_in_one_action(
    earlier, manager_client, django_capture_on_commit_callbacks
):
    incident = earlier["incident"]
    page = manager_client.get(incident.get_absolute_url()).content.decode()
    assert "Link and answer 1 earlier ticket" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(f"/agent/outreach/incidents/{incident.pk}/link-earlier/")
    assert response.status_code == 302
    link = IncidentTicket.objects.get()
    assert (link.ticket_id, link.automatic) == (earlier["before"].pk, False)
    assert link.linked_by is not None
    ticket = Ticket.objects.get(pk=earlier["before"].pk)
    assert ticket.status == "on_hold"
    assert [m.to[0] for m in mail.outbox] == [earlier["affected"].email]
    # again: nothing left, nothing sent twice
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(f"/agent/outreach/incidents/{incident.pk}/link-earlier/")
    assert IncidentTicket.objects.count() == 1
    assert len(mail.outbox) == 1
    assert 'id="link-earlier"' not in manager_client.get(incident.get_absolute_url()).content.decode()


def test_an_agent_without_the_capability_cannot_link_earlier_tickets(earlier, agent_client):
    incident = earlier["incident"]
    page = agent_client.get(incident.get_absolute_url()).content.decode()
    assert 'id="link-earlier"' not in page
    assert "a manager or the on-call agent links and answers them" in page
    assert agent_client.post(f"/agent/outreach/incidents/{incident.pk}/link-earlier/").status_code == 403
    assert not IncidentTicket.objects.exists()
    with pytest.raises(ApplicationError):
        incident_link_earlier_tickets(incident=incident, actor=AgentFactory())
    assert not IncidentTicket.objects.exists()


def test_agents_link_by_hand_and_solve_every_linked_ticket_with_one_message(outage, django_capture_on_commit_callbacks):
    agent = AgentFactory()
    tickets = [make_ticket(requester=CustomerFactory()) for _ in range(2)]
    for ticket in tickets:
        incident_link_ticket(incident=outage["incident"], ticket_number=ticket.number, actor=agent)
    with pytest.raises(ApplicationError):
        incident_link_ticket(incident=outage["incident"], ticket_number=tickets[0].number, actor=agent)
    with pytest.raises(ApplicationError):
        incident_link_ticket(incident=outage["incident"], ticket_number=999999, actor=agent)
    with django_capture_on_commit_callbacks(execute=True):
        solved = incident_solve_linked_tickets(incident=outage["incident"], message="Fixed now.", actor=agent)
    assert solved == 2
    assert set(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("status", flat=True)) == {"solved"}


@pytest.fixture
def solved_ticket():
    agent = AgentFactory()
    ticket = make_ticket(requester=CustomerFactory(email="req@client.example"), subject="Printer on fire")
    ticket_reply_and_solve = _solve(ticket, agent)
    mail.outbox.clear()
    return ticket_reply_and_solve, agent


def test_a_follow_up_goes_once_after_the_delay_even_if_solved_twice(solved_ticket, django_capture_on_commit_callbacks):
    ticket, agent = solved_ticket
    with django_capture_on_commit_callbacks(execute=True):
        assert followups_run()["planned"] == 0  # too early
        later = ticket.solved_at + dt.timedelta(hours=24, minutes=1)
        assert followups_run(now=later)["planned"] == 1
        assert followups_run(now=later)["planned"] == 0
    assert [m.to[0] for m in mail.outbox] == ["req@client.example"]
    assert mail.outbox[0].subject == f"How did we do with {ticket.reference}?"
    assert "/help/survey/" in mail.outbox[0].body
    # reopened and solved again: still one follow-up
    from tickets.services import ticket_customer_reply

    ticket_customer_reply(ticket=ticket, body="Again!")
    ticket = _solve(ticket, agent)
    with django_capture_on_commit_callbacks(execute=True):
        followups_run(now=ticket.solved_at + dt.timedelta(hours=25))
    assert FollowUp.objects.count() == 1
    assert len([m for m in mail.outbox if "How did we do" in m.subject]) == 1


def test_a_bad_rating_reopens_the_ticket_with_the_comment(solved_ticket, client):
    ticket, _ = solved_ticket
    followups_run(now=ticket.solved_at + dt.timedelta(hours=25))
    follow_up = FollowUp.objects.get()
    url = f"/help/survey/{survey_token(follow_up.pk)}/"
    page = client.get(url + "?rating=bad")
    assert page.status_code == 200
    assert 'value="bad" required id="id_rating_1" checked' in page.content.decode()
    response = client.post(url, {"rating": "bad", "comment": "Still <b>burning</b>"})
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == "open"
    last = ticket.messages.filter(is_internal=False).order_by("-id").first()
    assert last.body == "Still <b>burning</b>"
    assert not last.by_agent
    assert "<b>" not in last.body_html
    follow_up.refresh_from_db()
    assert (follow_up.rating, follow_up.reopened) == ("bad", True)
    assert ticket.satisfaction_rating.score == "bad"
    assert ticket.events.filter(kind="rated").count() == 1
    # answering again changes nothing
    again = client.post(url, {"rating": "good"})
    assert again.status_code == 400
    follow_up.refresh_from_db()
    assert follow_up.rating == "bad"


def test_still_not_fixed_reopens_even_with_a_good_rating(solved_ticket):
    ticket, _ = solved_ticket
    followups_run(now=ticket.solved_at + dt.timedelta(hours=25))
    survey_answer(follow_up=FollowUp.objects.get(), rating="good", still_broken=True)
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_a_good_rating_keeps_the_ticket_solved(solved_ticket):
    ticket, _ = solved_ticket
    followups_run(now=ticket.solved_at + dt.timedelta(hours=25))
    survey_answer(follow_up=FollowUp.objects.get(), rating="good", comment="Thanks")
    ticket.refresh_from_db()
    assert ticket.status == "solved"


def test_a_tampered_survey_link_is_a_404(solved_ticket, client):
    ticket, _ = solved_ticket
    followups_run(now=ticket.solved_at + dt.timedelta(hours=25))
    token = survey_token(FollowUp.objects.get().pk)
    assert client.post(f"/help/survey/{token[:-1]}x/", {"rating": "bad"}).status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == "solved"


def test_a_requester_rates_a_solved_request_from_my_requests(customer_client, customer_user):
    from django.urls import reverse

    from outreach.models import FollowUp
    from tests.tickets.factories import QueueFactory, make_ticket
    from tickets.services.requests import ticket_customer_solve

    ticket = make_ticket(queue=QueueFactory(), requester=customer_user.customer)
    assert customer_client.get(reverse("help-request-rate", args=[ticket.pk])).status_code == 302
    assert not FollowUp.objects.exists()  # not solved yet: nothing to rate
    ticket_customer_solve(ticket=ticket, customer=customer_user.customer)
    page = customer_client.get(reverse("help-request-detail", args=[ticket.pk])).content.decode()
    assert "Rate our support" in page
    response = customer_client.get(reverse("help-request-rate", args=[ticket.pk]))
    assert response.status_code == 302
    survey = customer_client.post(response["Location"], {"rating": "good", "comment": "Quick and kind"})
    assert survey.status_code == 200
    follow_up = FollowUp.objects.get(ticket=ticket)
    assert (follow_up.rating, follow_up.comment) == ("good", "Quick and kind")


def test_another_customer_cannot_rate_my_request(client, customer_user):
    from django.urls import reverse

    from tests.factories import CustomerUserFactory
    from tests.tickets.factories import QueueFactory, make_ticket

    ticket = make_ticket(queue=QueueFactory(), requester=customer_user.customer)
    client.force_login(CustomerUserFactory())
    assert client.get(reverse("help-request-rate", args=[ticket.pk])).status_code == 404
