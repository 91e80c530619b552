import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404

from core.exceptions import ApplicationError
from tests.factories import AgentFactory, CustomerFactory, CustomerUserFactory, OrganizationFactory
from tests.tickets.factories import (
    QueueFactory,
    QueueMembershipFactory,
    SavedViewFactory,
    SLAPolicyFactory,
    SLATargetFactory,
    make_ticket,
)
from tickets.models import Kind, Ticket
from tickets.selectors import (
    attachment_get_for,
    saved_views_for,
    ticket_get_for,
    ticket_list,
    ticket_list_saved,
    ticket_requester_other_tickets,
    ticket_thread,
    ticket_timeline,
    tickets_visible_to,
)
from tickets.services import ticket_reply, ticket_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(agent):
    queue = QueueFactory()
    QueueMembershipFactory(queue=queue, agent=agent)
    return queue


# --- visibility ------------------------------------------------------------------------------------


def test_an_agent_sees_their_queues_and_their_assigned_tickets_only(agent, queue):
    mine = make_ticket(queue=queue)
    elsewhere = make_ticket()
    assigned = make_ticket()
    ticket_update(ticket=assigned, actor=AgentFactory(), assignee=agent)
    assert set(tickets_visible_to(agent)) == {mine, assigned}
    with pytest.raises(Http404):
        ticket_get_for(viewer=agent, ticket_id=elsewhere.pk)


def test_a_manager_sees_every_ticket(manager):
    tickets = {make_ticket(), make_ticket()}
    assert set(tickets_visible_to(manager)) == tickets


def test_a_customer_sees_their_own_tickets_and_another_customer_gets_404(customer_user):
    own = make_ticket(requester=customer_user.customer)
    other = make_ticket()
    assert list(tickets_visible_to(customer_user)) == [own]
    assert ticket_get_for(viewer=customer_user, ticket_id=own.pk) == own
    with pytest.raises(Http404):
        ticket_get_for(viewer=customer_user, ticket_id=other.pk)
    stranger = CustomerUserFactory()
    with pytest.raises(Http404):
        ticket_get_for(viewer=stranger, ticket_id=own.pk)


def test_shared_organizations_see_each_others_tickets():
    org = OrganizationFactory(shared_tickets=True)
    alice, bob = CustomerUserFactory(customer__organization=org), CustomerUserFactory(customer__organization=org)
    ticket = make_ticket(requester=alice.customer)
    assert ticket_get_for(viewer=bob, ticket_id=ticket.pk) == ticket
    org.shared_tickets = False
    org.save()
    bob = type(bob).objects.get(pk=bob.pk)  # a new request
    with pytest.raises(Http404):
        ticket_get_for(viewer=bob, ticket_id=ticket.pk)


def test_anonymous_sees_nothing():
    ticket = make_ticket()
    assert list(tickets_visible_to(AnonymousUser())) == []
    with pytest.raises(Http404):
        ticket_get_for(viewer=AnonymousUser(), ticket_id=ticket.pk)


def test_a_customer_never_sees_internal_notes_nor_the_audit_trail(agent, customer_user):
    ticket = make_ticket(requester=customer_user.customer)
    ticket_reply(ticket=ticket, author=agent, body="internal: check billing", internal=True)
    ticket_reply(ticket=ticket, author=agent, body="We are on it")
    assert [m.body for m in ticket_thread(ticket=ticket, viewer=customer_user)] == [
        "It says my password is wrong.",
        "We are on it",
    ]
    assert len(ticket_thread(ticket=ticket, viewer=agent)) == 3
    assert list(ticket_timeline(ticket=ticket, viewer=customer_user)) == []
    assert ticket_timeline(ticket=ticket, viewer=agent).count() >= 4


def test_attachments_follow_ticket_and_note_visibility(agent, queue, customer_user):
    ticket = make_ticket(queue=queue, requester=customer_user.customer)
    png = SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 8, content_type="image/png")
    note = ticket_reply(ticket=ticket, author=agent, body="note", internal=True, attachments=[png])
    attachment = note.attachments.get()
    with pytest.raises(Http404):
        attachment_get_for(viewer=customer_user, attachment_id=attachment.pk)
    with pytest.raises(Http404):
        attachment_get_for(viewer=AgentFactory(), attachment_id=attachment.pk)  # outside the queue
    assert attachment_get_for(viewer=agent, attachment_id=attachment.pk) == attachment


# --- the queue list ----------------------------------------------------------------------------------


