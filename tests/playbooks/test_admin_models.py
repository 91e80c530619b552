import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from playbooks.models import PlaybookRun, PlaybookRunLog, PlaybookStep, RunState, Signal, SignalMatch
from tests.factories import CustomerFactory
from tests.playbooks.factories import PlaybookFactory, SignalFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(manager) -> Client:
    # a transactional test elsewhere may have flushed the groups' permissions: grant this app's again
    from django.contrib.auth.models import Group, Permission

    Group.objects.get(name="Managers").permissions.add(
        *Permission.objects.filter(content_type__app_label="playbooks").exclude(codename__startswith="delete_run")
    )
    client = Client()
    client.force_login(manager)
    return client


def _signal_post(**overrides):
    data = {
        "name": "Logins fell",
        "kind": "usage_drop",
        "scope": "customer",
        "weight": "25",
        "interval_seconds": "300",
        "is_active": "on",
        "description": "",
        "usage_drop__event_kind": "login",
        "usage_drop__threshold": "2",
        "usage_drop__weeks": "3",
    }
    data.update(overrides)
    return data


def test_manager_creates_a_signal_through_real_fields_per_kind(manager_client):
    # given the add page shows each kind's fields
    page = manager_client.get(reverse("admin:playbooks_signal_add"))
    assert page.status_code == 200
    assert b'name="usage_drop__weeks"' in page.content
    assert b'name="event_happened__property_filter"' in page.content
    # when
    response = manager_client.post(reverse("admin:playbooks_signal_add"), _signal_post())
    # then
    assert response.status_code == 302
    signal = Signal.objects.get()
    assert signal.params == {"event_kind": "login", "threshold": 2, "weeks": 3}
    assert signal.weight == 25


def test_property_filter_lines_become_a_dict(manager_client):
    response = manager_client.post(
        reverse("admin:playbooks_signal_add"),
        _signal_post(
            kind="event_happened",
            **{
                "event_happened__event_kind": "order_shipped",
                "event_happened__property_filter": "carrier=dhl\n country = de ",
                "event_happened__minutes": "5",
            },
        ),
    )
    assert response.status_code == 302
    assert Signal.objects.get().params == {
        "event_kind": "order_shipped",
        "property_filter": {"carrier": "dhl", "country": "de"},
        "minutes": 5,
    }


def test_bad_parameters_are_errors_on_their_fields_and_the_form_keeps_the_input(manager_client):
    response = manager_client.post(
        reverse("admin:playbooks_signal_add"),
        _signal_post(**{"usage_drop__weeks": "40", "usage_drop__event_kind": "bad kind!"}),
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "usage_drop__weeks" in form.errors
    assert "usage_drop__event_kind" in form.errors
    assert b'value="40"' in response.content
    assert Signal.objects.count() == 0


def test_organization_scope_is_refused_for_per_customer_kinds(manager_client):
    response = manager_client.post(
        reverse("admin:playbooks_signal_add"),
        _signal_post(
            kind="negative_sentiment",
            scope="organization",
            **{"negative_sentiment__sentiment_threshold": "-0.3", "negative_sentiment__days": "14"},
        ),
    )
    assert response.status_code == 200
    assert "scope" in response.context["adminform"].form.errors
    assert Signal.objects.count() == 0


def test_edit_page_shows_the_stored_parameters(manager_client):
    signal = SignalFactory(params={"event_kind": "export", "threshold": 7, "weeks": 2})
    page = manager_client.get(reverse("admin:playbooks_signal_change", args=[signal.pk]))
    assert page.status_code == 200
    assert b'value="export"' in page.content
    assert b'value="7"' in page.content


def test_an_agent_cannot_edit_signals(agent_client):
    response = agent_client.get(reverse("admin:playbooks_signal_add"))
    assert response.status_code == 302  # agents are not staff: sent to the admin login
    assert Signal.objects.count() == 0


def test_one_active_match_per_signal_and_customer():
    signal = SignalFactory()
    customer = CustomerFactory()
    SignalMatch.objects.create(signal=signal, customer=customer, evidence="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        SignalMatch.objects.create(signal=signal, customer=customer, evidence="y")
    SignalMatch.objects.filter(signal=signal).update(cleared_at="2026-01-01T00:00:00Z")
    SignalMatch.objects.create(signal=signal, customer=customer, evidence="again")
    assert SignalMatch.objects.filter(signal=signal, customer=customer).count() == 2


def test_one_active_run_per_playbook_and_customer_and_one_log_per_step():
    playbook = PlaybookFactory()
    customer = CustomerFactory()
    run = PlaybookRun.objects.create(playbook=playbook, customer=customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlaybookRun.objects.create(playbook=playbook, customer=customer)
    PlaybookRunLog.objects.create(run=run, position=1, action="wait", outcome="waiting")
    with pytest.raises(IntegrityError), transaction.atomic():
        PlaybookRunLog.objects.create(run=run, position=1, action="wait", outcome="waiting")
    run.state = RunState.COMPLETED
    run.save()
    assert PlaybookRun.objects.create(playbook=playbook, customer=customer).state == RunState.RUNNING


def test_playbook_step_validation_per_action(manager_client):
    signal = SignalFactory()
    url = reverse("admin:playbooks_playbook_add")
    data = {
        "name": "Win back",
        "description": "",
        "signal": signal.pk,
        "cooldown_days": "30",
        "steps-TOTAL_FORMS": "2",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-position": "1",
        "steps-0-action": "send_template",
        "steps-1-position": "2",
        "steps-1-action": "wait",
    }
    response = manager_client.post(url, data)
    assert response.status_code == 200
    errors = [form.errors for form in response.context["inline_admin_formsets"][0].formset.forms]
    assert "template" in errors[0]
    assert "wait_days" in errors[1]
    assert "Choose an owner" in str(response.context["adminform"].form.non_field_errors())
    assert PlaybookStep.objects.count() == 0
