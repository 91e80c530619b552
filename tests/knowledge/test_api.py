import pytest
from rest_framework.test import APIClient

from knowledge.models import Article, ArticleVersion, Category, SearchLog
from tests.factories import ProductFactory, TagFactory
from tests.knowledge.factories import ArticleFactory, CategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anonymous():
    return APIClient()


def test_anyone_reads_published_articles_and_never_drafts(anonymous, api_client_for, customer_user):
    live = ArticleFactory(title="Live")
    draft = ArticleFactory(title="Draft", status=Article.Status.DRAFT)
    archived = ArticleFactory(title="Old", status=Article.Status.ARCHIVED)
    for client in (anonymous, api_client_for(customer_user)):
        response = client.get("/api/v1/articles/")
        assert response.status_code == 200
        assert [a["id"] for a in response.json()["results"]] == [live.pk]
        assert client.get(f"/api/v1/articles/{draft.pk}/").status_code == 404
        assert client.get(f"/api/v1/articles/{archived.pk}/").status_code == 404
        assert client.get("/api/v1/articles/", {"status": "draft"}).json()["results"] == []
    detail = anonymous.get(f"/api/v1/articles/{live.pk}/").json()
    assert detail["url"].endswith(f"/help/articles/{live.slug}/")
    assert detail["body_html"] == "<p>Some helpful text.</p>\n"


def test_agents_see_drafts(api_client_for, agent):
    draft = ArticleFactory(title="Draft", status=Article.Status.DRAFT)
    api = api_client_for(agent)
    assert [a["id"] for a in api.get("/api/v1/articles/", {"status": "draft"}).json()["results"]] == [draft.pk]
    assert api.get(f"/api/v1/articles/{draft.pk}/").json()["status"] == "draft"


def test_search_through_the_api_is_ranked_with_snippets_and_logged(anonymous):
    ArticleFactory(title="Account settings", body="Change your password here.")
    ArticleFactory(title="Reset your password", body="Forgot it?")
    ArticleFactory(title="Secret", body="password", status=Article.Status.DRAFT)
    data = anonymous.get("/api/v1/articles/", {"q": "password"}).json()
    assert [a["title"] for a in data["results"]] == ["Reset your password", "Account settings"]
    assert (data["count"], data["more"], data["next_cursor"]) == (2, False, None)
    assert "<mark>password</mark>" in data["results"][1]["snippet_html"]
    assert data["results"][0]["rank"] > data["results"][1]["rank"]
    log = SearchLog.objects.get()
    assert (log.query, log.source, log.results_count) == ("password", "api", 2)


def test_list_pages_by_cursor_with_few_queries(anonymous, django_assert_max_num_queries):
    ArticleFactory.create_batch(3)
    with django_assert_max_num_queries(5) as few:
        anonymous.get("/api/v1/articles/")
    ArticleFactory.create_batch(20, products=[ProductFactory()], tags=[TagFactory()])
    with django_assert_max_num_queries(len(few.captured_queries)):
        anonymous.get("/api/v1/articles/")


def test_list_rejects_bad_parameters(anonymous):
    response = anonymous.get("/api/v1/articles/", {"status": "secret", "category": "nope", "limit": "0"})
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"status", "category", "limit"}
    assert not SearchLog.objects.exists()


