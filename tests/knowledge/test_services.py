import datetime as dt
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.utils import timezone

from core.exceptions import ApplicationError
from core.markdown import sanitize_html
from knowledge.models import Article, ArticleFeedback, ArticleVersion, SearchLog
from knowledge.services import (
    article_archive,
    article_create,
    article_feedback_submit,
    article_publish,
    article_restore_version,
    article_update,
    article_view_record,
    category_create,
    search_log_mark_opened,
    search_log_mark_ticket,
    search_log_record,
)
from tests.factories import ProductFactory, TagFactory
from tests.knowledge.factories import ArticleFactory, CategoryFactory, SearchLogFactory

pytestmark = pytest.mark.django_db

HOSTILE = """# Hello

<script>alert("x")</script>

[click me](javascript:alert(1)) and [fine](https://example.com)

<img src="x" onerror="alert(2)"> <a href="/x" onclick="steal()" hx-post="/agent/">raw</a>
<div hx-get="/evil" data-hx-trigger="load">htmx</div>
"""


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def real_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def assert_harmless(html: str) -> None:
    for tag, attrs in real_tags(html):
        assert tag not in {"script", "iframe", "object", "embed", "style", "div"}, tag
        for name, value in attrs.items():
            assert not name.startswith(("on", "hx-", "data-")), name
            assert not (value or "").strip().lower().startswith("javascript:"), value


def test_markdown_with_scripts_javascript_links_and_event_attributes_renders_harmless(agent):
    article = article_create(title="Hostile", body=HOSTILE, author=agent)
    assert_harmless(article.body_html)
    assert ("h1", {}) in real_tags(article.body_html)
    assert ("a", {"href": "https://example.com", "rel": "noopener noreferrer nofollow"}) in real_tags(article.body_html)
    assert "&lt;script&gt;" in article.body_html  # shown as text, never run
    assert article.body == HOSTILE  # the source is kept as typed


def test_the_sanitizer_strips_raw_html_that_reaches_it():
    html = sanitize_html(HOSTILE.replace("javascript:alert(1)", "x") + '<a href="javascript:alert(1)">j</a>')
    assert_harmless(html)
    assert "<script" not in html


def test_create_keeps_a_first_version_and_makes_a_unique_slug(agent):
    first = article_create(title="Reset your password", body="One", author=agent)
    second = article_create(title="Reset your password!", body="Two", author=agent)
    assert (first.slug, second.slug) == ("reset-your-password", "reset-your-password-2")
    assert first.status == Article.Status.DRAFT
    assert first.published_at is None
    assert list(first.versions.values_list("number", "title", "body")) == [(1, "Reset your password", "One")]


def test_a_taken_slug_is_an_error_on_the_slug_and_nothing_is_created(agent):
    ArticleFactory(slug="billing")
    with pytest.raises(ApplicationError) as error:
        article_create(title="Other", body="x", slug="billing", author=agent)
    assert error.value.extra == {"slug": "Already in use."}
    assert Article.objects.count() == 1


def test_update_keeps_every_version_and_restore_brings_one_back(agent, manager):
    article = article_create(title="Invoices", body="Version one", author=agent)
    article_update(article=article, actor=manager, body="Version two", note="typo")
    article_update(article=article, actor=manager, title="Invoices and receipts", body="Version three")
    article_update(article=article, actor=manager, body="Version three")  # unchanged: no new version
    assert list(article.versions.order_by("number").values_list("number", "body")) == [
        (1, "Version one"),
        (2, "Version two"),
        (3, "Version three"),
    ]
    # when
    restored = article_restore_version(version=article.versions.get(number=1), actor=manager)
    # then
    assert (restored.title, restored.body) == ("Invoices", "Version one")
    assert restored.body_html == "<p>Version one</p>\n"
    newest = article.versions.order_by("-number").first()
    assert (newest.number, newest.body, newest.note, newest.created_by) == (
        4,
        "Version one",
        "Restored version 1",
        manager,
    )


