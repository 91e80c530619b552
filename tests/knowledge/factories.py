"""Articles are made through the services, so that the HTML, the first version and the search vector exist."""

import factory

from knowledge.models import Article, ArticleFeedback, Category, SearchLog
from knowledge.services import article_create
from tests.factories import AgentFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Topic {n}")
    slug = factory.Sequence(lambda n: f"topic-{n}")


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Article number {n}")
    body = "Some helpful text."
    author = factory.SubFactory(AgentFactory)
    category = None
    status = Article.Status.PUBLISHED

    @classmethod
    def _create(cls, model_class: type[Article], *args: object, **kwargs: object) -> Article:
        return article_create(**kwargs)  # type: ignore[arg-type]


class ArticleFeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ArticleFeedback

    article = factory.SubFactory(ArticleFactory)
    helpful = True


class SearchLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SearchLog

    query = factory.Sequence(lambda n: f"query {n}")
    normalized_query = factory.LazyAttribute(lambda log: log.query.lower())
    results_count = 0
    source = SearchLog.Source.HELP
