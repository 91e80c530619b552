"""A customer answers an agent's reply by e-mail: the agent sees it on the ticket, the quote folded away."""

import pytest
from django.core import mail as outbox
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import AgentFactory, CustomerFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tests.tickets.test_inbound import SUPPORT, mail
from tickets.inbound.models import Mailbox
from tickets.inbound.services import inbound_store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_e_mailed_reply_appears_on_the_agents_ticket_with_the_quote_folded(page, live_server, screenshot_on_failure):
    agent = AgentFactory(email="alex@support.example", name="Alex Agent")
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    Mailbox.objects.create(address=SUPPORT, name="Support", queue=queue)
    ada = CustomerFactory(name="Ada Lovelace", email="ada@math.example")
    ticket = make_ticket(queue=queue, requester=ada, subject="Export to CSV fails", body="The export spins.")

    sign_in(page, live_server, "alex@support.example")
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    page.get_by_label("Reply", exact=True).fill("Please clear the browser cache and try again.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Your reply is sent.")).to_be_visible()

    # the e-mail Ada got, and her answer to it from her mail client: a reply on top, our text quoted below
    (sent,) = [m for m in outbox.outbox if m.to == ["ada@math.example"]]
    reply = mail(
        to=sent.extra_headers["Reply-To"],
        subject=f"Re: {sent.subject}",
        body="Cleared it, still spinning.\n\n"
        "On Tue, Dec 1, 2026 at 10:00 AM Support <support@helpdesk.localhost> wrote:\n"
        "> Please clear the browser cache and try again.",
        headers={"In-Reply-To": sent.extra_headers["Message-ID"]},
    )
    inbound_store(mailbox=Mailbox.objects.get(), raw=reply.as_bytes(), via="imap")  # the worker runs inline

    # the page's usual refresh notices the change; the agent reloads
    expect(page.get_by_text("This ticket changed since you opened it.")).to_be_visible(timeout=15_000)
    page.get_by_role("link", name="Reload").click()
    newest = page.locator(".thread .message-item").last
    expect(newest).to_contain_text("Cleared it, still spinning.")
    expect(newest.get_by_text("e-mail", exact=True)).to_be_visible()
    quote = newest.locator("details.full-message pre")
    expect(quote).to_be_hidden()
    newest.get_by_text("Show the full message").click()
    expect(quote).to_contain_text("> Please clear the browser cache and try again.")
