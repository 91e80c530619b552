"""Knowledge pages: the help center (home, search, categories, articles, feedback) and the agents' editor."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.exceptions import ApplicationError
from core.forms import form_add_service_error
from core.markdown import render_markdown
from core.params import ParameterError, parse_choice, parse_id
from core.ratelimit import ratelimit
from core.roles import agent_required, is_agent
from core.types import AuthedRequest, HtmxRequest
from knowledge.forms import ArticleForm, FeedbackForm, PreviewForm
from knowledge.models import Article, SearchLog
from knowledge.search import article_search, search_gaps
from knowledge.selectors import (
    article_feedback_recent,
    article_get_for,
    article_list,
    article_version_get,
    article_versions,
    articles_popular,
    category_articles,
    category_get,
    category_list,
)
from knowledge.services import (
    article_archive,
    article_create,
    article_feedback_submit,
    article_publish,
    article_restore_version,
    article_update,
    article_view_record,
    search_log_mark_opened,
    search_log_record,
)

GAP_PERIODS = (7, 30, 90)


# ------------------------------------------------------------------------------------------------ help center


@require_GET
def help_home_view(request: HtmxRequest) -> HttpResponse:
    context = {"categories": category_list(), "popular": articles_popular()}
    return render(request, "knowledge/help_home.html" + ("#popular" if request.htmx else ""), context)


@require_GET
@ratelimit(key="ip", rate="RATELIMIT_SEARCH")
def help_search_view(request: HtmxRequest) -> HttpResponse:
    """Search results; as you type (htmx) the last word is a prefix and only the results are sent."""
    results = article_search(query=request.GET.get("q", ""), viewer=request.user, prefix=bool(request.htmx))
    source = SearchLog.Source.TYPEAHEAD if request.htmx else SearchLog.Source.HELP
    log = None
    if results.query:
        log = search_log_record(query=results.query, results_count=results.count, source=source, user=request.user)
    template = "knowledge/help_search.html" + ("#results" if request.htmx else "")
    return render(request, template, {"results": results, "query": results.query, "search_log": log})


@require_GET
@ratelimit(key="ip", rate="RATELIMIT_TYPEAHEAD")
def help_search_suggest_view(request: HtmxRequest) -> HttpResponse:
    """The search box's drop-down: a few titles matching what is typed so far."""
    if not request.htmx:
        return redirect(reverse("help-search") + "?" + request.GET.urlencode())
    results = article_search(query=request.GET.get("q", ""), viewer=request.user, limit=6, prefix=True, snippets=False)
    log = None
    if results.query:
        log = search_log_record(
            query=results.query, results_count=results.count, source=SearchLog.Source.TYPEAHEAD, user=request.user
        )
    return render(request, "knowledge/help_search.html#suggestions", {"results": results, "search_log": log})


@require_GET
def help_category_view(request: HtmxRequest, slug: str) -> HttpResponse:
    category = category_get(slug=slug)
    page = category_articles(viewer=request.user, category=category, cursor=request.GET.get("cursor"))
    template = "knowledge/help_category.html" + ("#rows" if request.htmx else "")
    return render(request, template, {"category": category, "page": page})


@require_GET
def help_article_view(request: HtmxRequest, slug: str) -> HttpResponse:
    """Counts a customer's view; ``?s=<search log id>`` records that the search led here."""
    article = article_get_for(viewer=request.user, slug=slug)
    if article.is_public and not is_agent(request.user):
        article_view_record(article_id=article.pk)
    try:
        search_log_id = parse_id(request.GET, "s")
    except ParameterError:  # only a tracking parameter: a broken one still shows the article
        search_log_id = None
    if search_log_id:
        search_log_mark_opened(search_log_id=search_log_id, article_id=article.pk)
    context = {"article": article, "form": FeedbackForm(), "search_log_id": search_log_id}
    return render(request, "knowledge/help_article.html" + ("#article" if request.htmx else ""), context)


