"""Who may do what (core.policies): one table, enforced alike on the pages, the API and the admin."""

import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone

from core.policies import CAPABILITIES, can
from customers.models import Customer, Delivery, Organization
from outreach.models import Campaign, Incident, Segment, Template
from outreach.services import campaign_create, incident_declare
from tests.factories import AgentFactory, CustomerFactory, ManagerFactory, OrganizationFactory, ProductFactory
from tests.outreach.factories import SegmentFactory, TemplateFactory

pytestmark = pytest.mark.django_db

AGENT_MAY = {"campaign.draft"}


@pytest.fixture
def product():
    product = ProductFactory(slug="billing")
    org = OrganizationFactory()
    org.products.add(product)
    CustomerFactory.create_batch(2, organization=org)
    return product


@pytest.fixture
def on_call_agent(db):
    agent = AgentFactory()
    agent.groups.add(Group.objects.get(name="On call"))
    return agent


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_capability_names_a_permission_that_exists():
    for name, capability in CAPABILITIES.items():
        app_label, codename = capability.permission.split(".")
        assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), name


def test_managers_hold_every_capability_and_agents_only_drafting(agent, manager, customer_user):
    assert {name for name in CAPABILITIES if can(manager, name)} == set(CAPABILITIES)
    assert {name for name in CAPABILITIES if can(agent, name)} == AGENT_MAY
    assert {name for name in CAPABILITIES if can(customer_user, name)} == set()


def test_a_deactivated_manager_holds_nothing():
    manager = ManagerFactory(is_active=False)
    assert not any(can(manager, name) for name in CAPABILITIES)


def test_the_on_call_group_or_one_permission_grants_incident_declaration(on_call_agent):
    assert can(on_call_agent, "incident.declare")
    assert not can(on_call_agent, "campaign.send")
    one = AgentFactory()
    one.user_permissions.add(Permission.objects.get(codename="declare_incident"))
    assert can(type(one).objects.get(pk=one.pk), "incident.declare")


def test_an_unknown_capability_is_an_error_not_a_silent_no(agent):
    with pytest.raises(KeyError):
        can(agent, "incident.delcare")


# --- pages -------------------------------------------------------------------------------------------


def test_an_agent_cannot_declare_an_incident_from_the_page_and_is_told_who_can(agent_client, product):
    page = agent_client.get("/agent/outreach/incidents/new/")
    assert page.status_code == 403
    assert "Only managers may declare incidents" in page.content.decode()
    response = agent_client.post(
        "/agent/outreach/incidents/new/",
        {"title": "Billing down", "message": "m", "severity": "major", "products": [product.pk]},
    )
    assert response.status_code == 403
    assert Incident.objects.count() == 0
    assert Delivery.objects.count() == 0


def test_the_outreach_home_shows_an_agent_a_message_instead_of_the_declare_button(agent_client, manager_client):
    agent_page = agent_client.get("/agent/outreach/").content.decode()
    assert "/agent/outreach/incidents/new/" not in agent_page
    assert "/agent/outreach/templates/new/" not in agent_page
    assert "A manager or the on-call agent declares incidents" in agent_page
    assert "/agent/outreach/campaigns/new/" in agent_page  # drafting is for everyone
    manager_page = manager_client.get("/agent/outreach/").content.decode()
    assert "/agent/outreach/incidents/new/" in manager_page
    assert "declares incidents" not in manager_page


def test_an_agent_cannot_update_resolve_or_mass_solve_an_incident(agent_client, product):
    incident = incident_declare(title="Down", message="Sorry", products=[product])
    page = agent_client.get(f"/agent/outreach/incidents/{incident.pk}/").content.decode()
    assert f"/agent/outreach/incidents/{incident.pk}/resolve/" not in page
    assert "posts updates and resolves" in page
    sent = Delivery.objects.count()
    for action in ("update", "resolve", "solve-linked"):
        response = agent_client.post(f"/agent/outreach/incidents/{incident.pk}/{action}/", {"message": "m"})
        assert response.status_code == 403, action
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ACTIVE
    assert incident.updates.count() == 1
    assert Delivery.objects.count() == sent


def test_an_on_call_agent_declares_from_the_page(on_call_agent, product, django_capture_on_commit_callbacks):
    client = _client(on_call_agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/agent/outreach/incidents/new/",
            {"title": "Billing down", "message": "m", "severity": "major", "products": [product.pk]},
        )
    assert response.status_code == 302
    assert Incident.objects.get().declared_by == on_call_agent


def test_an_agent_drafts_a_campaign_but_cannot_send_or_cancel_it(agent, agent_client):
    CustomerFactory.create_batch(2)
    template, segment = TemplateFactory(), SegmentFactory()
    response = agent_client.post(
        "/agent/outreach/campaigns/new/",
        {"name": "News", "template": template.pk, "segment": segment.pk, "schedule": "now", "throttle_per_minute": 60},
    )
    assert response.status_code == 302, response.context["form"].errors
    campaign = Campaign.objects.get()
    assert campaign.created_by == agent
    page = agent_client.get(f"/agent/outreach/campaigns/{campaign.pk}/").content.decode()
    assert "A manager sends, schedules or cancels this campaign." in page
    assert f"/agent/outreach/campaigns/{campaign.pk}/schedule/" not in page
    assert agent_client.post(f"/agent/outreach/campaigns/{campaign.pk}/schedule/").status_code == 403
    assert agent_client.post(f"/agent/outreach/campaigns/{campaign.pk}/cancel/").status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert Delivery.objects.count() == 0


