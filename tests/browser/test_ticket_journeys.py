import pytest
from django.conf import settings
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import AgentFactory, CustomerFactory
from tests.tickets.factories import MacroFactory, QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Status, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_filters_the_queue_opens_a_ticket_replies_with_a_macro_and_solves_it(
    page, live_server, screenshot_on_failure
):
    agent = AgentFactory(email="alex@support.example", name="Alex Agent")
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    ada = CustomerFactory(name="Ada Lovelace", email="ada@math.example")
    ticket = make_ticket(queue=queue, requester=ada, subject="Export to CSV fails", body="The export button spins.")
    make_ticket(queue=queue, subject="Invoice address wrong")
    MacroFactory(
        name="Fixed, please retry", body="Hi {{ customer.first_name }}, we fixed it. Please retry.", set_status="solved"
    )

    sign_in(page, live_server, "alex@support.example")
    page.get_by_role("link", name="All open").click()
    expect(page.get_by_role("link", name="Invoice address wrong")).to_be_visible()

    page.get_by_label("Search tickets").fill("export")
    expect(page.get_by_role("link", name="Invoice address wrong")).to_have_count(0)
    # keyboard: Esc leaves the search box, j highlights the first row, o opens it
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("o")
    expect(page.get_by_role("heading", name="Export to CSV fails")).to_be_visible()
    expect(page.get_by_text("The export button spins.")).to_be_visible()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()

    page.get_by_label("Macro").select_option(label="Fixed, please retry")
    expect(page.get_by_label("Reply", exact=True)).to_have_value("Hi Ada, we fixed it. Please retry.")
    expect(page.get_by_text("set status to solved")).to_be_visible()
    page.get_by_label("Reply", exact=True).focus()
    page.keyboard.press("Control+Enter")

    expect(page.get_by_text("Your reply is sent.")).to_be_visible()
    expect(page.locator(".thread")).to_contain_text("we fixed it")
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED
    assert Ticket.objects.get(pk=ticket.pk).solved_at is not None


def test_inline_edit_in_the_side_panel_saves_without_a_reload(page, live_server, screenshot_on_failure):
    agent = AgentFactory(email="alex@support.example", name="Alex Agent")
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    ticket = make_ticket(queue=queue, subject="Slow dashboard")

    sign_in(page, live_server, "alex@support.example")
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    page.locator("#properties").get_by_label("Priority").select_option("urgent")
    expect(page.locator("#properties").get_by_text("Saved.")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"
    assert len(mail.outbox) == 0


def test_an_agent_finds_an_article_from_the_reply_box_and_inserts_its_link(page, live_server, screenshot_on_failure):
    from tests.knowledge.factories import ArticleFactory

    agent = AgentFactory(email="alex@support.example", name="Alex Agent")
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    ticket = make_ticket(queue=queue, subject="How do I export?")
    article = ArticleFactory(title="Exporting your data to CSV", body="Use the export button.")

    sign_in(page, live_server, "alex@support.example")
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    page.get_by_label("Reply", exact=True).fill("Here is how: ")
    page.get_by_placeholder("Search the knowledge base").fill("export")
    page.get_by_role("button", name="Insert link").first.click()
    expect(page.get_by_label("Reply", exact=True)).to_have_value(
        f"Here is how: [Exporting your data to CSV]({settings.SITE_URL}{article.get_absolute_url()})"
    )
