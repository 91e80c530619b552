"""What an agent changes about their own queue page: renaming and deleting saved views, being available or away."""

import pytest
from django.urls import reverse

from tests.factories import AgentFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, SavedViewFactory, make_ticket
from tickets.models import Queue, QueueMembership, SavedView

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(agent):
    queue = QueueFactory(name="Support", slug="support", assignment_mode=Queue.AssignmentMode.ROUND_ROBIN)
    QueueMembershipFactory(queue=queue, agent=agent)
    return queue


def _htmx(htmx_headers, current_url="http://testserver/agent/?view=mine"):
    return {**htmx_headers, "HX-Current-URL": current_url}


# --- saved views -----------------------------------------------------------------------------------


def test_the_queue_page_offers_rename_and_delete_for_my_views_only(agent_client, agent, queue):
    mine = SavedViewFactory(owner=agent, name="My urgent")
    theirs = SavedViewFactory(owner=AgentFactory(), name="Team backlog", is_shared=True)

    body = agent_client.get(reverse("agent-home")).content.decode()

    assert reverse("agent-saved-view-rename", args=[mine.pk]) in body
    assert reverse("agent-saved-view-delete", args=[mine.pk]) in body
    assert "Team backlog" in body  # shared with me: listed, not mine to edit
    assert reverse("agent-saved-view-rename", args=[theirs.pk]) not in body


def test_renaming_a_view_without_htmx_redirects_to_it(agent_client, agent, queue):
    view = SavedViewFactory(owner=agent, name="Old name", filters={"priority": ["urgent"]})

    response = agent_client.post(reverse("agent-saved-view-rename", args=[view.pk]), {"name": "  Urgent only "})

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('agent-home')}?saved={view.pk}"
    view.refresh_from_db()
    assert (view.name, view.filters) == ("Urgent only", {"priority": ["urgent"]})


