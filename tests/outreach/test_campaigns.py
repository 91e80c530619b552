import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.exceptions import ApplicationError
from customers.models import ContactPreference, Delivery
from customers.services import delivery_plan
from outreach.models import Campaign
from outreach.services import campaign_cancel, campaign_create, campaign_schedule, campaigns_run
from outreach.services.campaigns import campaign_local_send_time
from tests.factories import CustomerFactory, OrganizationFactory
from tests.outreach.factories import SegmentFactory, TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def audience():
    org = OrganizationFactory(name="Acme <Corp>", plan="enterprise")
    customers = [CustomerFactory(organization=org, email=f"c{i}@acme.example", name=f"Ann{i} Lee") for i in range(5)]
    CustomerFactory(organization=OrganizationFactory(plan="free"), email="free@else.example")
    return {"segment": SegmentFactory(plans=["enterprise"]), "customers": customers}


def _campaign(audience, **kwargs):
    return campaign_create(
        name="Spring news",
        template=kwargs.pop("template", None) or TemplateFactory(),
        segment=audience["segment"],
        **kwargs,
    )


def test_a_campaign_sent_now_reaches_its_segment_with_escaped_data(audience, django_capture_on_commit_callbacks):
    campaign = _campaign(audience)
    assert campaign.status == "draft"
    assert Delivery.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        campaign_schedule(campaign=campaign)
    assert sorted(m.to[0] for m in mail.outbox) == [f"c{i}@acme.example" for i in range(5)]
    message = mail.outbox[0]
    assert message.subject == "News for Ann0"
    html = message.alternatives[0][0]
    assert "Acme &lt;Corp&gt;" in html
    assert "Acme <Corp>" in message.body  # the plain-text part is not HTML
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].startswith("<http://")
    assert "Unsubscribe from these e-mails: http" in message.body
    campaigns_run()
    campaign.refresh_from_db()
    assert campaign.status == "sent"
    assert campaign.finished_at is not None


def test_template_tags_cannot_reach_models(audience, django_capture_on_commit_callbacks):
    template = TemplateFactory(body="{{ customer.user.password }}|{{ customer.save }}|{{ customer.name }}")
    campaign = _campaign(audience, template=template)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_schedule(campaign=campaign)
    assert mail.outbox[0].body.startswith("||Ann")


def test_the_throttle_spreads_release_over_minutes(audience, django_capture_on_commit_callbacks):
    campaign = _campaign(audience, throttle_per_minute=2)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_schedule(campaign=campaign)
    campaign.refresh_from_db()
    rows = list(Delivery.objects.filter(source=campaign.source).order_by("customer_id"))
    offsets = [round((r.next_attempt_at - campaign.started_at).total_seconds() / 60) for r in rows]
    assert offsets == [0, 0, 1, 1, 2]
    assert len(mail.outbox) == 2
    # the beat releases the next minute's rows when they come due
    with django_capture_on_commit_callbacks(execute=True):
        result = campaigns_run(now=campaign.started_at + dt.timedelta(minutes=1, seconds=1))
    assert result["released"] == 2


def test_cancel_stops_what_has_not_gone(audience, django_capture_on_commit_callbacks):
    campaign = _campaign(audience, throttle_per_minute=2)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_schedule(campaign=campaign)
    stopped = campaign_cancel(campaign=campaign)
    campaign.refresh_from_db()
    assert (campaign.status, stopped) == ("cancelled", 3)
    statuses = sorted(Delivery.objects.filter(source=campaign.source).values_list("status", "suppressed_reason"))
    assert statuses == [("sent", "")] * 2 + [("suppressed", "campaign cancelled")] * 3
    with pytest.raises(ApplicationError):
        campaign_cancel(campaign=campaign)


