"""The knowledge base: categories, articles with their versions, feedback, and the search log.

Writes go through ``knowledge.services``; reads through ``knowledge.selectors``, search through ``knowledge.search``.
The full-text ``search_vector`` is filled on PostgreSQL only (by the services);
its GIN index is created by migration 0002 on PostgreSQL only.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from customers.models import Product, Tag


class Category(models.Model):
    """A help-center section. Nested one level: a category has a parent or children, never both."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.CharField(max_length=300, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        limit_choices_to={"parent__isnull": True},
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first.")

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["position", "name", "id"]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name

    def get_absolute_url(self) -> str:
        return reverse("help-category", args=[self.slug])

    def clean(self) -> None:
        if self.parent_id is None:
            return
        if self.parent_id == self.pk:
            raise ValidationError({"parent": "A category cannot be its own parent."})
        if self.parent and self.parent.parent_id is not None:
            raise ValidationError({"parent": "Categories nest one level: choose a top-level parent."})
        if self.pk and Category.objects.filter(parent_id=self.pk).exists():
            raise ValidationError({"parent": "This category has subcategories, so it must stay top-level."})


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles")
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(blank=True, editable=False, help_text="The body rendered and sanitized on save.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    products = models.ManyToManyField(Product, blank=True, related_name="articles")
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    helpful_yes_count = models.PositiveIntegerField(default=0)
    helpful_no_count = models.PositiveIntegerField(default=0)
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            # the API and agent lists, keyset-paginated by (updated_at, id)
            models.Index(fields=["status", "-updated_at", "-id"], name="knowledge_article_status_upd"),
            models.Index(fields=["-updated_at", "-id"], name="knowledge_article_updated"),
            # popular articles on the help-center home
            models.Index(fields=["status", "-view_count", "id"], name="knowledge_article_popular"),
            # a category page, by title
            models.Index(fields=["category", "status", "title", "id"], name="knowledge_article_category"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("help-article", args=[self.slug])

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.PUBLISHED


class ArticleVersion(models.Model):
    """One saved state of an article's title and body; the newest is the current one."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["article", "-number"]
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="knowledge_version_unique")]

    def __str__(self) -> str:
        return f"{self.article_id} v{self.number}"


class ArticleFeedback(models.Model):
    """One "Was this helpful?" answer. The article keeps the yes/no counters."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    helpful = models.BooleanField()
    comment = models.TextField(max_length=2000, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "article feedback"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["article", "-created_at"], name="knowledge_feedback_article")]

    def __str__(self) -> str:
        return f"{'Yes' if self.helpful else 'No'} on {self.article_id}"


class SearchLog(models.Model):
    """Every search, for the content-gap report. ``ticket_id`` is set by the tickets app (no FK: no import)."""

    class Source(models.TextChoices):
        HELP = "help", "Help center"
        TYPEAHEAD = "typeahead", "Search as you type"
        AGENT = "agent", "Agent suggestions"
        REQUEST = "request", "Request form suggestions"
        API = "api", "API"

    query = models.CharField(max_length=200)
    normalized_query = models.CharField(max_length=200, help_text="Lower-cased, spaces collapsed: what gaps group by.")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.HELP)
    results_count = models.PositiveIntegerField(help_text="Capped at the search's rank limit.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField(null=True, blank=True)
    ticket_id = models.BigIntegerField(null=True, blank=True, help_text="The ticket filed after this search.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at"], name="knowledge_searchlog_created"),
            # the gaps report reads only searches that found nothing or led to a ticket
            models.Index(
                fields=["created_at", "normalized_query"],
                condition=Q(results_count=0) | Q(ticket_id__isnull=False),
                name="knowledge_searchlog_gaps",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.query!r} ({self.results_count})"