def test_api_search_is_throttled_per_client(anonymous, settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_API_SEARCH": "2/m"}
    for _ in range(2):
        assert anonymous.get("/api/v1/articles/", {"q": "x"}).status_code == 200
    response = anonymous.get("/api/v1/articles/", {"q": "x"})
    assert response.status_code == 429
    assert response.has_header("Retry-After")
    assert anonymous.get("/api/v1/articles/").status_code == 200  # listing without a search is not counted


def test_agents_create_articles(api_client_for, agent):
    category, product, tag = CategoryFactory(slug="billing"), ProductFactory(slug="api"), TagFactory(name="vip")
    response = api_client_for(agent).post(
        "/api/v1/articles/",
        {
            "title": "Webhooks",
            "body": "Signed *requests*",
            "category": "billing",
            "products": ["api"],
            "tags": ["vip"],
            "status": "published",
        },
        format="json",
    )
    assert response.status_code == 201
    data = response.json()
    assert (data["slug"], data["status"], data["category"], data["products"], data["tags"]) == (
        "webhooks",
        "published",
        "billing",
        ["api"],
        ["vip"],
    )
    article = Article.objects.get()
    assert (article.author, article.category, article.published_at is not None) == (agent, category, True)
    assert list(article.products.all()) == [product]
    assert list(article.tags.all()) == [tag]


def test_article_create_returns_per_field_errors(api_client_for, agent):
    response = api_client_for(agent).post(
        "/api/v1/articles/", {"title": "", "category": "nope", "status": "x"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"title", "body", "category", "status"}
    assert not Article.objects.exists()


def test_article_create_with_a_taken_slug_is_a_400(api_client_for, agent):
    ArticleFactory(slug="taken")
    response = api_client_for(agent).post(
        "/api/v1/articles/", {"title": "T", "body": "b", "slug": "taken"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["extra"] == {"slug": "Already in use."}
    assert Article.objects.count() == 1


def test_only_agents_write(anonymous, api_client_for, customer_user):
    article = ArticleFactory(title="Mine")
    assert anonymous.post("/api/v1/articles/", {"title": "T", "body": "b"}, format="json").status_code in {401, 403}
    customer = api_client_for(customer_user)
    assert customer.post("/api/v1/articles/", {"title": "T", "body": "b"}, format="json").status_code == 403
    assert customer.patch(f"/api/v1/articles/{article.pk}/", {"title": "X"}, format="json").status_code == 403
    assert anonymous.patch(f"/api/v1/articles/{article.pk}/", {"title": "X"}, format="json").status_code in {401, 403}
    assert customer.post("/api/v1/categories/", {"name": "X"}, format="json").status_code == 403
    assert Article.objects.get().title == "Mine"
    assert not Category.objects.exists()


def test_agents_update_articles_and_each_change_is_a_version(api_client_for, agent):
    article = ArticleFactory(title="Old", body="Old body", status=Article.Status.DRAFT)
    api = api_client_for(agent)
    response = api.patch(f"/api/v1/articles/{article.pk}/", {"body": "New body", "status": "published"}, format="json")
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["body"], response.json()["status"]) == (
        "Old",
        "New body",
        "published",
    )
    assert ArticleVersion.objects.filter(article=article).count() == 2


def test_article_update_validation_errors(api_client_for, agent):
    article = ArticleFactory(title="Old")
    api = api_client_for(agent)
    response = api.patch(f"/api/v1/articles/{article.pk}/", {"title": "", "category": "nope"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"title", "category"}
    back_to_draft = api.patch(f"/api/v1/articles/{article.pk}/", {"status": "draft", "title": "New"}, format="json")
    assert back_to_draft.status_code == 400
    article.refresh_from_db()
    assert (article.title, article.status) == ("Old", "published")
    assert api.patch(f"/api/v1/articles/{article.pk + 99}/", {"title": "x"}, format="json").status_code == 404


def test_categories_are_public_in_order(anonymous):
    billing = CategoryFactory(name="Billing", slug="billing", position=2)
    CategoryFactory(name="Invoices", slug="invoices", parent=billing)
    CategoryFactory(name="Start", slug="start", position=1)
    data = anonymous.get("/api/v1/categories/").json()
    assert [(c["slug"], c["parent"]) for c in data] == [("start", None), ("billing", None), ("invoices", "billing")]


def test_agents_create_categories(api_client_for, agent):
    CategoryFactory(slug="billing")
    response = api_client_for(agent).post(
        "/api/v1/categories/", {"name": "Invoices", "parent": "billing"}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["slug"], response.json()["parent"]) == ("invoices", "billing")


def test_category_create_validation_errors(api_client_for, agent):
    top = CategoryFactory(slug="billing")
    CategoryFactory(slug="invoices", parent=top)
    api = api_client_for(agent)
    missing = api.post("/api/v1/categories/", {"parent": "nope"}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()["extra"]["fields"]) == {"name", "parent"}
    too_deep = api.post("/api/v1/categories/", {"name": "Deep", "parent": "invoices"}, format="json")
    assert too_deep.status_code == 400
    assert "parent" in too_deep.json()["extra"]
    assert Category.objects.count() == 2


def test_the_schema_lists_the_knowledge_endpoints(anonymous, api_client_for, agent):
    schema = api_client_for(agent).get("/api/schema/", {"format": "json"}).json()
    assert {"/api/v1/articles/", "/api/v1/articles/{article_id}/", "/api/v1/categories/"} <= set(schema["paths"])
    assert schema["paths"]["/api/v1/articles/"]["get"]["security"]  # documented
