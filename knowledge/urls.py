"""URL patterns of the knowledge app, mounted by config/urls.py under /agent/ and /help/.

``help-home`` (``/help/``) is mounted by config/urls.py itself, pointing at ``views.help_home_view``.
"""

from django.urls import path

from knowledge import views

agent_urlpatterns = [
    path("knowledge/", views.agent_article_list_view, name="agent-knowledge-list"),
    path("knowledge/new/", views.agent_article_create_view, name="agent-knowledge-create"),
    path("knowledge/preview/", views.agent_article_preview_view, name="agent-knowledge-preview"),
    path("knowledge/suggest/", views.agent_article_suggest_view, name="agent-knowledge-suggest"),
    path("knowledge/gaps/", views.agent_gaps_view, name="agent-knowledge-gaps"),
    path("knowledge/<int:article_id>/", views.agent_article_edit_view, name="agent-knowledge-edit"),
    path("knowledge/<int:article_id>/status/", views.agent_article_status_view, name="agent-knowledge-status"),
    path(
        "knowledge/<int:article_id>/versions/<int:version_id>/restore/",
        views.agent_article_restore_view,
        name="agent-knowledge-restore",
    ),
]

help_urlpatterns = [
    path("search/", views.help_search_view, name="help-search"),
    path("search/suggest/", views.help_search_suggest_view, name="help-search-suggest"),
    path("categories/<slug:slug>/", views.help_category_view, name="help-category"),
    path("articles/<slug:slug>/", views.help_article_view, name="help-article"),
    path("articles/<slug:slug>/feedback/", views.help_article_feedback_view, name="help-article-feedback"),
]
