"""Reads of the knowledge base: articles, their versions and feedback, categories. Search is ``knowledge.search``.

Visibility: agents (and managers) see every article; everyone else sees only
published ones, and anything else is a 404.
"""

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from core.pagination import Page, keyset_page
from core.roles import is_agent
from core.types import Viewer
from knowledge.models import Article, ArticleFeedback, ArticleVersion, Category

# ------------------------------------------------------------------------------------------------ visibility


def articles_visible_to(*, viewer: Viewer) -> QuerySet[Article]:
    """Every read leaves out the search vector: it is large and only PostgreSQL's index needs it."""
    articles = Article.objects.defer("search_vector")
    if is_agent(viewer):
        return articles
    return articles.filter(status=Article.Status.PUBLISHED)


def article_get_for(*, viewer: Viewer, slug: str | None = None, article_id: int | None = None) -> Article:
    """One article by ``slug`` or ``article_id``, or ``Http404`` when there is none the viewer may see."""
    lookup: dict[str, Any] = {"slug": slug} if slug is not None else {"pk": article_id}
    article = (
        articles_visible_to(viewer=viewer)
        .select_related("category__parent", "author")
        .prefetch_related("products", "tags")
        .filter(**lookup)
        .first()
    )
    if article is None:
        raise Http404("No such article.")
    return article


def article_list(
    *,
    viewer: Viewer,
    status: str = "",
    query: str = "",
    category: Category | None = None,
    cursor: str | None = None,
    size: int = 50,
) -> Page:
    """Articles the viewer may see, newest change first, keyset-paginated; ``query`` filters titles."""
    qs = articles_visible_to(viewer=viewer).select_related("category", "author").prefetch_related("products", "tags")
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(title__icontains=query.strip())
    if category is not None:
        qs = qs.filter(category=category)
    return keyset_page(qs, ordering=["-updated_at", "-id"], cursor=cursor, size=size)


def articles_popular(*, limit: int = 6) -> QuerySet[Article]:
    return (
        Article.objects.filter(status=Article.Status.PUBLISHED)
        .only("title", "slug", "status")
        .order_by("-view_count", "id")[:limit]
    )


def article_versions(*, article: Article) -> QuerySet[ArticleVersion]:
    return ArticleVersion.objects.filter(article=article).select_related("created_by").order_by("-number")


def article_version_get(*, article: Article, version_id: int) -> ArticleVersion:
    version = ArticleVersion.objects.filter(article=article, pk=version_id).first()
    if version is None:
        raise Http404("No such version.")
    return version


def article_feedback_recent(*, article: Article, limit: int = 10) -> QuerySet[ArticleFeedback]:
    return ArticleFeedback.objects.filter(article=article).select_related("user").order_by("-created_at", "-id")[:limit]


# ------------------------------------------------------------------------------------------------ categories


def category_list() -> QuerySet[Category]:
    """Top-level categories in order, each with its subcategories."""
    children = Prefetch("children", queryset=Category.objects.order_by("position", "name", "id"))
    return Category.objects.filter(parent__isnull=True).prefetch_related(children)


def category_get(*, slug: str) -> Category:
    children = Prefetch("children", queryset=Category.objects.order_by("position", "name", "id"))
    found = Category.objects.select_related("parent").prefetch_related(children).filter(slug=slug).first()
    if found is None:
        raise Http404("No such category.")
    return found


def category_articles(*, viewer: Viewer, category: Category, cursor: str | None = None, size: int = 50) -> Page:
    qs = articles_visible_to(viewer=viewer).filter(category=category)
    return keyset_page(qs, ordering=["title", "id"], cursor=cursor, size=size)
