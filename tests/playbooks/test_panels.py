import datetime as dt

import pytest
from django.utils import timezone

from customers.models import Delivery
from outreach.models import FollowUp, Incident
from playbooks.models import CustomerHealth, PlaybookRun, PlaybookStep, SignalMatch
from playbooks.services import playbook_runs_advance, playbook_runs_start
from tests.factories import CustomerFactory
from tests.playbooks.factories import PlaybookFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def proactive(agent):
    queue = QueueFactory()
    playbook = PlaybookFactory(name="Win back", owner_agent=agent, owner_queue=queue)
    PlaybookStep.objects.create(playbook=playbook, position=1, action="create_ticket")
    customer = CustomerFactory(name="Grace Hopper")
    SignalMatch.objects.create(
        signal=playbook.signal,
        customer=customer,
        organization=customer.organization,
        evidence="login per week: 9, 4, 1, 1 (below 2 for 3 weeks)",
    )
    CustomerHealth.objects.create(customer=customer, score=80)
    playbook_runs_start()
    playbook_runs_advance()
    return PlaybookRun.objects.get().ticket


def test_an_agent_sees_which_playbook_and_evidence_raised_the_ticket(agent_client, proactive):
    page = agent_client.get(proactive.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    top = html.index('id="proactive-evidence"')
    assert top < html.index('id="thread"')
    assert "Raised by the playbook “Win back”" in html
    assert "login per week: 9, 4, 1, 1 (below 2 for 3 weeks)" in html[top : html.index('id="thread"')]


def test_the_side_panel_tells_the_customers_story(agent_client, proactive):
    customer = proactive.requester
    old = make_ticket(requester=customer, queue=proactive.queue, subject="Export is slow")
    FollowUp.objects.create(ticket=old, customer=customer, rating="bad", answered_at=timezone.now())
    incident = Incident.objects.create(title="EU database outage", message="We are on it", regions=["eu-west"])
    Delivery.objects.create(
        idempotency_key="k1", customer=customer, recipient=customer.email, category="reminder", subject="We miss you"
    )
    page = agent_client.get(proactive.get_absolute_url())
    html = page.content.decode()
    story = html[html.index('id="customer-story"') :]
    assert '<span class="health health-good" id="health-score">80</span>' in story
    assert 'id="organization-health">100/100' in story
    assert "login per week: 9, 4, 1, 1" in story
    assert "Win back" in story
    for text in ("Export is slow", "Rated", "EU database outage", "We miss you"):
        assert text in story
    assert incident.title in story


def test_a_plain_ticket_has_no_evidence_block_and_a_healthy_customer(agent, agent_client):
    ticket = make_ticket(
        queue=QueueMembershipFactory(agent=agent).queue,
        requester=CustomerFactory(created_at=timezone.now() - dt.timedelta(days=9)),
    )
    html = agent_client.get(ticket.get_absolute_url()).content.decode()
    assert 'id="proactive-evidence"' not in html
    assert 'id="health-score">100<' in html


def test_the_ticket_page_shows_a_customer_messages_sentiment(agent, agent_client):
    ticket = make_ticket(queue=QueueMembershipFactory(agent=agent).queue, body="This is terrible and I am angry.")
    html = agent_client.get(ticket.get_absolute_url()).content.decode()
    assert 'class="tag sentiment negative"' in html