def test_update_changes_metadata_without_a_version(agent):
    article = ArticleFactory(author=agent)
    product, tag, category = ProductFactory(), TagFactory(), CategoryFactory()
    article_update(article=article, actor=agent, category=category, products=[product], tags=[tag])
    article.refresh_from_db()
    assert article.category == category
    assert list(article.products.all()) == [product]
    assert list(article.tags.all()) == [tag]
    assert ArticleVersion.objects.filter(article=article).count() == 1


def test_publish_and_archive(agent):
    article = article_create(title="Draft", body="x", author=agent)
    published = article_publish(article=article, actor=agent)
    assert published.status == Article.Status.PUBLISHED
    first_published_at = published.published_at
    assert first_published_at is not None
    archived = article_archive(article=article, actor=agent)
    assert archived.status == Article.Status.ARCHIVED
    again = article_publish(article=article, actor=agent)
    assert again.published_at == first_published_at


def test_feedback_is_counted_per_article(customer_user):
    article, other = ArticleFactory(), ArticleFactory()
    article_feedback_submit(article=article, helpful=True, user=customer_user)
    article_feedback_submit(article=article, helpful=True)
    article_feedback_submit(article=article, helpful=False, comment="  Missing the SSO case  ")
    article.refresh_from_db()
    other.refresh_from_db()
    assert (article.helpful_yes_count, article.helpful_no_count) == (2, 1)
    assert (other.helpful_yes_count, other.helpful_no_count) == (0, 0)
    assert ArticleFeedback.objects.filter(article=article, helpful=False).get().comment == "Missing the SSO case"


def test_feedback_on_a_draft_is_refused_and_nothing_is_counted():
    draft = ArticleFactory(status=Article.Status.DRAFT)
    with pytest.raises(ApplicationError):
        article_feedback_submit(article=draft, helpful=True)
    draft.refresh_from_db()
    assert draft.helpful_yes_count == 0
    assert ArticleFeedback.objects.count() == 0


def test_views_are_counted_with_an_update():
    article = ArticleFactory()
    article_view_record(article_id=article.pk)
    article_view_record(article_id=article.pk)
    article.refresh_from_db()
    assert article.view_count == 2


def test_categories_nest_one_level():
    top = category_create(name="Billing")
    child = category_create(name="Invoices", parent=top)
    assert (child.slug, child.parent) == ("invoices", top)
    with pytest.raises(ApplicationError) as error:
        category_create(name="Too deep", parent=child)
    assert "parent" in error.value.extra
    assert not child.children.exists()


def test_search_log_records_normalized_queries(customer_user):
    log = search_log_record(query="  Reset   PASSWORD ", results_count=3, user=customer_user)
    assert (log.query, log.normalized_query, log.results_count, log.user) == (
        "Reset PASSWORD",
        "reset password",
        3,
        customer_user,
    )


def test_search_log_opened_is_recorded_once_and_only_for_recent_searches():
    first, second = ArticleFactory(), ArticleFactory()
    log = SearchLogFactory(results_count=2)
    assert search_log_mark_opened(search_log_id=log.pk, article_id=first.pk) is True
    assert search_log_mark_opened(search_log_id=log.pk, article_id=second.pk) is False
    log.refresh_from_db()
    assert log.opened_article == first
    old = SearchLogFactory(created_at=timezone.now() - dt.timedelta(days=2))
    assert search_log_mark_opened(search_log_id=old.pk, article_id=first.pk) is False


def test_search_log_mark_ticket_links_a_ticket_once():
    log = SearchLogFactory()
    assert search_log_mark_ticket(search_log_id=log.pk, ticket_id=42) is True
    assert search_log_mark_ticket(search_log_id=log.pk, ticket_id=43) is False
    assert search_log_mark_ticket(search_log_id=log.pk + 100, ticket_id=44) is False
    assert SearchLog.objects.get(pk=log.pk).ticket_id == 42


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search vector exists on PostgreSQL only")
def test_the_search_vector_is_kept_current_on_save(agent):
    article = article_create(title="Webhooks", body="signed requests", author=agent)
    assert Article.objects.filter(pk=article.pk, search_vector="webhook").exists()
    article_update(article=article, actor=agent, title="Callbacks")
    assert not Article.objects.filter(pk=article.pk, search_vector="webhook").exists()
    assert Article.objects.filter(pk=article.pk, search_vector="callback").exists()
