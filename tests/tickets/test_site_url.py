"""Links in e-mail are absolute from HELPDESK_SITE_URL, whatever port ``dev.py up`` serves on."""

import re

import pytest
from django.urls import reverse

from customers.models import Delivery
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket

pytestmark = pytest.mark.django_db

SITE = "http://127.0.0.1:8123"  # what dev.py sets for PORT=8123


@pytest.fixture
def queue(agent):
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    return queue


def test_an_article_link_an_agent_inserts_reaches_the_customer_absolute(agent_client, queue, htmx_headers, settings):
    # given a help center served on port 8123
    settings.SITE_URL = SITE
    article = ArticleFactory(title="Exporting your data to CSV")
    ticket = make_ticket(queue=queue, subject="Export fails")

    # when the agent picks the article from the suggestions and sends the reply
    page = agent_client.get(reverse("agent-knowledge-suggest"), {"q": "export"}, headers=htmx_headers)
    insert_url = re.search(r'data-insert-url="([^"]+)"', page.content.decode()).group(1)
    response = agent_client.post(
        reverse("agent-ticket-reply", args=[ticket.pk]),
        {"body": f"Here is how: [{article.title}]({insert_url})", "expected_version": ticket.version},
    )

    # then the e-mail links the article and the help center on that port
    assert response.status_code == 302
    assert insert_url == f"{SITE}/help/articles/{article.slug}/"
    reply = Delivery.objects.get(idempotency_key__startswith=f"ticket:{ticket.pk}:message:")
    assert f"({SITE}/help/articles/{article.slug}/)" in reply.body
    assert f'href="{SITE}/help/articles/{article.slug}/"' in reply.html_body
    assert f"\n{SITE}/help/" in reply.body


def test_no_e_mail_about_a_ticket_carries_port_8000_or_a_relative_link(agent_client, queue, settings):
    settings.SITE_URL = SITE
    ticket = make_ticket(queue=queue, subject="Export fails")
    agent_client.post(
        reverse("agent-ticket-reply", args=[ticket.pk]),
        {"body": "Fixed.", "status": "solved", "expected_version": ticket.version},
    )

    bodies = list(Delivery.objects.filter(source=f"ticket:{ticket.pk}").values_list("body", flat=True))
    assert len(bodies) == 1  # the reply that solves it
    assert all(":8000" not in text for text in bodies)
    links = [link for text in bodies for link in re.findall(r"https?://\S+", text)]
    assert links
    assert all(link.startswith(SITE + "/") for link in links)