def test_a_campaign_at_a_time_waits_for_the_beat(audience, django_capture_on_commit_callbacks):
    at = timezone.now() + dt.timedelta(hours=2)
    campaign = _campaign(audience, schedule="at", send_at=at)
    campaign_schedule(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    assert campaigns_run()["started"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert campaigns_run(now=at + dt.timedelta(seconds=1))["started"] == 1
    assert Delivery.objects.filter(source=campaign.source).count() == 5


def test_scheduling_needs_a_time(audience):
    with pytest.raises(ApplicationError) as error:
        _campaign(audience, schedule="local_hour", send_at=None, local_hour=25)
    assert set(error.value.extra) == {"send_at", "local_hour"}
    assert Campaign.objects.count() == 0


def test_local_hour_sends_at_that_hour_in_each_customers_zone(audience, django_capture_on_commit_callbacks):
    berlin, new_york = audience["customers"][0], audience["customers"][1]
    berlin.timezone, new_york.timezone = "Europe/Berlin", "America/New_York"
    berlin.save()
    new_york.save()
    day = (timezone.now() + dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    campaign = _campaign(audience, schedule="local_hour", send_at=day, local_hour=9)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_schedule(campaign=campaign)
    assert mail.outbox == []
    for customer in (berlin, new_york):
        row = Delivery.objects.get(source=campaign.source, customer=customer)
        local = row.next_attempt_at.astimezone(customer.zone)
        assert (local.date(), local.hour) == (day.date(), 9)


@pytest.mark.parametrize(
    ("zone", "day", "hour", "utc"),
    [
        ("Europe/Berlin", dt.date(2031, 3, 30), 9, dt.datetime(2031, 3, 30, 7, tzinfo=dt.UTC)),  # after spring forward
        ("Europe/Berlin", dt.date(2031, 3, 29), 9, dt.datetime(2031, 3, 29, 8, tzinfo=dt.UTC)),  # before
        ("Europe/Berlin", dt.date(2031, 3, 30), 2, dt.datetime(2031, 3, 30, 1, tzinfo=dt.UTC)),  # a skipped hour
        ("America/New_York", dt.date(2031, 11, 2), 1, dt.datetime(2031, 11, 2, 5, tzinfo=dt.UTC)),  # ambiguous: first
    ],
)
def test_local_send_times_across_dst(zone, day, hour, utc):
    customer = CustomerFactory.build(timezone=zone)
    assert (
        campaign_local_send_time(customer=customer, day=day, hour=hour, now=dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
        == utc
    )


def test_quiet_hours_hold_a_campaign_in_the_customers_timezone(audience, django_capture_on_commit_callbacks):
    customer = audience["customers"][0]
    customer.timezone = "Pacific/Auckland"
    customer.save()
    now_local = timezone.now().astimezone(customer.zone)
    start = (now_local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now_local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    ContactPreference.objects.create(customer=customer, quiet_hours_start=start, quiet_hours_end=end)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_schedule(campaign=_campaign(audience))
    row = Delivery.objects.get(customer=customer)
    assert row.status == "queued"
    assert row.next_attempt_at.astimezone(customer.zone).time().replace(second=0) == end
    assert len(mail.outbox) == 4


def test_the_frequency_cap_holds_back_the_fourth_message_in_a_week(audience, django_capture_on_commit_callbacks):
    capped, fresh = audience["customers"][0], audience["customers"][1]
    for n in range(3):
        delivery_plan(key=f"old:{n}", category="reminder", subject="s", body="b", customer=capped)
    delivery_plan(key="old:outage", category="outage", subject="s", body="b", customer=fresh)
    delivery_plan(key="old:service", category="service", subject="s", body="b", customer=fresh)
    with django_capture_on_commit_callbacks(execute=True):
        campaign = _campaign(audience)
        campaign_schedule(campaign=campaign)
    row = Delivery.objects.get(source=campaign.source, customer=capped)
    assert (row.status, row.suppressed_reason) == ("suppressed", "frequency cap: 3 messages in 7 days")
    assert Delivery.objects.get(source=campaign.source, customer=fresh).status == "sent"


def test_messages_older_than_the_window_do_not_count(audience, django_capture_on_commit_callbacks):
    customer = audience["customers"][0]
    for n in range(3):
        delivery_plan(key=f"old:{n}", category="reminder", subject="s", body="b", customer=customer)
    Delivery.objects.filter(customer=customer).update(created_at=timezone.now() - dt.timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        campaign = _campaign(audience)
        campaign_schedule(campaign=campaign)
    assert Delivery.objects.get(source=campaign.source, customer=customer).status == "sent"


def test_an_opt_out_suppresses_with_its_reason(audience, django_capture_on_commit_callbacks):
    customer = audience["customers"][2]
    ContactPreference.objects.create(customer=customer, opted_out=["announcement"])
    with django_capture_on_commit_callbacks(execute=True):
        campaign = _campaign(audience)
        campaign_schedule(campaign=campaign)
    row = Delivery.objects.get(source=campaign.source, customer=customer)
    assert (row.status, row.suppressed_reason) == ("suppressed", "opted out of announcements")
    assert len(mail.outbox) == 4
