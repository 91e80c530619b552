"""TicketFilters: one reading of the queue's filters for the page, the API and saved views."""

import pytest
from django.http import QueryDict
from django.urls import reverse

from tests.factories import CustomerFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, SavedViewFactory, make_ticket
from tickets.filters import TicketFilters, TicketFiltersInvalid
from tickets.models import SavedView
from tickets.services import saved_view_create

EVERY_FIELD = TicketFilters(
    view="all_open",
    status=("new", "open"),
    priority=("high",),
    kind=("incident", "problem"),
    queue=(3, 4),
    assignee="none",
    tag=("billing", "vip"),
    requester=12,
    requester_email="ada@client.example",
    organization=7,
    q="invoice #1042",
    sort="sla",
)


@pytest.mark.parametrize(
    "query",
    [
        "view=all_open&status=new&status=open&priority=high&kind=incident&kind=problem&queue=3&queue=4"
        "&assignee=none&tag=billing&tag=vip&requester=12&requester_email=ada%40client.example&organization=7"
        "&q=invoice+%231042&sort=sla",
        "view=mine&assignee=me",
        "view=&assignee=42&sort=priority",
        "view=",
    ],
)
def test_a_query_reads_back_as_the_same_query(query):
    filters = TicketFilters.from_query(QueryDict(query))
    assert filters.to_query() == query
    assert TicketFilters.from_query(QueryDict(filters.to_query())) == filters


@pytest.mark.parametrize("filters", [EVERY_FIELD, TicketFilters(), TicketFilters(view="mine", assignee=5)])
def test_filters_read_back_from_what_a_saved_view_stores(filters):
    stored = filters.to_saved()
    assert TicketFilters.from_saved(stored) == filters
    assert TicketFilters.from_query(filters.to_query_dict()) == filters


def test_what_a_saved_view_stores_is_plain_json_without_the_defaults():
    assert TicketFilters(view="mine", status=("open",), queue=(3,)).to_saved() == {
        "view": "mine",
        "status": ["open"],
        "queue": [3],
    }
    assert TicketFilters().to_saved() == {}


def test_blank_values_mean_any_and_stored_scalars_read_as_one_value():
    assert TicketFilters.from_query(QueryDict("q=&status=&queue=&assignee=&sort=")) == TicketFilters()
    assert TicketFilters.from_saved({"priority": "high", "queue": "3", "q": "  x  "}) == TicketFilters(
        priority=("high",), queue=(3,), q="x"
    )


def test_every_bad_value_is_named_at_once():
    with pytest.raises(TicketFiltersInvalid) as caught:
        TicketFilters.from_query(
            QueryDict("status=done&queue=%C2%B2&assignee=someone&sort=random&view=everything&q=" + "x" * 201)
        )
    assert sorted(caught.value.errors) == ["assignee", "q", "queue", "sort", "status", "view"]
    assert caught.value.errors["status"] == ["'done' is not one of new, open, pending, on_hold, solved, closed."]


def test_a_stored_key_that_is_not_a_filter_is_an_error():
    with pytest.raises(TicketFiltersInvalid) as caught:
        TicketFilters.from_saved({"status": ["open"], "colour": "red"})
    assert caught.value.errors == {"colour": ["Not a filter."]}


# --- through the API, the page and saved views --------------------------------------------------------------


@pytest.fixture
def queue(agent):
    queue = QueueFactory(slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    return queue


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "nonsense"}, "status"),  # was an empty list, unchecked
        ({"kind": "nonsense"}, "kind"),
        ({"priority": "meh"}, "priority"),
        ({"sort": "random"}, "sort"),  # was an ApplicationError without a field
        ({"view": "everything"}, "view"),
        ({"requester": "ada@client.example"}, "requester"),  # an id; the address is requester_email
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field_in_the_api(api_client_for, agent, queue, params, field):
    make_ticket(queue=queue)
    response = api_client_for(agent).get("/api/v1/tickets/", params)
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]


def test_the_api_and_the_page_read_the_same_filters(api_client_for, agent, agent_client, queue):
    ada = CustomerFactory(email="ada@client.example")
    wanted = make_ticket(queue=queue, requester=ada, subject="Ada's", priority="high", tags=["billing"])
    make_ticket(queue=queue, requester=ada, subject="Ada's other", priority="low")
    make_ticket(queue=queue, subject="Someone else's", priority="high", tags=["billing"])
    query = TicketFilters(view="all_open", priority=("high",), tag=("billing",), requester=ada.pk).to_query()
    api = api_client_for(agent).get(f"/api/v1/tickets/?{query}").json()
    page = agent_client.get(f"{reverse('agent-home')}?{query}")
    assert [t["id"] for t in api["results"]] == [wanted.pk]
    assert [t.pk for t in page.context["page"].items] == [wanted.pk]
    assert page.context["shown"]["requester_email"] == "ada@client.example"  # the box shows the id's address


def test_a_bad_filter_on_the_page_keeps_what_was_typed_and_names_the_field(agent_client, queue):
    make_ticket(queue=queue, subject="Cannot log in")
    response = agent_client.get(
        reverse("agent-home"), {"view": "all_open", "q": "refund", "tag": "vip", "organization": "99999999999999999999"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert '<code class="invalid-parameter">organization</code>' in body
    assert 'name="q" value="refund"' in body
    assert 'name="tag" value="vip"' in body
    assert response.context["page"].items == []  # not the whole queue with the filter dropped
    assert "Save view" not in body


def test_a_bad_filter_typed_into_the_htmx_queue_shows_in_the_rows(agent_client, queue, htmx_headers):
    response = agent_client.get(
        reverse("agent-home"),
        {"view": "all_open", "kind": "nonsense"},
        headers={**htmx_headers, "HX-Target": "queue-results"},
    )
    assert response.status_code == 200  # htmx swaps no 4xx
    assert '<code class="invalid-parameter">kind</code>' in response.content.decode()


def test_the_page_saves_what_it_shows_and_the_saved_view_shows_it_again(agent_client, agent, queue):
    ada = CustomerFactory(email="ada@client.example")
    make_ticket(queue=queue, requester=ada, subject="Ada's", priority="high")
    make_ticket(queue=queue, requester=ada, subject="Ada's low", priority="low")
    page = agent_client.get(
        reverse("agent-home"), {"view": "all_open", "priority": "high", "requester_email": "ADA@client.example"}
    )
    response = agent_client.post(
        reverse("agent-saved-view-create"), {"name": "Ada high", "filters": page.context["filters_json"]}
    )
    saved = SavedView.objects.get(name="Ada high")
    assert saved.filters == {"view": "all_open", "priority": ["high"], "requester_email": "ada@client.example"}
    again = agent_client.get(response["Location"])
    assert [t.subject for t in again.context["page"].items] == ["Ada's"]
    assert again.context["shown"]["priority"] == ["high"]


def test_a_saved_view_with_bad_filters_is_refused_and_nothing_saved(agent):
    from core.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as caught:
        saved_view_create(owner=agent, name="Broken", filters={"status": ["done"], "queue": "x"})
    assert sorted(caught.value.extra["fields"]) == ["queue", "status"]
    assert not SavedView.objects.filter(name="Broken").exists()


def test_a_saved_view_stored_with_old_shapes_still_reads(agent, queue):
    from tickets.selectors import ticket_list_saved

    high = make_ticket(queue=queue, priority="high")
    make_ticket(queue=queue)
    saved = SavedViewFactory(owner=agent, filters={"view": "all_open", "priority": "high", "queue": queue.pk})
    assert [t.pk for t in ticket_list_saved(viewer=agent, saved_view=saved).items] == [high.pk]
