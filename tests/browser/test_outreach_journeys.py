"""An outage notice end to end: an agent declares it in the browser, a real worker sends it over real SMTP,
the progress bar reaches 100%, and a customer sees the banner and the status page."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from customers.models import Delivery
from tests.browser.conftest import sign_in
from tests.factories import AgentFactory, CustomerFactory, CustomerUserFactory, OrganizationFactory, ProductFactory
from tests.smtp import SmtpServer
from tests.worker import WorkerProcess, publishing_to_broker

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_agent_declares_an_incident_watches_it_reach_100_percent_and_a_customer_sees_the_banner(
    page, browser, live_server, tmp_path, screenshot_on_failure
):
    billing = ProductFactory(name="Billing", slug="billing")
    affected = OrganizationFactory(name="Acme")
    affected.products.add(billing)
    OrganizationFactory(name="Unaffected")
    CustomerFactory.create_batch(30, organization=affected)
    customer_user = CustomerUserFactory(email="casey@acme.example")
    customer_user.customer.organization = affected
    customer_user.customer.save(update_fields=["organization"])
    on_call = AgentFactory(email="alex@support.example", name="Alex Agent")
    on_call.groups.add(Group.objects.get(name="On call"))  # declaring is a manager's or the on-call agent's

    with SmtpServer() as smtp, publishing_to_broker(tmp_path):
        worker = WorkerProcess(var_dir=tmp_path, email_url=smtp.url, concurrency=2).start()
        try:
            sign_in(page, live_server, "alex@support.example")
            page.get_by_role("link", name="Outreach").click()
            page.get_by_role("link", name="Declare an incident").click()
            page.get_by_label("Title").fill("Invoices cannot be downloaded")
            page.get_by_label("Message").fill("Downloading invoices fails. We are on it.")
            page.get_by_label("Products").select_option(label="Billing")
            page.get_by_role("button", name="Declare an incident").click()

            progress = page.locator("#incident-progress")
            expect(progress).to_be_visible()
            expect(progress).to_have_attribute("data-percent", "100", timeout=90_000)  # polled by htmx
            # the figures are in the same polled partial: they show what the bar shows, without a reload
            expect(page.locator('[data-figure="sent"]')).to_have_text("31")
        finally:
            worker.stop()
    assert Delivery.objects.filter(category="outage", status="sent").count() == 31
    assert sorted(smtp.sink.recipients()) == sorted(
        Delivery.objects.filter(category="outage").values_list("recipient", flat=True)
    )

    customer_page = browser.new_context().new_page()
    sign_in(customer_page, live_server, "casey@acme.example")
    banner = customer_page.locator("#incident-banner")
    expect(banner).to_contain_text("Invoices cannot be downloaded")
    banner.get_by_role("link", name="status page").click()
    expect(customer_page.get_by_role("heading", name="Invoices cannot be downloaded")).to_be_visible()
    expect(customer_page.get_by_text("Downloading invoices fails. We are on it.")).to_be_visible()
