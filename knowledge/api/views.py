from typing import Any

from django.db.models import prefetch_related_objects
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from core.conf import helpdesk_setting
from core.exceptions import ApplicationError
from core.roles import is_agent
from knowledge.api.permissions import IsAgentOrReadOnly
from knowledge.api.serializers import (
    ArticleInputSerializer,
    ArticleListItemSerializer,
    ArticleListParamsSerializer,
    ArticleOutputSerializer,
    ArticlePageSerializer,
    CategoryInputSerializer,
    CategoryOutputSerializer,
)
from knowledge.models import Article, SearchLog
from knowledge.search import article_search
from knowledge.selectors import article_get_for, article_list, category_list
from knowledge.services import (
    article_archive,
    article_create,
    article_publish,
    article_update,
    category_create,
    search_log_record,
)


class SearchRateThrottle(SimpleRateThrottle):
    """Searches (``?q=``) by anyone but agents count against ``HELPDESK["RATELIMIT_API_SEARCH"]`` per client."""

    scope = "knowledge-search"

    def get_rate(self) -> str:
        return helpdesk_setting("RATELIMIT_API_SEARCH")

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not request.query_params.get("q") or is_agent(request.user):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


#: the serializer context of answers only agents get (writes)
AGENT = {"agent": True}

_LIST_PARAMETERS = [
    OpenApiParameter("q", str, description='Full-text search (websearch syntax: "phrase", -word, or).'),
    OpenApiParameter("status", str, enum=Article.Status.values, description="Agents only see other statuses."),
    OpenApiParameter("category", str, description="A category slug."),
    OpenApiParameter("cursor", str, description="next_cursor of the previous page (lists without q)."),
    OpenApiParameter("limit", int, description="Search results (1-100, default 20)."),
]


class ArticleListApi(APIView):
    permission_classes = [IsAgentOrReadOnly]

    def get_throttles(self) -> list[BaseThrottle]:
        return [SearchRateThrottle()] if self.request.method == "GET" else []

    @extend_schema(parameters=_LIST_PARAMETERS, responses=ArticlePageSerializer, operation_id="articles_list")
    def get(self, request: Request) -> Response:
        """Published articles (agents: every status), newest change first; with ``q``, the best matches first."""
        params = ArticleListParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if data["q"].strip():
            results = article_search(query=data["q"], viewer=request.user, limit=data["limit"])
            search_log_record(
                query=results.query, results_count=results.count, source=SearchLog.Source.API, user=request.user
            )
            articles = [hit.article for hit in results.hits]
            prefetch_related_objects(articles, "products", "tags", "author")
            context = {"hits": {hit.article.pk: hit for hit in results.hits}, "agent": is_agent(request.user)}
            items = ArticleListItemSerializer(articles, many=True, context=context).data
            return Response({"results": items, "next_cursor": None, "count": results.count, "more": results.more})
        page = article_list(
            viewer=request.user, status=data["status"], category=data["category"], cursor=data["cursor"]
        )
        items = ArticleListItemSerializer(page.items, many=True, context={"agent": is_agent(request.user)}).data
        return Response({"results": items, "next_cursor": page.next_cursor, "count": None, "more": False})

    @extend_schema(
        request=ArticleInputSerializer, responses={201: ArticleOutputSerializer}, operation_id="articles_create"
    )
    def post(self, request: Request) -> Response:
        """Agents: write an article (a draft unless ``status`` says ``published``)."""
        serializer = ArticleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        article = article_create(author=request.user, **serializer.validated_data)
        article = article_get_for(viewer=request.user, article_id=article.pk)
        return Response(ArticleOutputSerializer(article, context=AGENT).data, status=status.HTTP_201_CREATED)


class ArticleDetailApi(APIView):
    permission_classes = [IsAgentOrReadOnly]

    @extend_schema(responses=ArticleOutputSerializer, operation_id="articles_retrieve")
    def get(self, request: Request, article_id: int) -> Response:
        article = article_get_for(viewer=request.user, article_id=article_id)
        return Response(ArticleOutputSerializer(article, context={"agent": is_agent(request.user)}).data)

    @extend_schema(
        request=ArticleInputSerializer(partial=True),
        responses=ArticleOutputSerializer,
        operation_id="articles_partial_update",
    )
    def patch(self, request: Request, article_id: int) -> Response:
        """Agents: change what is given. A changed title or body is kept as a new version; ``status`` publishes
        or archives (an article never goes back to draft)."""
        article = article_get_for(viewer=request.user, article_id=article_id)
        serializer = ArticleInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        new_status = changes.pop("status", None)
        if new_status == Article.Status.DRAFT and article.status != Article.Status.DRAFT:
            raise ApplicationError("An article does not go back to draft: archive it instead.", {"status": new_status})
        article = article_update(article=article, actor=request.user, **changes)
        if new_status == Article.Status.PUBLISHED:
            article_publish(article=article, actor=request.user)
        elif new_status == Article.Status.ARCHIVED:
            article_archive(article=article, actor=request.user)
        article = article_get_for(viewer=request.user, article_id=article_id)
        return Response(ArticleOutputSerializer(article, context=AGENT).data)


class CategoryListApi(APIView):
    permission_classes = [IsAgentOrReadOnly]

    @extend_schema(responses=CategoryOutputSerializer(many=True), operation_id="categories_list")
    def get(self, request: Request) -> Response:
        """Top-level categories in order, each followed by its subcategories."""
        ordered = [item for top in category_list() for item in (top, *top.children.all())]
        return Response(CategoryOutputSerializer(ordered, many=True).data)

    @extend_schema(
        request=CategoryInputSerializer, responses={201: CategoryOutputSerializer}, operation_id="categories_create"
    )
    def post(self, request: Request) -> Response:
        """Agents: add a category (nested at most one level)."""
        serializer = CategoryInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = category_create(**serializer.validated_data)
        return Response(CategoryOutputSerializer(category).data, status=status.HTTP_201_CREATED)
