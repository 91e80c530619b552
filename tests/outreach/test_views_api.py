import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from outreach.models import Campaign, Incident, Template
from outreach.services import campaign_create, incident_declare
from tests.factories import CustomerFactory, CustomerUserFactory, OrganizationFactory, ProductFactory
from tests.outreach.factories import SegmentFactory, TemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    product = ProductFactory(slug="billing")
    org = OrganizationFactory()
    org.products.add(product)
    CustomerFactory.create_batch(2, organization=org)
    return product


# --- pages --------------------------------------------------------------------------------


def test_the_workspace_pages_render(manager_client, product):
    incident = incident_declare(title="Down", message="Sorry", products=[product])
    campaign = campaign_create(name="News", template=TemplateFactory(), segment=SegmentFactory())
    for url in [
        "/agent/outreach/",
        "/agent/outreach/incidents/new/",
        "/agent/outreach/maintenance/new/",
        f"/agent/outreach/incidents/{incident.pk}/",
        "/agent/outreach/campaigns/new/",
        f"/agent/outreach/campaigns/{campaign.pk}/",
        f"/agent/outreach/templates/{campaign.template_id}/",
        "/agent/outreach/templates/new/",
        f"/agent/outreach/segments/{campaign.segment_id}/",
        "/agent/outreach/segments/new/",
    ]:
        response = manager_client.get(url)
        assert response.status_code == 200, url
    page = manager_client.get(f"/agent/outreach/incidents/{incident.pk}/").content.decode()
    assert 'id="incident-progress"' in page
    assert "data-percent=" in page
    assert 'id="campaign-progress"' in manager_client.get(f"/agent/outreach/campaigns/{campaign.pk}/").content.decode()


def test_progress_polls_return_the_partial(agent_client, product, htmx_headers):
    incident = incident_declare(title="Down", message="Sorry", products=[product])
    for target in ("incident-live", "incident-progress"):  # the old target still gets the live partial
        response = agent_client.get(
            f"/agent/outreach/incidents/{incident.pk}/", headers={**htmx_headers, "HX-Target": target}
        )
        html = response.content.decode()
        assert html.strip().startswith('<div id="incident-live"')
        # the bar and the figures in one partial: both refresh with each poll
        assert 'id="incident-progress"' in html
        assert 'data-figure="sent"' in html
        assert 'hx-trigger="every 2s"' in html  # planning has not run: it polls fast
        assert "<html" not in html


def test_customers_and_strangers_do_not_see_the_workspace(client, customer_client):
    assert client.get("/agent/outreach/").status_code == 302
    assert customer_client.get("/agent/outreach/").status_code == 404


def test_declaring_from_the_page_notifies_and_keeps_input_on_error(
    manager_client, product, django_capture_on_commit_callbacks
):
    response = manager_client.post(
        "/agent/outreach/incidents/new/", {"title": "Kept title", "message": "m", "severity": "major"}
    )
    assert response.status_code == 200
    assert 'value="Kept title"' in response.content.decode()
    assert Incident.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            "/agent/outreach/incidents/new/",
            {"title": "Billing down", "message": "m", "severity": "major", "products": [product.pk]},
        )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response.url == f"/agent/outreach/incidents/{incident.pk}/"


def test_template_preview_for_a_customer(agent_client, htmx_headers):
    template = TemplateFactory(body="Hi {{ customer.name }}")
    customer = CustomerFactory(name="<script>x</script>")
    response = agent_client.get(
        f"/agent/outreach/templates/{template.pk}/?customer={customer.pk}", headers=htmx_headers
    )
    html = response.content.decode()
    assert "Hi &lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x" not in html


XSS = '<img src=x onerror=alert(1)><div hx-get="/admin/" hx-trigger="load">'


def test_a_saved_subject_and_body_with_script_and_htmx_attributes_preview_as_text(
    manager_client, manager, htmx_headers
):
    # given a template editor saves the payload of issue #9 in a template's subject and body
    response = manager_client.post(
        "/agent/outreach/templates/new/",
        {
            "name": "News",
            "category": "announcement",
            "subject": f"<b>New</b>{XSS}",
            "body": "Hi <em>{{ customer.name }}</em>" + XSS,
        },
    )
    assert response.status_code == 302
    template = Template.objects.get(name="News")
    customer = CustomerFactory(name="<b>Ada</b>")
    manager_client = Client()
    manager_client.force_login(manager)
    for headers in ({}, htmx_headers):
        # when a manager opens its preview, as a page and as the htmx partial
        html = manager_client.get(f"/agent/outreach/templates/{template.pk}/?customer={customer.pk}", headers=headers)
        html = html.content.decode()
        html = html[html.index('<div id="preview">') :]  # (the form above shows the source, escaped)
        html = html[: html.index("</div>\n")]
        # then the subject and the body show as typed, as text, the body inside an hx-disable box:
        # no tag of theirs (a handler, an htmx attribute) reaches the page
        subject = f"&lt;b&gt;New&lt;/b&gt;{escape(XSS)}"
        assert f"<p><strong>{subject}</strong></p>" in html
        payload = escape(XSS).replace("&quot;", '"')  # in text (not an attribute) quotes need no escaping
        body = f"Hi &lt;em&gt;&lt;b&gt;Ada&lt;/b&gt;&lt;/em&gt;{payload}"
        assert f'<div class="preview" hx-disable><p>{body}</p>' in html
        for tag in ("<b>", "<em>", "<img", "<div hx-get"):
            assert tag not in html


