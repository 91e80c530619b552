"""Customers and anonymous readers get an article as the help center shows it; agents get the counts too."""

import pytest
from rest_framework.test import APIClient

from knowledge.models import Article
from tests.factories import CustomerUserFactory
from tests.knowledge.factories import ArticleFactory

pytestmark = pytest.mark.django_db

AGENT_ONLY = {"status", "tags", "author_name", "view_count", "helpful_yes_count", "helpful_no_count"}


@pytest.fixture
def article():
    article = ArticleFactory(title="Resetting your password")
    Article.objects.filter(pk=article.pk).update(view_count=812, helpful_no_count=97)
    return article


def test_customers_and_anonymous_readers_see_no_internal_counts(api_client_for, article):
    for client in (APIClient(), api_client_for(CustomerUserFactory())):
        detail = client.get(f"/api/v1/articles/{article.pk}/").json()
        listed = client.get("/api/v1/articles/").json()["results"][0]
        found = client.get("/api/v1/articles/", {"q": "password"}).json()["results"][0]
        for body in (detail, listed, found):
            assert body["title"] == "Resetting your password"
            assert not AGENT_ONLY & set(body)
            assert "812" not in str(body)


def test_agents_still_see_the_counts(api_client_for, agent, article):
    body = api_client_for(agent).get(f"/api/v1/articles/{article.pk}/").json()
    assert body["view_count"] == 812
    assert body["helpful_no_count"] == 97
    assert body["status"] == "published"
