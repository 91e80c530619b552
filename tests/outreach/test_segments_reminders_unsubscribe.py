import datetime as dt

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from customers.models import ContactPreference, Delivery
from outreach.models import ReminderRule
from outreach.selectors import queryset_count_capped, segment_customers, segment_preview
from outreach.services import reminders_run
from outreach.services.rendering import unsubscribe_token
from tests.factories import CustomerFactory, OrganizationFactory, ProductFactory, TagFactory
from tests.outreach.factories import SegmentFactory, TemplateFactory

pytestmark = pytest.mark.django_db


# --- segments ---------------------------------------------------------------------------


def test_segment_criteria_combine_with_and():
    analytics = ProductFactory(slug="analytics")
    vip = TagFactory(name="vip")
    eu = OrganizationFactory(plan="enterprise", region="eu-west")
    eu.products.add(analytics)
    us = OrganizationFactory(plan="enterprise", region="us-east")
    match = CustomerFactory(organization=eu)
    match.tags.add(vip)
    CustomerFactory(organization=eu)  # no tag
    other = CustomerFactory(organization=us)
    other.tags.add(vip)
    old = CustomerFactory(organization=eu, created_at=timezone.now() - dt.timedelta(days=400))
    old.tags.add(vip)
    segment = SegmentFactory(
        plans=["enterprise"], regions=["eu-west"], created_after=timezone.now() - dt.timedelta(days=30)
    )
    segment.products.add(analytics)
    segment.tags.add(vip)
    assert list(segment_customers(segment=segment)) == [match]


def test_segment_preview_counts_and_samples(django_assert_max_num_queries):
    customers = CustomerFactory.create_batch(4, organization=OrganizationFactory(plan="starter"))
    segment = SegmentFactory(plans=["starter"])
    with django_assert_max_num_queries(4):
        preview = segment_preview(segment=segment, sample_size=2)
    assert (preview["count"], preview["capped"], preview["label"]) == (4, False, "4")
    assert preview["sample"] == sorted(customers, key=lambda c: c.pk)[:2]


def test_counts_are_capped():
    CustomerFactory.create_batch(5)
    segment = SegmentFactory()
    assert queryset_count_capped(segment_customers(segment=segment), cap=3) == (3, True)
    assert queryset_count_capped(segment_customers(segment=segment), cap=10) == (5, False)


# --- reminders ----------------------------------------------------------------------------


@pytest.fixture
def renewal_rule():
    return ReminderRule.objects.create(
        name="Renewal in 14 days",
        anchor="renewal",
        offset_days=-14,
        template=TemplateFactory(category="reminder", subject="Your renewal on {{ organization.renewal_date }}"),
    )


def test_a_reminder_goes_once_per_rule_customer_and_occurrence(renewal_rule, django_capture_on_commit_callbacks):
    now = timezone.now()
    renewal = now.date() + dt.timedelta(days=14)
    org = OrganizationFactory(renewal_date=renewal)
    customers = CustomerFactory.create_batch(2, organization=org)
    CustomerFactory(organization=OrganizationFactory(renewal_date=renewal + dt.timedelta(days=30)))
    with django_capture_on_commit_callbacks(execute=True):
        reminders_run(now=now)
        reminders_run(now=now)  # twice
        reminders_run(now=now + dt.timedelta(days=2))  # and late
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in customers)
    key = f"reminder:{renewal_rule.pk}:customer:{customers[0].pk}:{renewal.isoformat()}"
    assert Delivery.objects.filter(idempotency_key=key).count() == 1


def test_a_late_run_still_sends_within_the_catch_up_window(renewal_rule, django_capture_on_commit_callbacks):
    now = timezone.now()
    CustomerFactory(organization=OrganizationFactory(renewal_date=now.date() + dt.timedelta(days=12)))
    CustomerFactory(organization=OrganizationFactory(renewal_date=now.date() + dt.timedelta(days=9)))  # too late
    with django_capture_on_commit_callbacks(execute=True):
        result = reminders_run(now=now)
    assert result["planned"] == 1
    assert len(mail.outbox) == 1