def test_renaming_another_view_with_htmx_swaps_the_list_in_place(agent_client, agent, queue, htmx_headers):
    view = SavedViewFactory(owner=agent, name="Old name")

    response = agent_client.post(
        reverse("agent-saved-view-rename", args=[view.pk]), {"name": "New name"}, headers=_htmx(htmx_headers)
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<ul id="saved-views">')
    assert "<html" not in body
    assert ">New name</a>" in body
    assert SavedView.objects.get(pk=view.pk).name == "New name"


def test_renaming_the_view_on_screen_with_htmx_reloads_its_page(agent_client, agent, queue, htmx_headers):
    view = SavedViewFactory(owner=agent, name="Old name")
    on_screen = f"http://testserver/agent/?saved={view.pk}"

    response = agent_client.post(
        reverse("agent-saved-view-rename", args=[view.pk]), {"name": "New name"}, headers=_htmx(htmx_headers, on_screen)
    )

    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{reverse('agent-home')}?saved={view.pk}"  # its heading names it


def test_a_name_i_already_use_is_an_error_under_that_view_and_nothing_changes(agent_client, agent, queue, htmx_headers):
    SavedViewFactory(owner=agent, name="Urgent")
    view = SavedViewFactory(owner=agent, name="Billing")

    response = agent_client.post(
        reverse("agent-saved-view-rename", args=[view.pk]), {"name": "Urgent"}, headers=_htmx(htmx_headers)
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "You already have a view named &#x27;Urgent&#x27;." in body
    assert '<details class="saved-view-edit" open>' in body
    assert SavedView.objects.get(pk=view.pk).name == "Billing"


def test_a_blank_name_is_refused_without_htmx_with_a_message(agent_client, agent, queue):
    view = SavedViewFactory(owner=agent, name="Billing")

    response = agent_client.post(reverse("agent-saved-view-rename", args=[view.pk]), {"name": "   "}, follow=True)

    assert "This field is required." in response.content.decode()
    assert SavedView.objects.get(pk=view.pk).name == "Billing"


def test_deleting_a_view_with_htmx_removes_it_from_the_list(agent_client, agent, queue, htmx_headers):
    keep = SavedViewFactory(owner=agent, name="Keep me")
    gone = SavedViewFactory(owner=agent, name="Delete me")

    response = agent_client.post(reverse("agent-saved-view-delete", args=[gone.pk]), headers=_htmx(htmx_headers))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Keep me" in body
    assert "Delete me" not in body
    assert list(SavedView.objects.values_list("pk", flat=True)) == [keep.pk]


def test_deleting_the_view_on_screen_goes_back_to_the_queue(agent_client, agent, queue, htmx_headers):
    view = SavedViewFactory(owner=agent)

    page = agent_client.post(reverse("agent-saved-view-delete", args=[view.pk]))
    assert (page.status_code, page["Location"]) == (302, reverse("agent-home"))
    assert not SavedView.objects.exists()

    view = SavedViewFactory(owner=agent)
    on_screen = f"http://testserver/agent/?saved={view.pk}"
    response = agent_client.post(
        reverse("agent-saved-view-delete", args=[view.pk]), headers=_htmx(htmx_headers, on_screen)
    )
    assert (response.status_code, response["HX-Redirect"]) == (204, reverse("agent-home"))
    assert not SavedView.objects.exists()


def test_another_agents_private_view_is_a_404_and_a_shared_one_is_theirs_to_change(agent_client, queue, htmx_headers):
    other = AgentFactory()
    private = SavedViewFactory(owner=other, name="Private")
    shared = SavedViewFactory(owner=other, name="Shared", is_shared=True)

    for url in ("agent-saved-view-rename", "agent-saved-view-delete"):
        assert agent_client.post(reverse(url, args=[private.pk]), {"name": "Mine now"}).status_code == 404
    renamed = agent_client.post(
        reverse("agent-saved-view-rename", args=[shared.pk]), {"name": "Mine now"}, headers=_htmx(htmx_headers)
    )
    deleted = agent_client.post(reverse("agent-saved-view-delete", args=[shared.pk]), headers=_htmx(htmx_headers))

    assert "Only the owner can change a view." in renamed.content.decode()
    assert "Only the owner can delete a view." in deleted.content.decode()
    assert sorted(SavedView.objects.values_list("name", flat=True)) == ["Private", "Shared"]


def test_customers_and_anonymous_visitors_cannot_reach_the_saved_view_pages(client, customer_client, agent):
    view = SavedViewFactory(owner=agent, name="Mine")

    assert client.post(reverse("agent-saved-view-delete", args=[view.pk])).status_code == 302  # to sign in
    assert customer_client.post(reverse("agent-saved-view-delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.get(pk=view.pk).name == "Mine"


# --- available / away ------------------------------------------------------------------------------


def test_an_agent_marks_themself_away_and_round_robin_skips_them_until_they_are_back(
    agent_client, agent, queue, htmx_headers
):
    colleague = AgentFactory()
    QueueMembershipFactory(queue=queue, agent=colleague)
    other_queue = QueueFactory(slug="billing")
    QueueMembershipFactory(queue=other_queue, agent=agent)
    assert (
        "Available: new tickets in your 2 queues can be assigned to you."
        in agent_client.get(reverse("agent-home")).content.decode()
    )

    # when the agent goes away (htmx: the switch is swapped in place)
    response = agent_client.post(reverse("agent-availability"), {"available": "off"}, headers=htmx_headers)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="availability"')
    assert "Away: round-robin assignment skips you." in body
    assert "I'm available" in body
    assert set(QueueMembership.objects.filter(agent=agent).values_list("is_available", flat=True)) == {False}
    # then new tickets go to the colleague only
    assignees = {make_ticket(queue=queue, subject=f"Question {n}").assignee_id for n in range(3)}
    assert assignees == {colleague.pk}

    # when they are back (no JS: the page again, with a message)
    page = agent_client.post(reverse("agent-availability"), {"available": "on"}, follow=True)

    assert "You are available: new tickets reach you." in page.content.decode()
    assert "Go away" in page.content.decode()
    assignees = {make_ticket(queue=queue, subject=f"Later {n}").assignee_id for n in range(2)}
    assert assignees == {agent.pk, colleague.pk}


def test_a_bad_availability_value_is_a_400_and_changes_nothing(agent_client, agent, queue):
    response = agent_client.post(reverse("agent-availability"), {"available": "maybe"})

    assert response.status_code == 400
    assert QueueMembership.objects.get(agent=agent).is_available is True


def test_an_agent_in_no_queue_sees_no_switch_and_others_cannot_use_it(agent_client, client, customer_client):
    assert "Assignment</h2>" not in agent_client.get(reverse("agent-home")).content.decode()
    assert client.post(reverse("agent-availability"), {"available": "off"}).status_code == 302
    assert customer_client.post(reverse("agent-availability"), {"available": "off"}).status_code == 404


def test_partly_available_shows_both_switches(agent_client, agent, queue):
    QueueMembershipFactory(queue=QueueFactory(slug="billing"), agent=agent, is_available=False)

    body = agent_client.get(reverse("agent-home")).content.decode()

    assert "Available in 1 of your 2 queues." in body
    assert "I'm available" in body
    assert "Go away" in body
