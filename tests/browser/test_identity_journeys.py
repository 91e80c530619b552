"""Identity journeys in real Chromium, with the e-mails over real SMTP on loopback: an address grants
nothing until its mailbox proves it."""

import re

import pytest
from playwright.sync_api import expect

from core.models import User
from tests.browser.conftest import sign_in
from tests.factories import CustomerFactory, CustomerUserFactory
from tests.smtp import SmtpServer
from tests.tickets.factories import QueueFactory, make_ticket
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STRANGERS_PASSWORD = "Strangers-Guess-1843"
OWNERS_PASSWORD = "Owners-Own-Secret-77"


@pytest.fixture
def smtp(settings):
    """Every e-mail the pages cause goes over SMTP to a server on loopback (sent inline, as tasks are eager)."""
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


def _text(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def _mail_to(smtp, address: str, subject: str) -> str:
    found = [m for m in smtp.sink.messages if address in str(m["To"]) and subject in str(m["Subject"])]
    assert len(found) == 1, [str(m["Subject"]) for m in smtp.sink.messages]
    return _text(found[0])


def _link(body: str, live_server, prefix: str) -> str:
    path = re.search(rf"https?://[^/\s]+({prefix}\S+/)", body).group(1)
    return f"{live_server.url}{path}"


def test_a_stranger_signs_up_with_a_victims_address_sees_nothing_and_the_owner_confirms_and_sees_their_tickets(
    page, browser, live_server, smtp, screenshot_on_failure
):
    QueueFactory(name="Support", slug="support")
    victim = CustomerFactory(email="victim@client.example", name="Vic Tim")
    make_ticket(requester=victim, subject="Invoice 2291 is wrong", body="Our bank details are DE89 3704.")

    # a stranger opens an account with the victim's address
    page.goto(f"{live_server.url}/help/sign-up/")
    page.get_by_label("Your name").fill("Mallory")
    page.get_by_label("E-mail").fill("victim@client.example")
    page.locator("#id_password1").fill(STRANGERS_PASSWORD)
    page.locator("#id_password2").fill(STRANGERS_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    # and signs in with the password they chose: the account exists, but is empty
    sign_in(page, live_server, "victim@client.example", STRANGERS_PASSWORD)
    page.goto(f"{live_server.url}/help/requests/")
    expect(page.get_by_text("No requests yet.")).to_be_visible()
    expect(page.get_by_text("Confirm your e-mail address with the link")).to_be_visible()
    assert "Invoice 2291" not in page.content()
    ticket = Ticket.objects.get()
    page.goto(f"{live_server.url}/help/requests/{ticket.pk}/")
    assert "DE89" not in page.content()

    # the confirmation reaches the real owner's mailbox
    link = _link(_mail_to(smtp, "victim@client.example", "Confirm your e-mail address"), live_server, "/help/confirm/")
    owner = browser.new_context().new_page()
    owner.goto(link)
    expect(owner.get_by_role("heading", name="Confirm your e-mail address")).to_be_visible()
    owner.get_by_role("link", name="Choose a new password instead").click()
    owner.locator("#id_new_password1").fill(OWNERS_PASSWORD)
    owner.locator("#id_new_password2").fill(OWNERS_PASSWORD)
    owner.get_by_role("button", name="Confirm my address").click()
    expect(owner.get_by_text("your e-mail address is confirmed")).to_be_visible()
    expect(owner.get_by_role("link", name="Invoice 2291 is wrong")).to_be_visible()
    owner.get_by_role("link", name="Invoice 2291 is wrong").click()
    expect(owner.get_by_text("Our bank details are DE89 3704.")).to_be_visible()

    # the stranger's session and password died with the owner's new password
    page.goto(f"{live_server.url}/help/requests/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    sign_in(page, live_server, "victim@client.example", STRANGERS_PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    assert User.objects.get(email="victim@client.example").email_verified_at is not None


def test_an_anonymous_request_in_a_registered_customers_name_shows_no_link_and_the_mailbox_owner_follows_it(
    page, browser, live_server, smtp, screenshot_on_failure
):
    QueueFactory(name="Support", slug="support")
    CustomerUserFactory(email="owner@client.example", name="Olive Owner")

    page.goto(f"{live_server.url}/help/requests/new/")
    page.get_by_label("Your e-mail").fill("owner@client.example")
    page.get_by_label("Your name").fill("Olive Owner")
    page.get_by_label("Subject").fill("Please refund my last invoice")
    page.get_by_label("Description").fill("Send the refund to a new account.")
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_text("We've sent you a link by e-mail.")).to_be_visible()
    assert "/help/r/" not in page.content()
    assert "/help/r/" not in page.url
    ticket = Ticket.objects.get()
    assert ticket.requester_unverified is True

    # the link is in the owner's mailbox and works there
    body = _mail_to(smtp, "owner@client.example", "We received your request")
    owner = browser.new_context().new_page()
    owner.goto(_link(body, live_server, "/help/r/"))
    expect(owner.get_by_role("heading", name=re.compile("Please refund my last invoice"))).to_be_visible()
    expect(owner.get_by_text("Send the refund to a new account.")).to_be_visible()
    owner.get_by_label("Your reply").fill("This was not me. Please ignore it.")
    owner.get_by_role("button", name="Send reply").click()
    expect(owner.get_by_text("Your reply is added.")).to_be_visible()
    assert ticket.messages.filter(body="This was not me. Please ignore it.").exists()
