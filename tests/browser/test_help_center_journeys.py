import pytest
from playwright.sync_api import expect

from knowledge.models import ArticleFeedback
from tests.browser.conftest import sign_in
from tests.factories import CustomerUserFactory
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import QueueFactory
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_searches_reads_votes_submits_a_request_with_a_file_and_follows_it(
    page, live_server, tmp_path, screenshot_on_failure
):
    QueueFactory(name="Support", slug="support")
    user = CustomerUserFactory(email="casey@client.example", name="Casey Customer")
    ArticleFactory(title="Resetting two-factor authentication", body="Open **Settings**, then *Security*.")
    ArticleFactory(title="Changing your invoice address", body="Billing settings hold the address.")

    sign_in(page, live_server, "casey@client.example")
    expect(page).to_have_url(f"{live_server.url}/help/")
    page.get_by_label("Search the help center").fill("two-factor")
    page.get_by_label("Search the help center").press("Enter")
    page.get_by_role("link", name="Resetting two-factor authentication").first.click()
    expect(page.get_by_role("heading", name="Resetting two-factor authentication")).to_be_visible()

    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_text("Thank you for your feedback.")).to_be_visible()
    assert ArticleFeedback.objects.get().helpful is True

    page.get_by_role("link", name="Submit a request").click()
    page.get_by_label("Subject").fill("Two-factor code never arrives")
    expect(page.locator("#suggestions")).to_contain_text("Resetting two-factor authentication")  # suggested as typed
    page.get_by_label("Description").fill("I tried three times; no SMS arrives.")
    screenshot = tmp_path / "sms.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    page.get_by_label("Attachments").set_input_files(str(screenshot))
    page.get_by_role("button", name="Submit request").click()

    expect(page.get_by_text("is with our team")).to_be_visible()
    expect(page.get_by_role("link", name="sms.png")).to_be_visible()
    page.get_by_role("link", name="My requests").click()
    expect(page.get_by_role("link", name="Two-factor code never arrives")).to_be_visible()
    ticket = Ticket.objects.get()
    assert ticket.requester.user_id == user.pk
    assert ticket.messages.get().attachments.get().filename == "sms.png"
