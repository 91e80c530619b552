"""The pages under the Content-Security-Policy in real Chromium: nothing is refused, nothing leaves the
machine, and an XSS payload written into a template, an article or a message runs nowhere."""

import json
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from knowledge.models import Article
from outreach.models import Template
from tests.browser.conftest import sign_in
from tests.factories import AgentFactory, CustomerFactory, ManagerFactory
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = '<img src=x onerror=alert(1)><div hx-get="/admin/" hx-trigger="load">payload-marker</div>'

# reported by every document before its own scripts run (an init script is not subject to the policy)
WATCH_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportViolation(JSON.stringify({
    page: document.location.pathname, directive: event.effectiveDirective, blocked: event.blockedURI,
    sample: event.sample, source: event.sourceFile, line: event.lineNumber,
  }));
});
"""


class Watch:
    """What a page did that it should not: policy violations, dialogs, requests off the site, htmx calls."""

    def __init__(self, page, live_server):
        self.origin = live_server.url
        self.violations: list[dict] = []
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.external: list[str] = []
        self.htmx_requests: list[str] = []
        page.expose_function("__reportViolation", lambda text: self.violations.append(json.loads(text)))
        page.add_init_script(WATCH_VIOLATIONS)
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))
        page.on("dialog", self._dialog)
        page.on("request", self._request)
        # offline: anything for another host is refused before it leaves the machine, and counted
        page.route(lambda url: not url.startswith(self.origin), lambda route: route.abort())

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request):
        url = request.url
        if url.startswith(("data:", "blob:")):
            return
        if not url.startswith(self.origin):
            self.external.append(url)
        elif request.headers.get("hx-request"):
            self.htmx_requests.append(urlsplit(url).path)

    def assert_clean(self):
        csp_errors = [text for text in self.console_errors if "Content Security Policy" in text]
        assert self.violations == [], self.violations
        assert csp_errors == [], csp_errors
        assert self.external == [], self.external
        assert self.dialogs == [], self.dialogs


@pytest.fixture
def watch(page, live_server):
    return Watch(page, live_server)


def test_help_center_article_and_ticket_pages_run_under_the_policy_and_no_payload_runs(
    page, live_server, watch, screenshot_on_failure
):
    agent = AgentFactory(email="alex@support.example", name="Alex Agent")
    queue = QueueFactory(name="Support", slug="support")
    QueueMembershipFactory(queue=queue, agent=agent)
    article = ArticleFactory(title="Exporting invoices", body="Open **Billing** and choose Export.")
    ticket = make_ticket(queue=queue, subject="Export fails", body="It spins.")
    # HTML that reached the database some other way than the sanitizer (an import, an old version)
    Article.objects.filter(pk=article.pk).update(body_html=f"<p>Open Billing.</p>{PAYLOAD}")
    Message.objects.filter(ticket=ticket).update(body_html=f"<p>It spins.</p>{PAYLOAD}")

    page.goto(f"{live_server.url}/help/")
    expect(page.get_by_role("link", name="Search articles")).to_be_visible()
    page.goto(f"{live_server.url}/help/articles/{article.slug}/")
    expect(page.get_by_role("heading", name="Exporting invoices")).to_be_visible()
    expect(page.locator(".kb-article")).to_contain_text("payload-marker")
    # htmx still works on the page: the feedback form posts and swaps in place
    page.get_by_role("radio", name="Yes").check()
    page.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_text("Thank you for your feedback.")).to_be_visible()

    sign_in(page, live_server, "alex@support.example")
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    expect(page.get_by_role("heading", name="Export fails")).to_be_visible()
    expect(page.locator(".thread")).to_contain_text("payload-marker")
    page.wait_for_timeout(300)  # a hx-trigger="load" would have fired by now
    assert "onerror" not in page.content()

    # the editor's live preview is swapped by htmx into an hx-disable'd box
    page.goto(f"{live_server.url}/agent/knowledge/new/")
    page.get_by_label("Body:", exact=True).fill(f"**Bold step**\n\n{PAYLOAD}")
    expect(page.locator("#preview strong")).to_have_text("Bold step")
    page.wait_for_timeout(300)

    assert "/admin/" not in watch.htmx_requests
    watch.assert_clean()


def test_the_template_preview_payload_does_not_run_in_a_managers_browser(
    page, live_server, watch, screenshot_on_failure
):
    ManagerFactory(email="tess@support.example", name="Tess Templates")
    ManagerFactory(email="mona@support.example", name="Mona Manager")
    customer = CustomerFactory(name="Ada Lovelace", email="ada@math.example")

    # one manager (only managers may edit templates) saves the template through the form
    sign_in(page, live_server, "tess@support.example")
    page.goto(f"{live_server.url}/agent/outreach/templates/new/")
    page.get_by_label("Name").fill("Innocent news")
    page.get_by_label("Category").select_option(label="Announcements")
    page.get_by_label("Subject").fill(f"News for {{{{ customer.first_name }}}} {PAYLOAD}")
    page.get_by_label("Body:", exact=True).fill(f"Hello {{{{ customer.name }}}}: {PAYLOAD}")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("heading", name="Innocent news")).to_be_visible()
    template = Template.objects.get(name="Innocent news")
    # kept as typed; it is made harmless where it is shown
    assert (template.subject, template.body) == (
        f"News for {{{{ customer.first_name }}}} {PAYLOAD}",
        f"Hello {{{{ customer.name }}}}: {PAYLOAD}",
    )
    page.get_by_role("button", name="Sign out").click()

    # a manager opens its preview for a customer, the whole page and then the htmx partial
    sign_in(page, live_server, "mona@support.example")
    page.goto(f"{live_server.url}/agent/outreach/templates/{template.pk}/?customer={customer.pk}")
    expect(page.locator("#preview strong")).to_have_text(f"News for Ada {PAYLOAD}")  # the subject, as text
    expect(page.locator("#preview .preview")).to_have_text(f"Hello Ada Lovelace: {PAYLOAD}")  # the body, too
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview strong")).to_have_text(f"News for Ada {PAYLOAD}")
    expect(page.locator("#preview .preview")).to_have_text(f"Hello Ada Lovelace: {PAYLOAD}")
    page.wait_for_timeout(300)

    assert "/admin/" not in watch.htmx_requests
    assert page.locator("#preview img[onerror], #preview [hx-get]").count() == 0
    watch.assert_clean()


def test_the_admin_and_the_api_docs_render_offline_under_the_policy(page, live_server, watch, screenshot_on_failure):
    ManagerFactory(email="mona@support.example", name="Mona Manager", is_superuser=True)
    template = Template.objects.create(name="Welcome", category="onboarding", subject="Hi", body="Hello")

    sign_in(page, live_server, "mona@support.example")
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(f"{live_server.url}/admin/outreach/template/")
    expect(page.get_by_role("link", name="Welcome")).to_be_visible()
    page.goto(f"{live_server.url}/admin/outreach/template/{template.pk}/change/")
    expect(page.get_by_label("Name")).to_have_value("Welcome")

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Helpdesk API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()

    # the Redoc page is gone (its bundle loads a logo from a CDN): old links land on the Swagger page
    page.goto(f"{live_server.url}/api/redoc/")
    assert page.url == f"{live_server.url}/api/docs/"
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Helpdesk API")

    watch.assert_clean()
