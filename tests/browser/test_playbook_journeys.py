import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import CustomerEvent
from playbooks.models import Playbook, PlaybookRun, Signal
from playbooks.tasks import advance_runs, evaluate_signals, start_runs
from tests.browser.conftest import sign_in
from tests.factories import AgentFactory, CustomerFactory, ManagerFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory
from tickets.models import Kind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _logins(customer, now, per_week):
    CustomerEvent.objects.bulk_create(
        CustomerEvent(
            customer=customer,
            kind="login",
            occurred_at=now - dt.timedelta(days=7 * back + 1, hours=n),
            received_at=now - dt.timedelta(days=7 * back + 1, hours=n),
            event_id=f"{customer.pk}-{back}-{n}",
        )
        for back, count in enumerate(reversed(per_week))
        for n in range(count)
    )


def test_a_manager_builds_a_usage_drop_playbook_dry_runs_and_activates_it_and_an_agent_finds_the_ticket(
    page, live_server, screenshot_on_failure
):
    # the transactional database lost the migrations' groups: give the manager this app's permissions
    managers, _ = Group.objects.get_or_create(name="Managers")
    managers.permissions.add(*Permission.objects.filter(content_type__app_label="playbooks"))
    ManagerFactory(email="morgan@support.example", name="Morgan Manager")
    agent = AgentFactory(email="alex@support.example", name="Alex Agent")
    queue = QueueFactory(name="Customer success", slug="success")
    QueueMembershipFactory(queue=queue, agent=agent)
    now = timezone.now()
    quiet = CustomerFactory(name="Ada Lovelace", created_at=now - dt.timedelta(days=90))
    busy = CustomerFactory(name="Ben Busy", created_at=now - dt.timedelta(days=90))
    _logins(quiet, now, [9, 4, 1, 1])
    _logins(busy, now, [9, 8, 9, 7])

    # the signal, through its real fields
    sign_in(page, live_server, "morgan@support.example")
    page.goto(f"{live_server.url}/admin/playbooks/signal/add/")
    page.get_by_label("Name:", exact=True).fill("Logins fell")
    page.get_by_label("Kind:", exact=True).select_option("usage_drop")
    page.locator('[name="usage_drop__threshold"]').fill("2")
    page.locator('[name="usage_drop__weeks"]').fill("2")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    assert Signal.objects.get().params == {"event_kind": "login", "threshold": 2, "weeks": 2}

    # the playbook with one step, inactive
    page.goto(f"{live_server.url}/admin/playbooks/playbook/add/")
    page.get_by_label("Name:", exact=True).fill("Win back quiet accounts")
    page.get_by_label("Signal:").select_option(label="Logins fell")
    page.get_by_label("Owner agent:").select_option(label=str(agent))
    page.get_by_label("Owner queue:").select_option(label="Customer success")
    page.locator('[name="steps-0-position"]').fill("1")
    page.locator('[name="steps-0-action"]').select_option("create_ticket")
    page.locator('[name="steps-0-note"]').fill("Call them this week.")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    playbook = Playbook.objects.get()
    assert not playbook.is_active

    # the dry run: who matches now, with the evidence
    page.get_by_role("link", name="Dry run: who matches now").click()
    expect(page.locator("#dry-run-count")).to_contain_text("1 customer would start this playbook now")
    expect(page.locator("#dry-run-sample")).to_contain_text("Ada Lovelace")
    expect(page.locator("#dry-run-sample")).to_contain_text("login per week: 4, 1, 1 (below 2 for 2 weeks")
    expect(page.locator("#dry-run-sample")).not_to_contain_text("Ben Busy")
    page.get_by_role("button", name="Activate this playbook").click()
    expect(page.get_by_text("is active: runs start on the next beat")).to_be_visible()
    playbook.refresh_from_db()
    assert playbook.is_active

    # the beat's next round
    evaluate_signals()
    start_runs()
    advance_runs()
    run = PlaybookRun.objects.get()
    assert run.ticket.kind == Kind.PROACTIVE

    # the agent finds it in the Proactive view, evidence at the top
    page.context.clear_cookies()
    sign_in(page, live_server, "alex@support.example")
    page.get_by_role("link", name="Proactive").click()
    page.get_by_role("link", name="Logins fell: Ada Lovelace").click()
    expect(page.locator("#proactive-evidence")).to_contain_text("Raised by the playbook “Win back quiet accounts”")
    expect(page.locator("#proactive-evidence")).to_contain_text("login per week: 4, 1, 1")
    expect(page.locator("#thread")).to_contain_text("Call them this week.")
    expect(page.locator("#customer-story")).to_contain_text("Logins fell")
    expect(page.locator("#health-score")).to_have_text("80")
