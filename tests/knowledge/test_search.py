"""Search: the same tests run on SQLite (fallback) and PostgreSQL (full text), with the same API."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone

from knowledge.models import Article, SearchLog
from knowledge.search import article_search, search_gaps
from tests.knowledge.factories import ArticleFactory, SearchLogFactory

pytestmark = pytest.mark.django_db
ANONYMOUS = AnonymousUser()


@pytest.fixture
def articles():
    return {
        "body": ArticleFactory(title="Account settings", body="To change your password, open Profile."),
        "title": ArticleFactory(title="Reset your password", body="Choose Forgot on the sign-in page."),
        "other": ArticleFactory(title="Download an invoice", body="Invoices are PDFs."),
        "draft": ArticleFactory(title="Password rules (draft)", body="password", status=Article.Status.DRAFT),
    }


def titles(results):
    return [hit.article.title for hit in results.hits]


def test_search_finds_matching_published_articles_title_matches_first(articles):
    results = article_search(query="password", viewer=ANONYMOUS)
    assert titles(results) == ["Reset your password", "Account settings"]
    assert results.count == 2
    assert results.hits[0].rank > results.hits[1].rank


def test_agents_also_find_drafts_unless_published_only(articles, agent):
    assert "Password rules (draft)" in titles(article_search(query="password", viewer=agent))
    assert "Password rules (draft)" not in titles(article_search(query="password", viewer=agent, published_only=True))


def test_customers_never_find_drafts(articles, customer_user):
    assert "Password rules (draft)" not in titles(article_search(query="password rules", viewer=customer_user))


def test_websearch_syntax_phrases_and_exclusions(articles):
    assert titles(article_search(query='"sign-in page"', viewer=ANONYMOUS)) == ["Reset your password"]
    assert titles(article_search(query="password -forgot", viewer=ANONYMOUS)) == ["Account settings"]
    assert set(titles(article_search(query="invoice or forgot", viewer=ANONYMOUS))) == {
        "Download an invoice",
        "Reset your password",
    }


def test_prefix_search_matches_what_is_typed_so_far(articles):
    assert titles(article_search(query="passw", viewer=ANONYMOUS, prefix=True)) == [
        "Reset your password",
        "Account settings",
    ]


def test_nothing_found_and_empty_queries():
    ArticleFactory(title="Billing")
    assert article_search(query="kubernetes", viewer=ANONYMOUS).hits == []
    empty = article_search(query="   ", viewer=ANONYMOUS)
    assert (empty.hits, empty.count, empty.query) == ([], 0, "")


def test_snippets_are_escaped_and_highlighted():
    ArticleFactory(title="Embedding", body='Paste <script>alert("x")</script> when x < 10 & the widget loads.')
    hit = article_search(query="widget", viewer=ANONYMOUS).hits[0]
    assert "<script" not in hit.snippet  # PostgreSQL drops the tag, the fallback escapes it
    assert "x &lt; 10 &amp; the <mark>widget</mark> loads" in hit.snippet
    assert hit.snippet.count("<") == hit.snippet.count("<mark>") + hit.snippet.count("</mark>")
    assert hit.title_html == "Embedding"


def test_the_title_is_highlighted():
    ArticleFactory(title="Reset <b>your</b> password", body="x")
    hit = article_search(query="password", viewer=ANONYMOUS).hits[0]
    assert hit.title_html == "Reset &lt;b&gt;your&lt;/b&gt; <mark>password</mark>"


def test_counts_stop_at_the_rank_limit(settings):
    settings.HELPDESK = {**settings.HELPDESK, "SEARCH_RANK_LIMIT": 3}
    for index in range(5):
        ArticleFactory(title=f"Export {index}", body="export")
    results = article_search(query="export", viewer=ANONYMOUS, limit=2)
    assert len(results.hits) == 2
    assert (results.count, results.more, results.count_display) == (3, True, "3+")


def test_counts_below_the_limit_are_exact():
    ArticleFactory(title="Export", body="x")
    results = article_search(query="export", viewer=ANONYMOUS)
    assert (results.count, results.more, results.count_display) == (1, False, "1")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stemming is PostgreSQL's")
def test_postgresql_matches_word_forms():
    ArticleFactory(title="Exporting reports", body="x")
    assert titles(article_search(query="exports", viewer=ANONYMOUS)) == ["Exporting reports"]


def test_gaps_are_the_most_frequent_searches_that_found_nothing_or_led_to_a_ticket():
    now = timezone.now()
    for _ in range(3):
        SearchLogFactory(query="SSO setup", results_count=0)
    SearchLogFactory(query="sso setup", results_count=0, source=SearchLog.Source.API)
    SearchLogFactory(query="refund", results_count=4, ticket_id=7)
    SearchLogFactory(query="refund", results_count=4)  # found something, no ticket: not a gap
    SearchLogFactory(query="invoice", results_count=5)
    SearchLogFactory(query="ss", results_count=0, source=SearchLog.Source.TYPEAHEAD)  # half-typed: ignored
    SearchLogFactory(query="old", results_count=0, created_at=now - dt.timedelta(days=40))
    gaps = search_gaps(days=30)
    assert [(g["normalized_query"], g["searches"], g["no_results"], g["tickets"]) for g in gaps] == [
        ("sso setup", 4, 4, 0),
        ("refund", 1, 0, 1),
    ]
    assert [g["normalized_query"] for g in search_gaps(days=90)] == ["sso setup", "refund", "old"]
