"""Merging two customers' tickets in real Chromium: the page asks, naming both, and the target's requester
sees none of the source's messages in the help center (#9, item 14)."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import AgentFactory, CustomerUserFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_confirms_a_merge_across_customers_and_the_target_customer_sees_nothing_of_it(
    page, live_server, screenshot_on_failure
):
    agent = AgentFactory(email="alex@support.example", name="Alex Agent")
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    xavier = CustomerUserFactory(email="xavier@client.example", name="Xavier Source").customer
    yvonne = CustomerUserFactory(email="yvonne@other.example", name="Yvonne Target").customer
    source = make_ticket(queue=queue, requester=xavier, subject="Card declined", body="My card is secret-xavier")
    target = make_ticket(queue=queue, requester=yvonne, subject="Billing question", body="Yvonne asks")

    sign_in(page, live_server, "alex@support.example")
    page.goto(f"{live_server.url}/agent/tickets/{source.pk}/")
    page.get_by_label("Merge into ticket").fill(target.reference)
    page.get_by_role("button", name="Merge into", exact=True).click()
    confirm = page.locator("#merge-confirm")
    expect(confirm).to_contain_text("Xavier Source")
    expect(confirm).to_contain_text("Yvonne Target")
    expect(confirm).to_contain_text("internal notes")
    assert Ticket.objects.get(pk=source.pk).merged_into_id is None
    page.get_by_role("button", name=f"Merge into {target.reference} anyway").click()
    expect(page.get_by_text(f"{source.reference} was merged into {target.reference}.")).to_be_visible()
    expect(page.locator(".thread")).to_contain_text("secret-xavier")  # agents see it, as a note
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk

    page.context.clear_cookies()
    sign_in(page, live_server, "yvonne@other.example")
    page.goto(f"{live_server.url}/help/requests/{target.pk}/")
    expect(page.get_by_text("Yvonne asks")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("secret-xavier")
