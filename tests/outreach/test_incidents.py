import datetime as dt

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from core.exceptions import ApplicationError
from customers.models import ContactPreference, Delivery
from outreach.models import Fanout, Incident, IncidentUpdate
from outreach.services import (
    incident_declare,
    incident_resolve,
    incident_update_post,
    maintenance_reminders_run,
    maintenance_schedule,
    maintenance_start,
)
from tests.factories import CustomerFactory, OrganizationFactory, ProductFactory
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world():
    billing = ProductFactory(name="Billing", slug="billing")
    acme = OrganizationFactory(name="Acme", region="eu-west")
    acme.products.add(billing)
    other = OrganizationFactory(name="Other", region="us-east")
    affected = [CustomerFactory(organization=acme, email=f"a{i}@acme.example") for i in range(3)]
    unaffected = CustomerFactory(organization=other, email="x@other.example")
    return {"billing": billing, "acme": acme, "other": other, "affected": affected, "unaffected": unaffected}


def _declare(world, **kwargs):
    defaults = {"title": "Billing is down", "message": "Invoices fail to load.", "products": [world["billing"]]}
    return incident_declare(**{**defaults, **kwargs})


def test_declaring_notifies_every_affected_customer_once(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = _declare(world)
    assert sorted(m.to[0] for m in mail.outbox) == ["a0@acme.example", "a1@acme.example", "a2@acme.example"]
    assert mail.outbox[0].subject == "[Major] Billing is down"
    assert "Invoices fail to load." in mail.outbox[0].body
    rows = Delivery.objects.filter(source=f"incident:{incident.pk}")
    assert {r.status for r in rows} == {"sent"}
    assert {r.category for r in rows} == {"outage"}
    assert rows.count() == 3
    fanout = Fanout.objects.get(kind="incident_update", object_id=incident.updates.get().pk)
    assert (fanout.done, fanout.planned) == (True, 3)


def test_regions_and_organizations_select_customers_too(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _declare(world, products=[], regions=["us-east"])
    assert [m.to[0] for m in mail.outbox] == ["x@other.example"]


def test_an_incident_without_targets_is_refused(world):
    with pytest.raises(ApplicationError):
        _declare(world, products=[])
    assert Incident.objects.count() == 0
    assert Delivery.objects.count() == 0


def test_updates_and_resolution_notify_the_same_customers_again(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = _declare(world)
        incident_update_post(incident=incident, message="A fix is being deployed.")
        incident_resolve(incident=incident, message="All good again.")
    subjects = sorted({m.subject for m in mail.outbox})
    assert subjects == ["Resolved: Billing is down", "Update: Billing is down", "[Major] Billing is down"]
    assert len(mail.outbox) == 9
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert list(incident.updates.values_list("number", "kind")) == [(1, "declared"), (2, "update"), (3, "resolved")]
    assert Delivery.objects.filter(idempotency_key__startswith=f"incident:{incident.pk}:update:2:").count() == 3


def test_a_resolved_incident_takes_no_updates(world):
    incident = _declare(world)
    incident_resolve(incident=incident)
    with pytest.raises(ApplicationError):
        incident_update_post(incident=incident, message="late")
    assert incident.updates.count() == 2


def test_planning_the_same_slice_twice_plans_nothing_twice(world, django_capture_on_commit_callbacks):
    from outreach.services import fanout_plan_slice

    with django_capture_on_commit_callbacks(execute=False):
        incident = _declare(world)
    update = incident.updates.get()
    first = fanout_plan_slice(kind="incident_update", object_id=update.pk, after_customer_id=0)
    second = fanout_plan_slice(kind="incident_update", object_id=update.pk, after_customer_id=0)
    assert (first, second) == (3, None)
    assert Delivery.objects.count() == 3


@override_settings(HELPDESK={**__import__("django.conf").conf.settings.HELPDESK, "OUTREACH_FANOUT_SLICE": 2})
def test_planning_is_chunked_in_keyset_slices(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _declare(world)
    fanout = Fanout.objects.get()
    assert (fanout.planned, fanout.done, fanout.cursor) == (3, True, max(c.pk for c in world["affected"]))
    assert Delivery.objects.count() == 3
    assert len(callbacks) >= 4  # slice 1, its send, slice 2, its send


def test_the_banner_shows_active_incidents_and_disappears_on_resolve(world, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = _declare(world)
    page = client.get("/help/status/")
    assert 'id="incident-banner"' in page.content.decode()
    assert "Billing is down" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident=incident, message="Fixed.")
    page = client.get("/help/status/")
    html = page.content.decode()
    assert 'id="incident-banner"' not in html
    assert "Recent incidents" in html
    assert "Fixed." in html


def test_outage_notices_ignore_quiet_hours_but_maintenance_waits(world, django_capture_on_commit_callbacks):
    # given a customer in Tokyo whose quiet hours cover every hour of the day but one
    tokyo = world["affected"][0]
    tokyo.timezone = "Asia/Tokyo"
    tokyo.save()
    ContactPreference.objects.create(customer=tokyo, quiet_hours_start=dt.time(0, 0), quiet_hours_end=dt.time(23, 59))
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        outage = _declare(world)
        maintenance = maintenance_schedule(
            title="Database upgrade",
            message="Short downtime.",
            products=[world["billing"]],
            scheduled_start=now + dt.timedelta(days=3),
            scheduled_end=now + dt.timedelta(days=3, hours=1),
        )
    outage_row = Delivery.objects.get(customer=tokyo, source=f"incident:{outage.pk}")
    maintenance_row = Delivery.objects.get(customer=tokyo, source=f"incident:{maintenance.pk}")
    assert outage_row.status == "sent"
    local = timezone.localtime(now, tokyo.zone)
    if dt.time(0, 0) <= local.time() < dt.time(23, 59):
        assert maintenance_row.status == "queued"
        assert maintenance_row.next_attempt_at.astimezone(tokyo.zone).time() == dt.time(23, 59)
    assert maintenance_row.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "List-Unsubscribe" not in outage_row.headers


def test_maintenance_is_announced_reminded_once_started_and_finished(world, django_capture_on_commit_callbacks):
    now = timezone.now()
    start = now + dt.timedelta(hours=30)
    with django_capture_on_commit_callbacks(execute=True):
        incident = maintenance_schedule(
            title="Database upgrade",
            message="Ten minutes of downtime.",
            products=[world["billing"]],
            scheduled_start=start,
            scheduled_end=start + dt.timedelta(hours=1),
        )
    assert incident.status == "scheduled"
    assert len(mail.outbox) == 3
    # too early: nothing
    assert maintenance_reminders_run(now=now) == 0
    # 24 hours before, run twice (or late): one reminder
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance_reminders_run(now=start - dt.timedelta(hours=23)) == 1
        assert maintenance_reminders_run(now=start - dt.timedelta(hours=22)) == 0
    assert len(mail.outbox) == 6
    assert mail.outbox[-1].subject.startswith("Reminder: maintenance starts")
    with django_capture_on_commit_callbacks(execute=True):
        maintenance_start(incident=incident)
    incident.refresh_from_db()
    assert incident.status == "active"
    assert len(mail.outbox) == 6  # started is shown on the status page and banner, not e-mailed
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident=incident)
    assert incident.updates.last().kind == IncidentUpdate.Kind.RESOLVED
    assert mail.outbox[-1].subject == "Resolved: Database upgrade"


def test_notices_go_over_a_real_smtp_server(world, django_capture_on_commit_callbacks):
    with (
        SmtpServer() as smtp,
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=smtp.port,
            EMAIL_USE_TLS=False,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _declare(world)
    assert sorted(smtp.sink.recipients()) == ["a0@acme.example", "a1@acme.example", "a2@acme.example"]
    assert len(smtp.sink.sessions) == 1  # one connection for the chunk
    message = smtp.sink.messages[0]
    assert message["Subject"] == "[Major] Billing is down"
    assert message["Message-ID"].endswith("@helpdesk.localhost>")
