from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import Product, Tag
from knowledge.models import Article, Category


class CategoryOutputSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(read_only=True, slug_field="slug")

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "description", "parent", "position"]


class CategoryInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=120, required=False, default="")
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    parent = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True, default=None
    )
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False, default=0)


#: what the help center shows agents only (templates/knowledge/help_article.html)
AGENT_ONLY_ARTICLE_FIELDS = ("status", "tags", "author_name", "view_count", "helpful_yes_count", "helpful_no_count")


class ArticleOutputSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(read_only=True, slug_field="slug")
    products = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    author_name = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = [
            "id", "title", "slug", "status", "category", "products", "tags", "author_name", "body", "body_html",
            "url", "created_at", "updated_at", "published_at", "view_count", "helpful_yes_count", "helpful_no_count",
        ]  # fmt: skip

    def to_representation(self, instance: Article) -> dict:
        """Without ``context["agent"]`` (a customer, or anyone anonymous) only what the help center shows:
        no view or helpful counts, tags or author, as on the article page."""
        data = super().to_representation(instance)
        if not self.context.get("agent"):
            for field in AGENT_ONLY_ARTICLE_FIELDS:
                data.pop(field, None)
        return data

    def get_author_name(self, article: Article) -> str:
        return article.author.get_full_name() if article.author else ""

    def get_url(self, article: Article) -> str:
        return settings.SITE_URL + article.get_absolute_url()


class ArticleListItemSerializer(ArticleOutputSerializer):
    """An article in a list; with ``?q=`` also its rank and an HTML snippet (escaped text with ``<mark>``)."""

    rank = serializers.SerializerMethodField()
    snippet_html = serializers.SerializerMethodField()

    class Meta(ArticleOutputSerializer.Meta):
        fields = [*ArticleOutputSerializer.Meta.fields, "rank", "snippet_html"]

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_rank(self, article: Article) -> float | None:
        hit = self.context.get("hits", {}).get(article.pk)
        return hit.rank if hit else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_snippet_html(self, article: Article) -> str | None:
        hit = self.context.get("hits", {}).get(article.pk)
        return str(hit.snippet) if hit else None


class ArticlePageSerializer(serializers.Serializer):
    results = ArticleListItemSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    count = serializers.IntegerField(allow_null=True, help_text="Matches of ?q=, counted up to a cap; else null.")
    more = serializers.BooleanField(help_text="True when count is a lower bound (there are at least that many).")


class ArticleListParamsSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    status = serializers.ChoiceField(choices=Article.Status.choices, required=False, default="")
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, default=None
    )
    cursor = serializers.CharField(required=False, default=None)
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)


class ArticleInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=200_000, trim_whitespace=False)
    slug = serializers.SlugField(max_length=200, required=False, default="")
    category = serializers.SlugRelatedField(
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True, default=None
    )
    products = serializers.SlugRelatedField(
        slug_field="slug", queryset=Product.objects.all(), many=True, required=False, default=list
    )
    tags = serializers.SlugRelatedField(
        slug_field="name", queryset=Tag.objects.all(), many=True, required=False, default=list
    )
    status = serializers.ChoiceField(choices=Article.Status.choices, required=False, default=Article.Status.DRAFT)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