def test_an_agent_reads_templates_and_segments_but_cannot_change_them(agent_client):
    template = TemplateFactory(name="Renewal", subject="Old subject")
    segment = SegmentFactory(name="Everyone")
    page = agent_client.get(f"/agent/outreach/templates/{template.pk}/").content.decode()
    assert "Only managers edit templates" in page
    assert "Old subject" in page
    assert "Save template" not in page
    response = agent_client.post(
        f"/agent/outreach/templates/{template.pk}/",
        {"name": "Renewal", "category": "announcement", "subject": "New subject", "body": "b"},
    )
    assert response.status_code == 403
    template.refresh_from_db()
    assert template.subject == "Old subject"
    assert agent_client.get("/agent/outreach/templates/new/").status_code == 403
    assert agent_client.post(f"/agent/outreach/segments/{segment.pk}/", {"name": "Hijacked"}).status_code == 403
    assert agent_client.get("/agent/outreach/segments/new/").status_code == 403
    segment.refresh_from_db()
    assert segment.name == "Everyone"
    assert (Template.objects.count(), Segment.objects.count()) == (1, 1)


def test_a_customer_still_gets_a_404_and_a_stranger_the_sign_in(client, customer_client):
    assert customer_client.get("/agent/outreach/incidents/new/").status_code == 404
    assert client.get("/agent/outreach/incidents/new/").status_code == 302


# --- API ---------------------------------------------------------------------------------------------


def test_the_api_refuses_an_agent_what_the_pages_refuse(agent, api_client_for, product):
    api = api_client_for(agent)
    response = api.post("/api/v1/incidents/", {"title": "API down", "message": "m", "products": ["billing"]})
    assert response.status_code == 403
    assert response.json()["message"] == "Only managers may declare incidents and post updates to customers. " + (
        "Ask a manager if you need this."
    )
    assert api.get("/api/v1/incidents/").status_code == 200  # reading stays open to agents
    incident = incident_declare(title="Down", message="Sorry", products=[product])
    assert api.post(f"/api/v1/incidents/{incident.pk}/updates/", {"message": "x"}).status_code == 403
    assert api.post(f"/api/v1/incidents/{incident.pk}/resolve/", {"message": "x"}).status_code == 403
    campaign = campaign_create(
        name="Later",
        template=TemplateFactory(),
        segment=SegmentFactory(),
        schedule="at",
        send_at=timezone.now() + dt.timedelta(days=1),
    )
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/schedule/").status_code == 403
    assert api.post(f"/api/v1/campaigns/{campaign.pk}/cancel/").status_code == 403
    campaign.refresh_from_db()
    incident.refresh_from_db()
    assert (campaign.status, incident.status, incident.updates.count()) == ("draft", "active", 1)


def test_the_api_lets_an_agent_draft_and_an_on_call_agent_declare(agent, on_call_agent, api_client_for, product):
    body = {"name": "News", "template": TemplateFactory().pk, "segment": SegmentFactory().pk}
    assert api_client_for(agent).post("/api/v1/campaigns/", body, format="json").status_code == 201
    response = api_client_for(on_call_agent).post(
        "/api/v1/incidents/", {"title": "API down", "message": "m", "products": ["billing"]}, format="json"
    )
    assert response.status_code == 201


# --- admin -------------------------------------------------------------------------------------------


def test_an_agent_with_admin_access_still_cannot_change_customers_or_templates():
    agent = AgentFactory(is_staff=True)
    client = _client(agent)
    customer = CustomerFactory(name="Ada")
    template = TemplateFactory(subject="Old")
    org = customer.organization
    response = client.post(
        f"/admin/customers/customer/{customer.pk}/change/",
        {"name": "Changed", "email": "evil@attacker.example", "timezone": "UTC", "language": "en"},
    )
    assert response.status_code == 403
    assert client.post(f"/admin/outreach/template/{template.pk}/change/", {"subject": "New"}).status_code == 403
    assert client.get("/admin/customers/organization/add/").status_code == 403
    assert client.post(f"/admin/customers/organization/{org.pk}/change/", {"name": "x"}).status_code == 403
    assert client.get("/admin/outreach/incident/add/").status_code == 403
    customer.refresh_from_db()
    template.refresh_from_db()
    assert (customer.name, customer.email, template.subject) == ("Ada", customer.email, "Old")
    assert Organization.objects.get(pk=org.pk).name == org.name
    # reading stays open
    assert client.get(f"/admin/customers/customer/{customer.pk}/change/").status_code == 200


def test_a_manager_changes_a_customer_in_the_admin(manager_client):
    customer = CustomerFactory(name="Ada")
    response = manager_client.get(f"/admin/customers/customer/{customer.pk}/change/")
    assert response.status_code == 200
    assert 'name="_save"' in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).name == "Ada"