def test_a_reminder_rule_respects_its_segment(renewal_rule, django_capture_on_commit_callbacks):
    renewal = timezone.now().date() + dt.timedelta(days=14)
    enterprise = CustomerFactory(organization=OrganizationFactory(renewal_date=renewal, plan="enterprise"))
    CustomerFactory(organization=OrganizationFactory(renewal_date=renewal, plan="free"))
    renewal_rule.segment = SegmentFactory(plans=["enterprise"])
    renewal_rule.save()
    with django_capture_on_commit_callbacks(execute=True):
        reminders_run()
    assert [m.to[0] for m in mail.outbox] == [enterprise.email]


def test_a_customer_date_rule_counts_from_that_date(django_capture_on_commit_callbacks):
    now = timezone.now()
    rule = ReminderRule.objects.create(
        name="We miss you", anchor="customer_last_seen", offset_days=30, template=TemplateFactory(category="reminder")
    )
    gone = CustomerFactory(last_seen_at=now - dt.timedelta(days=30))
    CustomerFactory(last_seen_at=now - dt.timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        reminders_run(now=now)
    assert [m.to[0] for m in mail.outbox] == [gone.email]
    assert Delivery.objects.get().idempotency_key.startswith(f"reminder:{rule.pk}:customer:{gone.pk}:")


# --- unsubscribe --------------------------------------------------------------------------


def test_the_unsubscribe_link_shows_a_confirm_page_and_post_opts_out(client):
    customer = CustomerFactory(email="ada@client.example")
    url = f"/help/unsubscribe/{unsubscribe_token(customer_id=customer.pk, category='announcement')}/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Stop sending <strong>announcements</strong> to ada@client.example?" in page.content.decode()
    assert not ContactPreference.objects.filter(customer=customer).exists()
    done = client.post(url)
    assert done.status_code == 200
    assert ContactPreference.objects.get(customer=customer).opted_out == ["announcement"]
    client.post(url)  # twice: the same
    assert ContactPreference.objects.get(customer=customer).opted_out == ["announcement"]


def test_one_click_post_without_csrf_token_opts_out():
    from django.test import Client

    customer = CustomerFactory()
    ContactPreference.objects.create(
        customer=customer, opted_out=["reminder"], quiet_hours_start=dt.time(22), quiet_hours_end=dt.time(7)
    )
    client = Client(enforce_csrf_checks=True)
    token = unsubscribe_token(customer_id=customer.pk, category="maintenance")
    response = client.post(f"/help/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    preference = ContactPreference.objects.get(customer=customer)
    assert preference.opted_out == ["maintenance", "reminder"]
    assert preference.quiet_hours_start == dt.time(22)


@pytest.mark.parametrize("tamper", ["signature", "payload", "essential"])
def test_a_tampered_unsubscribe_link_does_nothing(client, tamper):
    customer = CustomerFactory()
    other = CustomerFactory()
    token = unsubscribe_token(customer_id=customer.pk, category="announcement")
    if tamper == "signature":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif tamper == "payload":
        forged = unsubscribe_token(customer_id=other.pk, category="announcement")
        token = forged.split(":", 1)[0] + ":" + token.split(":", 1)[1]
    else:
        token = unsubscribe_token(customer_id=customer.pk, category="outage")
    assert client.get(f"/help/unsubscribe/{token}/").status_code == 404
    assert client.post(f"/help/unsubscribe/{token}/").status_code == 404
    assert ContactPreference.objects.count() == 0


@override_settings(SITE_URL="https://help.example")
def test_unsubscribe_tokens_in_mail_work(django_capture_on_commit_callbacks, client):
    from outreach.services import campaign_create, campaign_schedule

    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_create(name="c", template=TemplateFactory(category="onboarding"), segment=SegmentFactory())
        campaign_schedule(campaign=campaign)
    header = mail.outbox[0].extra_headers["List-Unsubscribe"]
    assert header.startswith("<https://help.example/help/unsubscribe/")
    client.post(header.strip("<>").removeprefix("https://help.example"))
    assert ContactPreference.objects.get(customer=customer).opted_out == ["onboarding"]
