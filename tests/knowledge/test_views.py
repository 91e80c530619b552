import re

import pytest
from django.urls import reverse

from knowledge.models import Article, ArticleFeedback, ArticleVersion, SearchLog
from tests.knowledge.factories import ArticleFactory, CategoryFactory, SearchLogFactory

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return response.content.decode()


# ------------------------------------------------------------------------------------------------ help home


def test_help_home_shows_search_categories_and_popular_articles(client):
    billing = CategoryFactory(name="Billing", position=1)
    CategoryFactory(name="Invoices", parent=billing)
    CategoryFactory(name="Getting started", position=0)
    ArticleFactory(title="Rarely read")
    popular = ArticleFactory(title="Read a lot")
    Article.objects.filter(pk=popular.pk).update(view_count=99)
    ArticleFactory(title="Secret draft", status=Article.Status.DRAFT)
    page = body(client.get(reverse("help-home")))
    assert 'action="/help/search/"' in page
    assert page.index("Getting started") < page.index("Billing") < page.index("Invoices")
    assert page.index("Read a lot") < page.index("Rarely read")
    assert "Secret draft" not in page


def test_help_home_htmx_returns_the_popular_articles(client, htmx_headers):
    ArticleFactory(title="Read a lot")
    page = body(client.get(reverse("help-home"), headers=htmx_headers))
    assert page.lstrip().startswith('<section id="popular"')
    assert "Read a lot" in page
    assert "<html" not in page


def test_help_home_query_count_does_not_grow(client, django_assert_max_num_queries):
    CategoryFactory.create_batch(2)
    ArticleFactory.create_batch(2)
    with django_assert_max_num_queries(4) as few:
        client.get(reverse("help-home"))
    CategoryFactory.create_batch(5)
    ArticleFactory.create_batch(5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("help-home"))


# ------------------------------------------------------------------------------------------------ search


def test_help_search_page_shows_highlighted_results_and_logs_the_search(client):
    article = ArticleFactory(title="Reset your password", body="Choose <b>Forgot</b>.")
    ArticleFactory(title="Invoices", body="PDF")
    response = client.get(reverse("help-search"), {"q": "password"})
    page = body(response)
    log = SearchLog.objects.get()
    assert (log.query, log.results_count, log.source) == ("password", 1, "help")
    assert f'href="/help/articles/{article.slug}/?s={log.pk}"' in page
    assert "Reset your <mark>password</mark>" in page
    assert "1 article for" in page
    assert "Invoices" not in page
    assert "<b>Forgot</b>" not in page


def test_help_search_as_you_type_returns_only_the_results_and_matches_prefixes(client, htmx_headers):
    ArticleFactory(title="Reset your password")
    response = client.get(reverse("help-search"), {"q": "reset passw"}, headers=htmx_headers)
    page = body(response)
    assert page.lstrip().startswith('<div id="search-results"')
    assert "<mark>password</mark>" in page
    assert "<html" not in page
    assert SearchLog.objects.get().source == SearchLog.Source.TYPEAHEAD


def test_help_search_without_a_query_logs_nothing(client):
    assert client.get(reverse("help-search")).status_code == 200
    assert not SearchLog.objects.exists()


def test_help_search_hides_drafts_from_customers_and_badges_them_for_agents(customer_client, agent_client):
    ArticleFactory(title="Password rules", status=Article.Status.DRAFT)
    assert "Password rules" not in body(customer_client.get(reverse("help-search"), {"q": "password"}))
    page = body(agent_client.get(reverse("help-search"), {"q": "password"}))
    assert "<mark>Password</mark> rules" in page
    assert '<span class="badge-draft">Draft</span>' in page


def test_search_suggestions_drop_down(client, htmx_headers):
    article = ArticleFactory(title="Export to CSV")
    page = body(client.get(reverse("help-search-suggest"), {"q": "expo"}, headers=htmx_headers))
    log = SearchLog.objects.get()
    assert f'href="/help/articles/{article.slug}/?s={log.pk}"' in page
    assert "<mark>Export</mark> to CSV" in page
    assert "<html" not in page