def test_keyset_pagination_walks_every_row_once(agent, queue):
    tickets = [make_ticket(queue=queue, subject=f"T{i}") for i in range(7)]
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[:4]]).update(updated_at=tickets[0].updated_at)  # ties
    seen, cursor = [], None
    while True:
        page = ticket_list(viewer=agent, view="all_open", cursor=cursor, size=3)
        seen += [t.pk for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(t.pk for t in tickets)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("sort", ["updated", "priority", "sla"])
def test_a_search_chooses_its_page_first_and_walks_every_match_in_order(agent, queue, sort, django_assert_num_queries):
    policy = SLAPolicyFactory()
    SLATargetFactory(policy=policy, priority="high", first_reply_minutes=30, resolution_minutes=600)
    matches = [
        make_ticket(queue=queue, subject=f"Invoice {i}", priority=["low", "high"][i % 2], tags=["billing"])
        for i in range(7)
    ]
    make_ticket(queue=queue, subject="Login fails")
    expected = [t.pk for t in ticket_list(viewer=agent, view="all_open", sort=sort, size=50).items if t in matches]
    seen, cursor = [], None
    while True:
        # the requesters whose e-mail starts with the text (one index range scan), the page, the tags
        with django_assert_num_queries(3):
            page = ticket_list(
                viewer=agent, view="all_open", filters={"q": "invoice"}, sort=sort, cursor=cursor, size=3
            )
            [(t.requester.name, t.queue.name, t.assignee, list(t.tags.all())) for t in page.items]
        seen += [t.pk for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    assert len(seen) == 7


def test_the_number_of_queries_does_not_grow_with_rows(agent, queue, django_assert_num_queries):
    for _ in range(3):
        make_ticket(queue=queue, tags=["a", "b"])
    ticket_list(viewer=agent, view="all_open")  # warms the viewer's queue cache
    with django_assert_num_queries(2):  # rows (with requester, organization, queue, assignee) + tags
        page = ticket_list(viewer=agent, view="all_open")
        [(t.requester.name, t.organization.name, t.queue.name, t.assignee, list(t.tags.all())) for t in page.items]
    for _ in range(10):
        make_ticket(queue=queue, tags=["c"])
    with django_assert_num_queries(2):
        page = ticket_list(viewer=agent, view="all_open")
        [(t.requester.name, t.organization.name, t.queue.name, t.assignee, list(t.tags.all())) for t in page.items]
    assert len(page.items) == 13


def test_built_in_views(agent, queue, clock):
    policy = SLAPolicyFactory()
    SLATargetFactory(policy=policy, priority="normal", first_reply_minutes=30, resolution_minutes=600)
    mine = make_ticket(queue=queue)
    ticket_update(ticket=mine, actor=agent, assignee=agent)
    unassigned = make_ticket(queue=queue)
    proactive = make_ticket(queue=queue, kind=Kind.PROACTIVE, actor=agent, internal=True)
    solved = make_ticket(queue=queue)
    ticket_update(ticket=solved, actor=agent, status="solved")

    def ids(view, **kw):
        return {t.pk for t in ticket_list(viewer=agent, view=view, **kw).items}

    assert ids("mine") == {mine.pk}
    assert ids("unassigned") == {unassigned.pk, proactive.pk}
    assert ids("all_open") == {mine.pk, unassigned.pk, proactive.pk}
    assert ids("proactive") == {proactive.pk}
    assert ids("escalated") == {mine.pk, unassigned.pk}  # first reply due in 30 min; the proactive one has none
    with pytest.raises(ApplicationError):
        ticket_list(viewer=agent, view="everything")


def test_filters_free_text_and_changed_since(agent, queue, clock):
    org = OrganizationFactory()
    customer = CustomerFactory(organization=org)
    invoice = make_ticket(
        queue=queue, subject="Invoice is wrong", requester=customer, priority="high", tags=["billing"]
    )
    login = make_ticket(queue=queue, subject="Cannot log in")

    def ids(**filters):
        return {t.pk for t in ticket_list(viewer=agent, filters=filters).items}

    assert ids(q="INVOICE") == {invoice.pk}
    assert ids(q=f"#{login.number}") == {login.pk}
    assert ids(priority="high") == {invoice.pk}
    assert ids(tag="billing") == {invoice.pk}
    assert ids(requester=customer.pk) == {invoice.pk}
    assert ids(organization=org.pk) == {invoice.pk}
    assert ids(assignee="none") == {invoice.pk, login.pk}
    assert ids(status=["new", "open"], queue=queue.pk) == {invoice.pk, login.pk}
    since = clock.advance(minutes=1)
    clock.advance(minutes=1)
    ticket_update(ticket=login, actor=agent, priority="low")
    page = ticket_list(viewer=agent, view="all_open", changed_since=since)
    assert [t.pk for t in page.items] == [login.pk]


def test_sort_by_sla_puts_tickets_without_a_target_last(agent, queue, clock):
    policy = SLAPolicyFactory(priorities=["urgent"])
    SLATargetFactory(policy=policy, priority="urgent", first_reply_minutes=10)
    none = make_ticket(queue=queue)
    later = make_ticket(queue=queue, priority="urgent")
    clock.advance(minutes=-5)
    sooner = make_ticket(queue=queue, priority="urgent")
    page = ticket_list(viewer=agent, view="all_open", sort="sla", size=2)
    assert [t.pk for t in page.items] == [sooner.pk, later.pk]
    assert page.items[0].sla_seconds_left(clock.now) == 10 * 60
    rest = ticket_list(viewer=agent, view="all_open", sort="sla", cursor=page.next_cursor)
    assert [t.pk for t in rest.items] == [none.pk]
    by_priority = ticket_list(viewer=agent, view="all_open", sort="priority")
    assert [t.priority for t in by_priority.items] == ["urgent", "urgent", "normal"]


def test_saved_views_are_private_unless_shared(agent, queue):
    own = SavedViewFactory(owner=agent, filters={"view": "all_open", "priority": "high", "sort": "priority"})
    shared = SavedViewFactory(is_shared=True)
    SavedViewFactory()  # someone else's, private
    assert set(saved_views_for(viewer=agent)) == {own, shared}
    high = make_ticket(queue=queue, priority="high")
    make_ticket(queue=queue)
    assert [t.pk for t in ticket_list_saved(viewer=agent, saved_view=own).items] == [high.pk]


def test_the_requesters_other_tickets(agent, queue):
    customer = CustomerFactory()
    first, second = make_ticket(queue=queue, requester=customer), make_ticket(queue=queue, requester=customer)
    assert list(ticket_requester_other_tickets(ticket=first, viewer=agent)) == [second]
    assert dt.timedelta(0) <= second.created_at - first.created_at