def test_a_template_form_opened_before_in_app_body_went_still_saves_without_it(manager_client):
    # given an edit page from before the field went, which still posts it
    template = TemplateFactory(name="News")
    fields = {"name": "News", "category": "announcement", "subject": "s", "body": "Hi", "in_app_body": "Exports!"}
    # when the manager saves it
    response = manager_client.post(f"/agent/outreach/templates/{template.pk}/", fields)
    # then the template is saved and the extra field is ignored: nothing shows or sends it
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.subject, template.body) == ("s", "Hi")
    assert not hasattr(template, "in_app_body")


def test_a_campaign_preview_is_sanitized_and_inside_an_hx_disable_box(agent_client):
    CustomerFactory(name='<img src=x onerror="alert(3)">')
    template = TemplateFactory(body="Hello {{ customer.name }}")
    campaign = campaign_create(name="News", template=template, segment=SegmentFactory())
    html = agent_client.get(f"/agent/outreach/campaigns/{campaign.pk}/").content.decode()
    assert '<div class="preview" hx-disable><p>Hello &lt;img src=x onerror="alert(3)"&gt;</p></div>' in html


def test_a_template_that_does_not_compile_is_refused_with_input_kept(manager_client):
    response = manager_client.post(
        "/agent/outreach/templates/new/",
        {"name": "Broken", "category": "announcement", "subject": "s", "body": "{% if %}"},
    )
    assert response.status_code == 200
    assert "does not compile" in response.content.decode()
    assert 'value="Broken"' in response.content.decode()


def test_campaign_schedule_and_cancel_from_the_page(manager_client):
    campaign = campaign_create(
        name="Later",
        template=TemplateFactory(),
        segment=SegmentFactory(),
        schedule="at",
        send_at=timezone.now() + dt.timedelta(days=1),
    )
    manager_client.post(f"/agent/outreach/campaigns/{campaign.pk}/schedule/")
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    manager_client.post(f"/agent/outreach/campaigns/{campaign.pk}/cancel/")
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"


def test_the_status_page_and_banner_for_signed_in_customers(product):
    from django.test import Client

    incident_declare(title="Visible outage", message="Sorry", products=[product])
    client = Client()
    client.force_login(CustomerUserFactory())
    html = client.get("/help/preferences/").content.decode()
    assert "Visible outage" in html
    assert 'href="/help/status/"' in html


# --- API ----------------------------------------------------------------------------------


def test_api_declare_update_resolve_and_list(manager, api_client_for, product, django_capture_on_commit_callbacks):
    api = api_client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/v1/incidents/", {"title": "API down", "message": "m", "products": ["billing"]}, format="json"
        )
        assert created.status_code == 201
        pk = created.json()["id"]
        assert api.post(f"/api/v1/incidents/{pk}/updates/", {"message": "fixing"}, format="json").status_code == 201
        resolved = api.post(f"/api/v1/incidents/{pk}/resolve/", {"message": "done"}, format="json")
    assert resolved.json()["status"] == "resolved"
    assert [u["kind"] for u in resolved.json()["updates"]] == ["declared", "update", "resolved"]
    assert api.get("/api/v1/incidents/").json()["results"][0]["id"] == pk
    assert api.get(f"/api/v1/incidents/{pk}/progress/").json()["sent"] == 6
    deliveries = api.get(f"/api/v1/deliveries/?source=incident:{pk}").json()["results"]
    assert len(deliveries) == 6


def test_api_validation_errors_are_per_field(agent, manager, api_client_for):
    response = api_client_for(manager).post("/api/v1/incidents/", {"title": ""}, format="json")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) >= {"title", "message"}
    response = api_client_for(agent).post("/api/v1/campaigns/", {"name": "x", "template": 999}, format="json")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) >= {"template", "segment"}
    assert Incident.objects.count() == 0


def test_api_campaign_create_schedule_progress_cancel(manager, api_client_for, django_capture_on_commit_callbacks):
    CustomerFactory.create_batch(3)
    api = api_client_for(manager)
    body = {"name": "News", "template": TemplateFactory().pk, "segment": SegmentFactory().pk, "throttle_per_minute": 1}
    created = api.post("/api/v1/campaigns/", body, format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/campaigns/{pk}/schedule/").json()["status"] == "sending"
    progress = api.get(f"/api/v1/campaigns/{pk}/progress/").json()
    assert (progress["sent"], progress["queued"], progress["planned"]) == (1, 2, 3)
    cancelled = api.post(f"/api/v1/campaigns/{pk}/cancel/").json()
    assert (cancelled["campaign"]["status"], cancelled["not_sent"]) == ("cancelled", 2)
    assert api.post(f"/api/v1/campaigns/{pk}/cancel/").status_code == 400


def test_api_is_for_agents_and_unknown_ids_are_404(customer_user, agent, api_client_for):
    assert api_client_for(customer_user).get("/api/v1/incidents/").status_code == 403
    assert api_client_for(customer_user).get("/api/v1/deliveries/").status_code == 403
    assert api_client_for(agent).get("/api/v1/campaigns/999/").status_code == 404
    assert Campaign.objects.count() == 0


def test_the_openapi_schema_lists_the_outreach_endpoints(agent_client):
    schema = agent_client.get("/api/schema/?format=json").json()
    for path in [
        "/api/v1/incidents/",
        "/api/v1/incidents/{incident_id}/resolve/",
        "/api/v1/campaigns/",
        "/api/v1/campaigns/{campaign_id}/progress/",
        "/api/v1/deliveries/",
    ]:
        assert path in schema["paths"]