@require_POST
@ratelimit(key="ip", rate="RATELIMIT_FEEDBACK")
def help_article_feedback_view(request: HtmxRequest, slug: str) -> HttpResponse:
    article = article_get_for(viewer=request.user, slug=slug)
    form = FeedbackForm(request.POST)
    sent = False
    if form.is_valid():
        try:
            article_feedback_submit(article=article, user=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            if not request.htmx:
                messages.success(request, "Thank you for your feedback.")
                return redirect(article)
            sent = True
    template = "knowledge/help_article.html" + ("#feedback" if request.htmx else "")
    return render(request, template, {"article": article, "form": form, "feedback_sent": sent})


# ------------------------------------------------------------------------------------------------ agents


@agent_required
def agent_article_list_view(request: AuthedRequest) -> HttpResponse:
    status = request.GET.get("status", "") if request.GET.get("status") in Article.Status.values else ""
    query = request.GET.get("q", "")
    page = article_list(viewer=request.user, status=status, query=query, cursor=request.GET.get("cursor"))
    partial = "#rows" if request.GET.get("cursor") else "#table"
    template = "knowledge/agent_article_list.html" + (partial if request.htmx else "")
    context = {"page": page, "query": query, "status": status, "statuses": Article.Status.choices}
    return render(request, template, context)


@agent_required
def agent_article_create_view(request: AuthedRequest) -> HttpResponse:
    form = ArticleForm(request.POST or None, initial={"title": request.GET.get("title", "")[:200]})
    if request.method == "POST" and form.is_valid():
        try:
            article = article_create(author=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "Draft saved.")
            url = reverse("agent-knowledge-edit", args=[article.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    template = "knowledge/agent_article_form.html" + ("#editor" if request.htmx else "")
    return render(request, template, {"form": form, "article": None})


@agent_required
def agent_article_edit_view(request: AuthedRequest, article_id: int) -> HttpResponse:
    article = article_get_for(viewer=request.user, article_id=article_id)
    form = ArticleForm(request.POST or None, initial=ArticleForm.initial_for(article))
    if request.method == "POST" and form.is_valid():
        try:
            article = article_update(article=article, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, "Saved.")
            url = reverse("agent-knowledge-edit", args=[article.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _render_editor(request, article=article, form=form)


def _render_editor(request: AuthedRequest, *, article: Article, form: ArticleForm) -> HttpResponse:
    context = {
        "article": article,
        "form": form,
        "versions": article_versions(article=article),
        "feedback": article_feedback_recent(article=article),
    }
    template = "knowledge/agent_article_form.html" + ("#editor" if request.htmx else "")
    return render(request, template, context)


@require_POST
@agent_required
def agent_article_status_view(request: AuthedRequest, article_id: int) -> HttpResponse:
    """``action=publish`` or ``action=archive``."""
    article = article_get_for(viewer=request.user, article_id=article_id)
    change = {"publish": article_publish, "archive": article_archive}.get(request.POST.get("action", ""))
    if change is not None:
        article = change(article=article, actor=request.user)
    if not request.htmx:
        messages.success(request, f"The article is {article.get_status_display().lower()}.")
        return redirect("agent-knowledge-edit", article_id=article.pk)
    return render(request, "knowledge/agent_article_form.html#status", {"article": article})


@require_POST
@agent_required
def agent_article_restore_view(request: AuthedRequest, article_id: int, version_id: int) -> HttpResponse:
    article = article_get_for(viewer=request.user, article_id=article_id)
    version = article_version_get(article=article, version_id=version_id)
    article = article_restore_version(version=version, actor=request.user)
    if not request.htmx:
        messages.success(request, f"Version {version.number} is restored as the current text.")
        return redirect("agent-knowledge-edit", article_id=article.pk)
    article = article_get_for(viewer=request.user, article_id=article.pk)
    return _render_editor(request, article=article, form=ArticleForm(initial=ArticleForm.initial_for(article)))


@require_POST
@agent_required
def agent_article_preview_view(request: AuthedRequest) -> HttpResponse:
    """The markdown as customers will see it, sanitized exactly as on save."""
    form = PreviewForm(request.POST)
    preview = render_markdown(form.cleaned_data["body"]) if form.is_valid() else ""
    template = "knowledge/agent_article_preview.html" + ("#preview" if request.htmx else "")
    return render(request, template, {"preview": preview, "form": form})


@require_GET
@agent_required
def agent_article_suggest_view(request: AuthedRequest) -> HttpResponse:
    """Published articles matching ``q``, with their public URLs, for the agent's reply box."""
    results = article_search(
        query=request.GET.get("q", ""), viewer=request.user, limit=8, prefix=True, published_only=True, snippets=False
    )
    if results.query:
        search_log_record(
            query=results.query, results_count=results.count, source=SearchLog.Source.AGENT, user=request.user
        )
    template = "knowledge/agent_suggest.html" + ("#suggestions" if request.htmx else "")
    return render(request, template, {"results": results, "site_url": settings.SITE_URL})


@require_GET
@agent_required
def agent_gaps_view(request: AuthedRequest) -> HttpResponse:
    """The most frequent searches that found nothing or led to a ticket: what to write next."""
    days = int(parse_choice(request.GET, "days", choices=[str(period) for period in GAP_PERIODS], default="30"))
    context = {"gaps": search_gaps(days=days), "days": days, "periods": GAP_PERIODS}
    return render(request, "knowledge/agent_gaps.html" + ("#gaps" if request.htmx else ""), context)
