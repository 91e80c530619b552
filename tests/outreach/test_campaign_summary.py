"""One source of truth for a campaign: campaign_summary, read by the page, its partial and the API."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from core.exceptions import ApplicationError
from customers.models import Delivery
from outreach.models import Campaign
from outreach.selectors import campaign_summaries, campaign_summary
from outreach.services import campaign_cancel, campaign_create, campaign_schedule
from tests.factories import CustomerFactory, OrganizationFactory
from tests.outreach.factories import SegmentFactory, TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_campaign(django_capture_on_commit_callbacks):
    org = OrganizationFactory(plan="enterprise")
    customers = [CustomerFactory(organization=org) for _ in range(3)]
    campaign = campaign_create(name="News", template=TemplateFactory(), segment=SegmentFactory(plans=["enterprise"]))
    with django_capture_on_commit_callbacks(execute=True):
        campaign_schedule(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "sending"  # the beat has not marked it yet: this is where the page contradicted itself
    return campaign, customers


def test_a_campaign_whose_rows_all_went_is_sent_with_no_cancel_even_before_the_beat_marks_it(
    sent_campaign, manager_client, api_client_for, manager
):
    campaign, _ = sent_campaign
    summary = campaign_summary(campaign=campaign)
    assert (summary["state"], summary["percent"], summary["sent"], summary["can_cancel"]) == ("sent", 100, 3, False)
    page = manager_client.get(campaign.get_absolute_url()).content.decode()
    assert 'data-state="sent"' in page
    assert "Cancel campaign" not in page
    assert "hx-trigger" not in page.split('id="campaign-live"', 1)[1].split(">", 1)[0]  # nothing left to poll
    api = api_client_for(manager)
    assert api.get(f"/api/v1/campaigns/{campaign.pk}/").json()["status"] == "sent"
    assert api.get(f"/api/v1/campaigns/{campaign.pk}/progress/").json()["state"] == "sent"
    assert api.get("/api/v1/campaigns/").json()["results"][0]["summary"]["can_cancel"] is False
    with pytest.raises(ApplicationError):
        campaign_cancel(campaign=campaign)
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/cancel/").status_code == 400
    campaign.refresh_from_db()
    assert campaign.status == "sending"  # nothing changed


def test_the_audience_of_a_sent_campaign_is_who_was_addressed_not_the_segment_now(sent_campaign, manager_client):
    campaign, customers = sent_campaign
    customers[0].organization = OrganizationFactory(plan="free")  # left the segment after it was sent
    customers[0].save(update_fields=["organization"])
    summary = campaign_summary(campaign=campaign)
    assert (summary["audience"], summary["sent"]) == (3, 3)
    page = manager_client.get(campaign.get_absolute_url()).content.decode()
    assert 'data-audience="3"' in page
    assert "3</strong> customers addressed" in page


def test_while_rows_wait_the_campaign_is_sending_and_can_be_cancelled(
    manager_client, django_capture_on_commit_callbacks
):
    org = OrganizationFactory(plan="enterprise")
    for _ in range(3):
        CustomerFactory(organization=org)
    campaign = campaign_create(
        name="Slow", template=TemplateFactory(), segment=SegmentFactory(plans=["enterprise"]), throttle_per_minute=1
    )
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_schedule(campaign=campaign)
    summary = campaign_summary(campaign=campaign)
    assert (summary["state"], summary["sent"], summary["queued"], summary["can_cancel"]) == ("sending", 1, 2, True)
    page = manager_client.get(campaign.get_absolute_url()).content.decode()
    assert "Cancel campaign" in page
    assert 'hx-trigger="every 2s"' in page
    live = manager_client.get(campaign.get_absolute_url(), headers={"HX-Request": "true", "HX-Target": "campaign-live"})
    html = live.content.decode().strip()
    assert html.startswith('<div id="campaign-live"')
    assert 'data-state="sending"' in html
    assert 'id="campaign-progress"' in html
    assert "Cancel campaign" in html


def test_summaries_of_a_list_cost_two_queries(django_assert_num_queries, django_capture_on_commit_callbacks):
    CustomerFactory.create_batch(2)
    campaigns = []
    for n in range(4):
        campaign = campaign_create(name=f"c{n}", template=TemplateFactory(), segment=SegmentFactory())
        if n % 2:
            with django_capture_on_commit_callbacks(execute=True):
                campaign_schedule(campaign=campaign)
        campaigns.append(Campaign.objects.get(pk=campaign.pk))
    with django_assert_num_queries(2):
        summaries = campaign_summaries(campaigns=campaigns)
    assert [summaries[c.pk]["state"] for c in campaigns] == ["draft", "sent", "draft", "sent"]


def test_a_held_row_does_not_keep_a_campaign_sending(django_capture_on_commit_callbacks):
    from tests.tickets.factories import make_ticket

    busy, free = CustomerFactory(), CustomerFactory()
    make_ticket(requester=busy)
    campaign = campaign_create(name="N", template=TemplateFactory(category="announcement"), segment=SegmentFactory())
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_schedule(campaign=campaign)
    summary = campaign_summary(campaign=campaign)
    assert (summary["state"], summary["held"], summary["sent"], summary["percent"]) == ("sent", 1, 1, 100)
    assert summary["state_label"] == "Sent · 1 held until their tickets are solved"
    assert summary["can_cancel"] is True  # the held one can still be stopped
    assert free.pk != busy.pk


def test_the_demo_campaign_is_consistent(manager_client):
    for name in ("Agents", "Managers"):  # a transactional test may have flushed the migrations' groups
        Group.objects.get_or_create(name=name)
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())  # idempotent
    campaign = Campaign.objects.get(name="Spring release news")
    summary = campaign_summary(campaign=campaign)
    rows = Delivery.objects.filter(source=campaign.source)
    assert summary["state"] == "sent"
    assert summary["sent"] == summary["audience"] == rows.count() > 0
    assert summary["percent"] == 100
    page = manager_client.get(campaign.get_absolute_url()).content.decode()
    assert f"100% · {rows.count()} sent" in page
