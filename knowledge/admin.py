from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from knowledge.models import Article, ArticleFeedback, ArticleVersion, Category, SearchLog
from knowledge.services import article_archive, article_create, article_publish, article_update


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "position"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_editable = ["position"]


class ArticleVersionInline(admin.TabularInline):
    model = ArticleVersion
    fields = ["number", "title", "note", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Saving goes through the services, so the admin keeps versions, the HTML and the search vector too."""

    list_display = ["title", "status", "category", "author", "view_count", "helpful_yes_count", "helpful_no_count",
                    "updated_at", "published_at"]  # fmt: skip
    list_filter = ["status", "category", "products", "tags"]
    search_fields = ["title", "slug", "body"]
    list_select_related = ["category", "author"]
    filter_horizontal = ["products", "tags"]
    raw_id_fields = ["author"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["status", "created_at", "updated_at", "published_at", "view_count", "helpful_yes_count",
                       "helpful_no_count"]  # fmt: skip
    fields = ["title", "slug", "category", "body", "products", "tags", "author", *readonly_fields]
    inlines = [ArticleVersionInline]
    date_hierarchy = "updated_at"
    show_full_result_count = False
    actions = ["publish", "archive"]

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            article_update(article=obj, actor=request.user, title=data["title"], body=data["body"],
                           slug=data["slug"], category=data["category"], note="Edited in the admin")  # fmt: skip
        else:
            created = article_create(title=data["title"], body=data["body"], slug=data["slug"],
                                     category=data["category"], author=data.get("author") or request.user)  # fmt: skip
            obj.pk = created.pk
            obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        form.instance = Article.objects.get(pk=form.instance.pk)
        form.save_m2m()
        for formset in formsets:
            formset.instance = form.instance
            self.save_formset(request, form, formset, change=change)

    @admin.action(description="Publish")
    def publish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            article_publish(article=article, actor=request.user)
        messages.success(request, "Published.")

    @admin.action(description="Archive")
    def archive(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            article_archive(article=article, actor=request.user)
        messages.success(request, "Archived.")


@admin.register(ArticleVersion)
class ArticleVersionAdmin(admin.ModelAdmin):
    list_display = ["article", "number", "title", "created_by", "created_at", "note"]
    search_fields = ["title", "article__title", "note"]
    list_filter = ["created_at"]
    list_select_related = ["article", "created_by"]
    readonly_fields = ["article", "number", "title", "body", "note", "created_by", "created_at"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(admin.ModelAdmin):
    list_display = ["article", "helpful", "comment", "user", "created_at"]
    list_filter = ["helpful", "created_at"]
    search_fields = ["comment", "article__title"]
    list_select_related = ["article", "user"]
    raw_id_fields = ["article", "user"]
    show_full_result_count = False


@admin.register(SearchLog)
class SearchLogAdmin(admin.ModelAdmin):
    list_display = ["query", "source", "results_count", "opened_article", "ticket_id", "user", "created_at"]
    list_filter = ["source", "created_at", ("opened_article", admin.EmptyFieldListFilter)]
    search_fields = ["normalized_query"]
    list_select_related = ["opened_article", "user"]
    raw_id_fields = ["opened_article", "user"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
