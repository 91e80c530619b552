import pytest
from playwright.sync_api import expect

from customers.models import ContactPreference
from tests.browser.conftest import sign_in
from tests.factories import AgentFactory, CustomerFactory, CustomerUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_signs_in_finds_a_customer_as_they_type_and_signs_out(page, live_server, screenshot_on_failure):
    AgentFactory(email="alex@support.example", name="Alex Agent")
    CustomerFactory(name="Ada Lovelace", email="ada@math.example")
    CustomerFactory(name="Grace Hopper", email="grace@navy.example")

    sign_in(page, live_server, "alex@support.example")
    expect(page).to_have_url(f"{live_server.url}/agent/")
    page.get_by_role("link", name="Customers").click()
    expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()

    page.get_by_placeholder("Name, e-mail or external id").fill("Ada")
    expect(page.get_by_role("link", name="Grace Hopper")).to_have_count(0)  # htmx swapped the table
    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_customer_sets_quiet_hours_and_a_mistake_keeps_their_choices(page, live_server, screenshot_on_failure):
    user = CustomerUserFactory(email="casey@client.example")

    sign_in(page, live_server, "casey@client.example")
    page.get_by_role("link", name="Contact preferences").click()
    page.get_by_label("Announcements").uncheck()
    page.get_by_label("Quiet hours start").fill("22:00")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("alert")).to_contain_text("Give both a start and an end")
    expect(page.get_by_label("Announcements")).not_to_be_checked()  # what was chosen is kept

    page.get_by_label("Quiet hours end").fill("07:00")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Your contact preferences are saved.")).to_be_visible()
    preference = ContactPreference.objects.get(customer__user=user)
    assert preference.opted_out == ["announcement"]
    assert str(preference.quiet_hours_start) == "22:00:00"
