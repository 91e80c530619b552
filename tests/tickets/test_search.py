"""The agent's search box: subject, #number or requester e-mail, and matches outside the current view."""

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets import selectors
from tickets.models import Status, Ticket
from tickets.selectors import ticket_list, ticket_search_elsewhere
from tickets.services import ticket_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(agent):
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    return queue


def subjects(page):
    return sorted(t.subject for t in page.items)


def test_the_requester_e_mail_matches_whole_or_by_its_start(agent, queue):
    ann = CustomerFactory(email="ann.lee@acme.example")
    make_ticket(queue=queue, requester=ann, subject="Export fails")
    make_ticket(queue=queue, requester=CustomerFactory(email="bob@acme.example"), subject="Login loops")

    assert subjects(ticket_list(viewer=agent, view="all_open", filters={"q": "ann.lee@acme.example"})) == [
        "Export fails"
    ]
    assert subjects(ticket_list(viewer=agent, view="all_open", filters={"q": "ANN.LEE@"})) == ["Export fails"]
    assert subjects(ticket_list(viewer=agent, view="all_open", filters={"q": "acme.example"})) == []  # a prefix
    assert subjects(ticket_list(viewer=agent, view="all_open", filters={"q": "an"})) == []  # too short to mean anyone


def test_the_requester_search_keeps_to_what_the_agent_may_see(agent, queue):
    ann = CustomerFactory(email="ann@acme.example")
    make_ticket(queue=queue, requester=ann, subject="Mine to see")
    make_ticket(queue=QueueFactory(), requester=ann, subject="Another team's")

    assert subjects(ticket_list(viewer=agent, filters={"q": "ann@acme.example"})) == ["Mine to see"]


def test_a_number_typed_in_my_tickets_is_offered_from_the_other_views(agent_client, agent, queue):
    # given #N is unassigned (not in "My open tickets", the default view) and another is solved
    colleague_ticket = make_ticket(queue=queue, subject="Printer on fire")
    solved = make_ticket(queue=queue, subject="Printer jams", requester=CustomerFactory())
    ticket_update(ticket=solved, actor=agent, status=Status.SOLVED)

    # when the agent searches from the default view
    response = agent_client.get(reverse("agent-home"), {"q": colleague_ticket.reference})

    # then the view has none, and the match elsewhere is linked, with a way to search everything
    page = response.content.decode()
    assert response.context["page"].items == []
    assert response.context["view"] == "mine"
    assert "1 more in other views:" in page
    assert f'href="/agent/tickets/{colleague_ticket.pk}/">{colleague_ticket.reference} Printer on fire</a>' in page
    search_all = f'href="/agent/?view=&amp;q=%23{colleague_ticket.number}"'
    assert search_all in page

    everything = agent_client.get(reverse("agent-home"), {"view": "", "q": "printer"})
    assert subjects(everything.context["page"]) == ["Printer jams", "Printer on fire"]
    assert everything.context["elsewhere"] is None


def test_matches_in_the_view_are_not_counted_again_and_invisible_ones_never(agent, queue):
    mine = make_ticket(queue=queue, subject="Refund please")
    ticket_update(ticket=mine, actor=agent, assignee=agent)
    make_ticket(queue=queue, subject="Refund twice")  # unassigned: another view
    make_ticket(queue=QueueFactory(), subject="Refund elsewhere")  # a queue the agent is not in

    elsewhere = ticket_search_elsewhere(viewer=agent, view="mine", text="refund")

    assert [t.subject for t in elsewhere.tickets] == ["Refund twice"]
    assert (elsewhere.count, elsewhere.more) == (1, False)
    assert ticket_search_elsewhere(viewer=agent, view="all_open", text="refund").count == 0
    assert ticket_search_elsewhere(viewer=agent, view=None, text="refund") is None


def test_the_count_elsewhere_is_bounded(agent, queue, monkeypatch):
    monkeypatch.setattr(selectors, "ELSEWHERE_BOUND", 3)
    for n in range(5):
        make_ticket(queue=queue, subject=f"Invoice {n}")

    elsewhere = ticket_search_elsewhere(viewer=agent, view="mine", text="invoice", show=2)

    assert (len(elsewhere.tickets), elsewhere.count, elsewhere.more) == (2, 3, True)


def test_the_bounded_count_reads_100_plus(agent_client, queue, monkeypatch):
    monkeypatch.setattr(selectors, "ELSEWHERE_BOUND", 3)
    for n in range(4):
        make_ticket(queue=queue, subject=f"Invoice {n}")

    page = agent_client.get(reverse("agent-home"), {"q": "invoice"}).content.decode()

    assert "3+ more in other views:" in page


def test_a_search_costs_the_same_queries_with_few_or_many_matches(
    agent_client, agent, queue, django_assert_max_num_queries, django_assert_num_queries
):
    ann = CustomerFactory(email="ann@acme.example")
    make_ticket(queue=queue, requester=ann, subject="Invoice wrong")
    query = {"view": "mine", "q": "invoice"}
    agent_client.get(reverse("agent-home"), query)  # warm caches (content types, sessions)
    with django_assert_max_num_queries(14) as few:
        agent_client.get(reverse("agent-home"), query)
    for n in range(20):
        ticket = make_ticket(queue=queue, requester=ann, subject=f"Invoice {n}", tags=["billing"])
        if n % 2:
            ticket_update(ticket=ticket, actor=agent, assignee=agent)
    with django_assert_num_queries(len(few.captured_queries)):
        response = agent_client.get(reverse("agent-home"), query)
    assert len(response.context["page"].items) == 10
    assert response.context["elsewhere"].count == 11


def test_the_api_search_matches_the_requester_too(api_client_for, agent, queue):
    ann = CustomerFactory(email="ann@acme.example")
    ticket = make_ticket(queue=queue, requester=ann, subject="Export fails")

    response = api_client_for(agent).get("/api/v1/tickets/", {"q": "ann@acme"})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [ticket.pk]
    assert Ticket.objects.count() == 1
