from django.urls import path

from knowledge.api import views

urlpatterns = [
    path("articles/", views.ArticleListApi.as_view(), name="api-article-list"),
    path("articles/<int:article_id>/", views.ArticleDetailApi.as_view(), name="api-article-detail"),
    path("categories/", views.CategoryListApi.as_view(), name="api-category-list"),
]
