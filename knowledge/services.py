"""Writes of the knowledge base. Views, the API, the admin and the demo all call these.

Every save of an article's title or body renders the markdown to sanitized HTML
(``core.markdown``), keeps a version row, and, on PostgreSQL, recomputes the
weighted search vector (title A, body B) in SQL.
"""

import datetime as dt
import re
from collections.abc import Iterable
from enum import Enum
from typing import Any

from django.contrib.postgres.search import SearchVector
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from core.markdown import render_markdown
from core.models import User
from customers.models import Product, Tag
from knowledge.models import Article, ArticleFeedback, ArticleVersion, Category, SearchLog
from knowledge.search import search_query_normalize

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
OPEN_WINDOW = dt.timedelta(days=1)  # a search log can be marked "opened" for a day


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET


def _clean(text: str) -> str:
    """Drop control characters (they also serve as highlight sentinels in search snippets)."""
    return _CONTROL.sub("", text or "")


def _slug_for(*, title: str, slug: str, exclude_pk: int | None = None) -> str:
    """``slug`` when given (taken: an error on ``slug``), else one made from the title, unique by suffix."""
    taken = Article.objects.exclude(pk=exclude_pk) if exclude_pk else Article.objects.all()
    if slug:
        wanted = slugify(slug)[:200]
        if not wanted:
            raise ApplicationError("Enter a valid slug.", {"slug": "Letters, numbers, hyphens."})
        if taken.filter(slug=wanted).exists():
            raise ApplicationError("Another article already uses that slug.", {"slug": "Already in use."})
        return wanted
    base = slugify(title)[:180] or "article"
    existing = set(taken.filter(slug__startswith=base).values_list("slug", flat=True))
    candidate, n = base, 2
    while candidate in existing:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _refresh_search_vector(*, article_id: int) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite searches title and body directly
    config = helpdesk_setting("SEARCH_CONFIG")
    Article.objects.filter(pk=article_id).update(
        search_vector=SearchVector("title", weight="A", config=config) + SearchVector("body", weight="B", config=config)
    )


def _require_title(title: str) -> str:
    title = " ".join(_clean(title).split())
    if not title:
        raise ApplicationError("An article needs a title.", {"title": "This field is required."})
    return title


@transaction.atomic
def article_create(
    *,
    title: str,
    body: str,
    author: Any,
    category: Category | None = None,
    slug: str = "",
    products: Iterable[Product] = (),
    tags: Iterable[Tag] = (),
    status: str = Article.Status.DRAFT,
    note: str = "",
) -> Article:
    """A new article (a draft unless ``status`` says otherwise) with its first version."""
    title = _require_title(title)
    body = _clean(body)
    if status not in Article.Status.values:
        raise ApplicationError("Unknown status.", {"status": f"One of {', '.join(Article.Status.values)}."})
    now = timezone.now()
    article = Article(
        title=title,
        slug=_slug_for(title=title, slug=slug),
        category=category,
        body=body,
        body_html=render_markdown(body),
        status=status,
        author=author if getattr(author, "is_authenticated", False) else None,
        created_at=now,
        updated_at=now,
        published_at=now if status == Article.Status.PUBLISHED else None,
    )
    try:
        with transaction.atomic():
            article.save()
    except IntegrityError as exc:  # a concurrent create took the slug
        raise ApplicationError("Another article already uses that slug.", {"slug": "Already in use."}) from exc
    article.products.set(products)
    article.tags.set(tags)
    ArticleVersion.objects.create(
        article=article, number=1, title=title, body=body, note=note or "Created", created_by=article.author
    )
    _refresh_search_vector(article_id=article.pk)
    return article


@transaction.atomic
def article_update(
    *,
    article: Article,
    actor: User,
    title: str | None = None,
    body: str | None = None,
    slug: str | None = None,
    category: Category | _Unset | None = UNSET,
    products: Iterable[Product] | None = None,
    tags: Iterable[Tag] | None = None,
    note: str = "",
) -> Article:
    """Change what is given (``None``/``UNSET``: unchanged). A changed title or body is kept as a new version."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    fields: list[str] = []
    if title is not None and _require_title(title) != article.title:
        article.title = _require_title(title)
        fields.append("title")
    if body is not None and _clean(body) != article.body:
        article.body = _clean(body)
        article.body_html = render_markdown(article.body)
        fields += ["body", "body_html"]
    if slug is not None and slug and slugify(slug) != article.slug:
        article.slug = _slug_for(title=article.title, slug=slug, exclude_pk=article.pk)
        fields.append("slug")
    if category is not UNSET and category != article.category:
        article.category = category
        fields.append("category")
    content_changed = "title" in fields or "body" in fields
    if fields or products is not None or tags is not None:
        article.updated_at = timezone.now()
        article.save(update_fields=[*fields, "updated_at"])
    if products is not None:
        article.products.set(products)
    if tags is not None:
        article.tags.set(tags)
    if content_changed:
        number = (ArticleVersion.objects.filter(article=article).aggregate(n=Max("number"))["n"] or 0) + 1
        ArticleVersion.objects.create(
            article=article,
            number=number,
            title=article.title,
            body=article.body,
            note=note[:200],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        _refresh_search_vector(article_id=article.pk)
    return article


@transaction.atomic
def article_publish(*, article: Article, actor: User) -> Article:
    """Make the article visible to everyone. Publishing a published article changes nothing."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.status != Article.Status.PUBLISHED:
        now = timezone.now()
        article.status = Article.Status.PUBLISHED
        article.published_at = article.published_at or now
        article.updated_at = now
        article.save(update_fields=["status", "published_at", "updated_at"])
    return article