def test_search_suggestions_without_htmx_go_to_the_results_page(client):
    response = client.get(reverse("help-search-suggest"), {"q": "export csv"})
    assert response.status_code == 302
    assert response["Location"] == "/help/search/?q=export+csv"


def test_public_search_is_rate_limited_with_a_retry_after(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_SEARCH": "3/m"}
    for _ in range(3):
        assert client.get(reverse("help-search"), {"q": "x"}).status_code == 200
    response = client.get(reverse("help-search"), {"q": "x"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert f"try again in <strong>{response['Retry-After']} second" in body(response)
    assert SearchLog.objects.count() == 3
    # another client is not affected
    assert client.get(reverse("help-search"), {"q": "x"}, REMOTE_ADDR="10.0.0.9").status_code == 200


def test_search_as_you_type_is_rate_limited(client, settings, htmx_headers):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_TYPEAHEAD": "1/m"}
    assert client.get(reverse("help-search-suggest"), {"q": "a"}, headers=htmx_headers).status_code == 200
    response = client.get(reverse("help-search-suggest"), {"q": "ab"}, headers=htmx_headers)
    assert response.status_code == 429
    assert response.has_header("Retry-After")


# ------------------------------------------------------------------------------------------------ categories


def test_category_page_lists_its_published_articles(client):
    category, other = CategoryFactory(name="Billing"), CategoryFactory()
    child = CategoryFactory(name="Invoices", parent=category)
    ArticleFactory(title="Change your plan", category=category)
    ArticleFactory(title="Cancel", category=category)
    ArticleFactory(title="Draft plan", category=category, status=Article.Status.DRAFT)
    ArticleFactory(title="Elsewhere", category=other)
    page = body(client.get(reverse("help-category", args=[category.slug])))
    assert page.index("Cancel") < page.index("Change your plan")
    assert "Draft plan" not in page
    assert "Elsewhere" not in page
    assert f'href="/help/categories/{child.slug}/"' in page


def test_category_page_htmx_returns_more_rows(client, htmx_headers):
    category = CategoryFactory()
    ArticleFactory(title="Cancel", category=category)
    page = body(client.get(reverse("help-category", args=[category.slug]), headers=htmx_headers))
    assert page.strip().startswith("<li>")
    assert "Cancel" in page
    assert "<html" not in page


def test_unknown_category_is_a_404(client):
    assert client.get(reverse("help-category", args=["nope"])).status_code == 404


def test_category_page_query_count_does_not_grow(client, django_assert_max_num_queries):
    category = CategoryFactory()
    ArticleFactory.create_batch(2, category=category)
    with django_assert_max_num_queries(4) as few:
        client.get(reverse("help-category", args=[category.slug]))
    ArticleFactory.create_batch(10, category=category)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("help-category", args=[category.slug]))


# ------------------------------------------------------------------------------------------------ article


def test_article_page_renders_sanitized_html_and_counts_a_view(client):
    article = ArticleFactory(title="Tables", body="**bold** <script>alert(1)</script>")
    page = body(client.get(article.get_absolute_url()))
    assert "<strong>bold</strong>" in page
    assert "<script>alert(1)</script>" not in page
    assert "Was this article helpful?" in page
    article.refresh_from_db()
    assert article.view_count == 1


def test_article_page_from_a_search_records_the_open(client):
    article = ArticleFactory()
    log = SearchLogFactory(results_count=1)
    client.get(article.get_absolute_url(), {"s": log.pk})
    log.refresh_from_db()
    assert log.opened_article == article
    assert log.opened_at is not None
    assert client.get(article.get_absolute_url(), {"s": "not-a-number"}).status_code == 200


def test_article_page_htmx_returns_the_article(client, htmx_headers):
    article = ArticleFactory(title="Tables")
    page = body(client.get(article.get_absolute_url(), headers=htmx_headers))
    assert page.lstrip().startswith('<article id="article"')
    assert "<html" not in page


@pytest.mark.parametrize("status", [Article.Status.DRAFT, Article.Status.ARCHIVED])
def test_drafts_and_archived_articles_are_404_for_customers_and_anonymous_users(client, customer_client, status):
    article = ArticleFactory(status=status)
    assert client.get(article.get_absolute_url()).status_code == 404
    assert customer_client.get(article.get_absolute_url()).status_code == 404
    assert (
        customer_client.post(reverse("help-article-feedback", args=[article.slug]), {"helpful": "yes"}).status_code
        == 404
    )
    article.refresh_from_db()
    assert (article.view_count, article.helpful_yes_count) == (0, 0)


def test_agents_see_drafts_with_a_badge_and_do_not_count_views(agent_client):
    article = ArticleFactory(title="Coming soon", status=Article.Status.DRAFT)
    page = body(agent_client.get(article.get_absolute_url()))
    assert '<span class="badge-draft">Draft</span>' in page
    assert "Was this article helpful?" not in page
    article.refresh_from_db()
    assert article.view_count == 0


def test_feedback_is_counted_and_thanked(client):
    article = ArticleFactory()
    response = client.post(
        reverse("help-article-feedback", args=[article.slug]), {"helpful": "no", "comment": "Add SSO"}
    )
    assert response.status_code == 302
    assert response["Location"] == article.get_absolute_url()
    article.refresh_from_db()
    assert (article.helpful_yes_count, article.helpful_no_count) == (0, 1)
    assert ArticleFeedback.objects.get().comment == "Add SSO"


def test_feedback_htmx_swaps_in_a_thank_you(client, htmx_headers):
    article = ArticleFactory()
    response = client.post(
        reverse("help-article-feedback", args=[article.slug]), {"helpful": "yes"}, headers=htmx_headers
    )
    page = body(response)
    assert page.lstrip().startswith('<section id="feedback"')
    assert "Thank you for your feedback." in page
    article.refresh_from_db()
    assert article.helpful_yes_count == 1


def test_invalid_feedback_keeps_what_was_typed(client, htmx_headers):
    article = ArticleFactory()
    response = client.post(
        reverse("help-article-feedback", args=[article.slug]), {"comment": "Typed <b>this</b>"}, headers=htmx_headers
    )
    page = body(response)
    assert response.status_code == 200
    assert "This field is required." in page
    assert "Typed &lt;b&gt;this&lt;/b&gt;</textarea>" in page
    assert not ArticleFeedback.objects.exists()
    full = body(client.post(reverse("help-article-feedback", args=[article.slug]), {"comment": "Again"}))
    assert "<html" in full
    assert "Again</textarea>" in full


def test_feedback_is_rate_limited(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_FEEDBACK": "2/h"}
    article = ArticleFactory()
    url = reverse("help-article-feedback", args=[article.slug])
    for _ in range(2):
        client.post(url, {"helpful": "yes"})
    response = client.post(url, {"helpful": "yes"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    article.refresh_from_db()
    assert article.helpful_yes_count == 2


# ------------------------------------------------------------------------------------------------ agent pages


def test_agent_pages_are_404_for_customers_and_send_anonymous_users_to_sign_in(client, customer_client):
    article = ArticleFactory()
    for url in [
        reverse("agent-knowledge-list"),
        reverse("agent-knowledge-create"),
        reverse("agent-knowledge-edit", args=[article.pk]),
        reverse("agent-knowledge-suggest"),
        reverse("agent-knowledge-gaps"),
    ]:
        assert customer_client.get(url).status_code == 404, url
        assert client.get(url).status_code == 302, url
    assert (
        customer_client.post(reverse("agent-knowledge-status", args=[article.pk]), {"action": "archive"}).status_code
        == 404
    )
    assert customer_client.post(reverse("agent-knowledge-preview"), {"body": "x"}).status_code == 404
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED


def test_agent_article_list_shows_every_status_with_feedback_counts(agent_client):
    ArticleFactory(title="Live one")
    draft = ArticleFactory(title="Unfinished", status=Article.Status.DRAFT)
    Article.objects.filter(pk=draft.pk).update(helpful_yes_count=4, helpful_no_count=1)
    page = body(agent_client.get(reverse("agent-knowledge-list")))
    assert "Live one" in page
    assert "Unfinished" in page
    assert "4 / 1" in page
    assert 'aria-current="page">Knowledge</a>' in page
    drafts = body(agent_client.get(reverse("agent-knowledge-list"), {"status": "draft"}))
    assert "Live one" not in drafts


def test_agent_article_list_htmx_returns_the_table(agent_client, htmx_headers):
    ArticleFactory(title="Live one")
    page = body(agent_client.get(reverse("agent-knowledge-list"), {"q": "live"}, headers=htmx_headers))
    assert page.lstrip().startswith('<div id="article-table"')
    assert "Live one" in page
    assert "<html" not in page


def test_agent_article_list_query_count_does_not_grow(agent_client, django_assert_max_num_queries):
    ArticleFactory.create_batch(3)
    with django_assert_max_num_queries(10) as few:
        agent_client.get(reverse("agent-knowledge-list"))
    ArticleFactory.create_batch(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        agent_client.get(reverse("agent-knowledge-list"))


def test_agents_write_a_draft(agent_client, agent):
    category = CategoryFactory()
    assert 'hx-post="/agent/knowledge/preview/"' in body(agent_client.get(reverse("agent-knowledge-create")))
    response = agent_client.post(
        reverse("agent-knowledge-create"), {"title": "Webhooks", "body": "Signed *requests*", "category": category.pk}
    )
    article = Article.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("agent-knowledge-edit", args=[article.pk])
    assert (article.status, article.author, article.category, article.body_html) == (
        "draft",
        agent,
        category,
        "<p>Signed <em>requests</em></p>\n",
    )


def test_article_form_errors_keep_what_was_typed(agent_client, htmx_headers):
    ArticleFactory(slug="taken")
    response = agent_client.post(
        reverse("agent-knowledge-create"), {"title": "Mine", "slug": "taken", "body": "Typed *text*"}
    )
    page = body(response)
    assert "Another article already uses that slug." in page
    assert "Typed *text*</textarea>" in page
    assert 'value="Mine"' in page
    assert Article.objects.count() == 1
    partial = body(
        agent_client.post(reverse("agent-knowledge-create"), {"title": "", "body": "x"}, headers=htmx_headers)
    )
    assert partial.lstrip().startswith('<div id="editor"')
    assert "This field is required." in partial


def test_agent_create_htmx_success_redirects_the_browser(agent_client, htmx_headers):
    response = agent_client.post(reverse("agent-knowledge-create"), {"title": "A", "body": "b"}, headers=htmx_headers)
    assert response["HX-Redirect"] == reverse("agent-knowledge-edit", args=[Article.objects.get().pk])


def test_agents_edit_an_article_and_each_save_is_a_version(agent_client, agent):
    article = ArticleFactory(title="Old", body="Old body")
    page = body(agent_client.get(reverse("agent-knowledge-edit", args=[article.pk])))
    assert "Old body</textarea>" in page
    response = agent_client.post(
        reverse("agent-knowledge-edit", args=[article.pk]), {"title": "New", "body": "New body", "note": "rewrite"}
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert (article.title, article.body) == ("New", "New body")
    assert list(article.versions.values_list("number", "note", "created_by")) == [
        (2, "rewrite", agent.pk),
        (1, "Created", article.author_id),
    ]


def test_agent_edit_htmx_errors_return_the_editor(agent_client, htmx_headers):
    article = ArticleFactory(title="Old")
    response = agent_client.post(
        reverse("agent-knowledge-edit", args=[article.pk]), {"title": "", "body": "kept"}, headers=htmx_headers
    )
    page = body(response)
    assert page.lstrip().startswith('<div id="editor"')
    assert "kept</textarea>" in page
    article.refresh_from_db()
    assert article.title == "Old"


def test_edit_page_shows_feedback_to_authors(agent_client):
    article = ArticleFactory()
    ArticleFeedback.objects.create(article=article, helpful=False, comment="Needs <i>screenshots</i>")
    Article.objects.filter(pk=article.pk).update(helpful_yes_count=3, helpful_no_count=1)
    page = body(agent_client.get(reverse("agent-knowledge-edit", args=[article.pk])))
    assert "<strong>3</strong> yes · <strong>1</strong> no" in page
    assert "Needs &lt;i&gt;screenshots&lt;/i&gt;" in page


def test_publish_and_archive_from_the_editor(agent_client, htmx_headers):
    article = ArticleFactory(status=Article.Status.DRAFT)
    url = reverse("agent-knowledge-status", args=[article.pk])
    response = agent_client.post(url, {"action": "publish"})
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == Article.Status.PUBLISHED
    partial = body(agent_client.post(url, {"action": "archive"}, headers=htmx_headers))
    assert partial.lstrip().startswith('<div id="article-status"')
    assert "Archived" in partial
    article.refresh_from_db()
    assert article.status == Article.Status.ARCHIVED


def test_restore_a_version_from_the_editor(agent_client, agent, htmx_headers):
    article = ArticleFactory(body="First")
    agent_client.post(reverse("agent-knowledge-edit", args=[article.pk]), {"title": article.title, "body": "Second"})
    first = article.versions.get(number=1)
    response = agent_client.post(reverse("agent-knowledge-restore", args=[article.pk, first.pk]))
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.body == "First"
    second = article.versions.get(number=2)
    partial = body(
        agent_client.post(reverse("agent-knowledge-restore", args=[article.pk, second.pk]), headers=htmx_headers)
    )
    assert partial.lstrip().startswith('<div id="editor"')
    assert "Second</textarea>" in partial
    assert ArticleVersion.objects.filter(article=article).count() == 4


def test_preview_returns_sanitized_html(agent_client, htmx_headers):
    response = agent_client.post(
        reverse("agent-knowledge-preview"),
        {"body": "# Title\n\n<script>x()</script> [a](javascript:x()) <b onclick=x>b</b>"},
        headers=htmx_headers,
    )
    page = body(response)
    assert page.lstrip().startswith('<div id="preview"')
    assert "<h1>Title</h1>" in page
    assert "<script>" not in page
    assert 'href="javascript' not in page
    assert "<b onclick" not in page


def test_preview_without_htmx_is_a_page(agent_client):
    page = body(agent_client.post(reverse("agent-knowledge-preview"), {"body": "**hi**"}))
    assert "<html" in page
    assert "<strong>hi</strong>" in page


def test_agent_suggestions_list_published_articles_with_their_urls(agent_client, htmx_headers, settings):
    article = ArticleFactory(title="Reset your password")
    ArticleFactory(title="Password draft", status=Article.Status.DRAFT)
    page = body(agent_client.get(reverse("agent-knowledge-suggest"), {"q": "passw"}, headers=htmx_headers))
    assert page.lstrip().startswith('<ul id="kb-suggestions"')
    assert f'data-insert-url="{settings.SITE_URL}/help/articles/{article.slug}/"' in page
    assert "draft" not in page.lower()
    assert SearchLog.objects.get().source == SearchLog.Source.AGENT


def test_agent_suggestions_without_htmx_is_a_page(agent_client):
    ArticleFactory(title="Reset your password")
    page = body(agent_client.get(reverse("agent-knowledge-suggest"), {"q": "password"}))
    assert "<html" in page
    assert "Reset your <mark>password</mark>" in page


def test_gaps_report_lists_the_searches_to_write_for(agent_client):
    for _ in range(2):
        SearchLogFactory(query="saml okta")
    SearchLogFactory(query="refund", results_count=3, ticket_id=12)
    page = body(agent_client.get(reverse("agent-knowledge-gaps")))
    rows = re.findall(r"<td>([^<]+)</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>", page)
    assert rows == [("saml okta", "2", "2", "0"), ("refund", "1", "0", "1")]
    assert "/agent/knowledge/new/?title=saml%20okta" in page


def test_gaps_report_htmx_returns_the_table(agent_client, htmx_headers):
    SearchLogFactory(query="saml okta")
    page = body(agent_client.get(reverse("agent-knowledge-gaps"), {"days": "7"}, headers=htmx_headers))
    assert page.lstrip().startswith('<div id="gaps"')
    assert "saml okta" in page


def test_gaps_report_query_count_does_not_grow(agent_client, django_assert_max_num_queries):
    SearchLogFactory(query="a")
    with django_assert_max_num_queries(6) as few:
        agent_client.get(reverse("agent-knowledge-gaps"))
    for index in range(20):
        SearchLogFactory(query=f"q{index}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        agent_client.get(reverse("agent-knowledge-gaps"))
