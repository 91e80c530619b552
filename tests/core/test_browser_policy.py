"""What the browser is told: the Content-Security-Policy, htmx's configuration, user HTML sanitized on the way
out and boxed with hx-disable, templates without inline script, style or event handlers, docs served locally."""

import re
from pathlib import Path

import pytest
from django.template import Context, Template

from knowledge.models import Article
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import QueueFactory, QueueMembershipFactory, make_ticket
from tickets.models import Message

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = '<img src=x onerror=alert(1)><div hx-get="/admin/" hx-trigger="load">x</div><script>alert(2)</script>'
CLEANED = '<img src="x">x'
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


# --- the |sanitized filter ----------------------------------------------------------------------------


def test_the_sanitized_filter_keeps_formatting_and_drops_scripts_handlers_and_htmx_attributes():
    template = Template("{{ html|sanitized }}")
    html = template.render(Context({"html": f"<p><strong>Hi</strong> <a href='javascript:x()'>a</a></p>{PAYLOAD}"}))
    assert html == f'<p><strong>Hi</strong> <a rel="noopener noreferrer nofollow">a</a></p>{CLEANED}'
    assert template.render(Context({"html": None})) == ""


@pytest.mark.django_db
def test_an_article_whose_stored_html_carries_a_payload_shows_it_harmless(client):
    article = ArticleFactory(title="Exports")
    Article.objects.filter(pk=article.pk).update(body_html=f"<p>Open Billing.</p>{PAYLOAD}")
    html = client.get(f"/help/articles/{article.slug}/").content.decode()
    assert f'<div class="prose" hx-disable><p>Open Billing.</p>{CLEANED}</div>' in html
    assert "onerror" not in html
    assert "alert(2)" not in html


@pytest.mark.django_db
def test_a_ticket_message_whose_stored_html_carries_a_payload_shows_it_harmless(agent, agent_client):
    queue = QueueFactory()
    QueueMembershipFactory(queue=queue, agent=agent)
    ticket = make_ticket(queue=queue)
    Message.objects.filter(ticket=ticket).update(body_html=f"<p>It spins.</p>{PAYLOAD}")
    html = agent_client.get(f"/agent/tickets/{ticket.pk}/").content.decode()
    assert f'<div class="body" hx-disable><p>It spins.</p>{CLEANED}</div>' in html
    assert "onerror" not in html


# --- the policy --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/help/", "/accounts/login/", "/admin/login/", "/api/docs/", "/api/schema/"])
def test_every_page_gets_the_strict_policy(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert policy(response) == POLICY
    assert "unsafe" not in response.headers["Content-Security-Policy"]


@pytest.mark.django_db
def test_a_nonce_is_in_the_policy_only_when_a_page_uses_it(rf):
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    def view(request):
        return HttpResponse(
            Template("<script nonce='{{ CSP_NONCE }}'></script>").render(Context({"CSP_NONCE": request.csp_nonce}))
        )

    request = rf.get("/")
    response = CSPMiddleware(view)(request)
    nonce = re.search(r"nonce='([^']+)'", response.content.decode()).group(1)
    assert policy(response)["script-src"] == f"'self' 'nonce-{nonce}'"
    assert len(nonce) >= 22  # 16 random bytes


@pytest.mark.django_db
def test_pages_configure_htmx_to_evaluate_nothing(client):
    html = client.get("/help/").content.decode()
    assert (
        """<meta name="htmx-config" content='{"allowEval":false,"allowScriptTags":false,"""
        """"includeIndicatorStyles":false,"selfRequestsOnly":true}'>"""
    ) in html


# --- the API docs ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_swagger_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere(client):
    html = client.get("/api/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert [src for src, _ in scripts] == [
        ' src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"',
        ' src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js"',
        ' src="/api/docs/?script="',
    ]
    assert all(body.strip() == "" for _, body in scripts)
    assert "<style" not in html
    assert "http://" not in html
    assert "https://" not in html


@pytest.mark.django_db
def test_the_swagger_initializer_is_a_script_of_its_own(client):
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in response.content.decode()
    assert '"validatorUrl": null' in response.content.decode()


def test_the_redoc_page_sends_old_links_to_the_swagger_page(client):
    response = client.get("/api/redoc/")
    assert response.status_code == 301
    assert response.url == "/api/docs/"


# --- what the templates may contain ------------------------------------------------------------------------


def _templates() -> list[Path]:
    return sorted((ROOT / "templates").rglob("*.html"))


def test_no_template_has_an_inline_script_style_or_event_handler():
    problems = []
    for path in _templates():
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        for match in re.finditer(r"<script\b([^>]*)>", text):
            if "src=" not in match.group(1) and "nonce=" not in match.group(1):
                problems.append(f"{name}: inline <script> without a nonce")
        for pattern, what in [
            (r"<style\b", "a <style> element"),
            (r"\sstyle\s*=", "a style attribute"),
            (r"\son[a-z]+\s*=", "an inline event handler"),
            (r"\s(data-)?hx-on", "an hx-on attribute (needs eval)"),
            (r"(src|href)\s*=\s*[\"']?(https?:)?//", "a file from another site"),
            (r"javascript:", "a javascript: URL"),
        ]:
            if re.search(pattern, text):
                problems.append(f"{name}: {what}")
    assert problems == []


def test_every_place_that_shows_user_html_is_sanitized_and_boxed_with_hx_disable():
    shown = []
    for path in _templates():
        for line in path.read_text().splitlines():
            if "|sanitized" in line:
                shown.append(str(path.relative_to(ROOT)))
                assert re.search(r"<div [^>]*hx-disable[^>]*>[^<]*\{\{[^}]*\|sanitized \}\}", line), line
    assert sorted(shown) == [
        "templates/knowledge/agent_article_preview.html",
        "templates/knowledge/help_article.html",
        "templates/outreach/campaign_detail.html",
        "templates/outreach/template_form.html",
        "templates/tickets/help_request_detail.html",
        "templates/tickets/ticket_detail.html",
    ]
