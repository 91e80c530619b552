"""URL patterns of the tickets app, mounted by config/urls.py under /agent/ and /help/."""

agent_urlpatterns: list = []
help_urlpatterns: list = []