@transaction.atomic
def article_archive(*, article: Article, actor: User) -> Article:
    """Hide the article from customers (a 404 for them) while keeping it and its history."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    if article.status != Article.Status.ARCHIVED:
        article.status = Article.Status.ARCHIVED
        article.updated_at = timezone.now()
        article.save(update_fields=["status", "updated_at"])
    return article


@transaction.atomic
def article_restore_version(*, version: ArticleVersion, actor: User) -> Article:
    """Bring back an earlier title and body; the restore is itself a new version, so nothing is lost."""
    return article_update(
        article=version.article,
        actor=actor,
        title=version.title,
        body=version.body,
        note=f"Restored version {version.number}",
    )


@transaction.atomic
def article_feedback_submit(*, article: Article, helpful: bool, comment: str = "", user: Any = None) -> ArticleFeedback:
    """One "Was this helpful?" answer; the article's yes/no counter goes up by one."""
    if article.status != Article.Status.PUBLISHED:
        raise ApplicationError("Feedback is only taken on published articles.")
    feedback = ArticleFeedback.objects.create(
        article=article,
        helpful=helpful,
        comment=_clean(comment).strip()[:2000],
        user=user if getattr(user, "is_authenticated", False) else None,
    )
    counter = "helpful_yes_count" if helpful else "helpful_no_count"
    Article.objects.filter(pk=article.pk).update(**{counter: F(counter) + 1})
    return feedback


def article_view_record(*, article_id: int) -> None:
    """Count one view (one UPDATE with ``F()``, no read-modify-write)."""
    Article.objects.filter(pk=article_id).update(view_count=F("view_count") + 1)


@transaction.atomic
def category_create(
    *, name: str, slug: str = "", description: str = "", parent: Category | None = None, position: int = 0
) -> Category:
    name = " ".join(_clean(name).split())
    if not name:
        raise ApplicationError("A category needs a name.", {"name": "This field is required."})
    if parent is not None and parent.parent_id is not None:
        raise ApplicationError("Categories nest one level.", {"parent": "Choose a top-level category as the parent."})
    slug = slugify(slug or name)[:120]
    if not slug or Category.objects.filter(slug=slug).exists():
        raise ApplicationError("Another category already uses that slug.", {"slug": "Already in use."})
    return Category.objects.create(
        name=name, slug=slug, description=_clean(description)[:300], parent=parent, position=position
    )


# ------------------------------------------------------------------------------------------------ search log


def search_log_record(
    *, query: str, results_count: int, source: str = SearchLog.Source.HELP, user: Any = None
) -> SearchLog:
    """Log one search (every search is logged; the gaps report reads these)."""
    text = search_query_normalize(_clean(query))
    return SearchLog.objects.create(
        query=text,
        normalized_query=text.lower(),
        source=source,
        results_count=results_count,
        user=user if getattr(user, "is_authenticated", False) else None,
    )


def search_log_mark_opened(*, search_log_id: int, article_id: int) -> bool:
    """Record that a result of this search was opened; only the first article opened, within a day, counts."""
    return (
        SearchLog.objects.filter(
            pk=search_log_id, opened_article__isnull=True, created_at__gte=timezone.now() - OPEN_WINDOW
        ).update(opened_article_id=article_id, opened_at=timezone.now())
        > 0
    )


def search_log_mark_ticket(*, search_log_id: int, ticket_id: int) -> bool:
    """Called by the tickets app when a ticket is filed after this search (the search did not help).

    Returns False when there is no such log or it is already linked to a ticket.
    """
    return SearchLog.objects.filter(pk=search_log_id, ticket_id__isnull=True).update(ticket_id=ticket_id) > 0
