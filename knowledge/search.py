"""Searching the knowledge base, and the searches that found nothing (what to write next).

On PostgreSQL, ``websearch_to_tsquery`` over the stored, weighted ``search_vector`` (title A, body B)
with its GIN index. Ranking is bounded (DESIGN.md: ranking every match of a common word at 100k
articles takes 392 ms, ranking the first 2,000 13 ms): the GIN match is cut at
``HELPDESK["SEARCH_RANK_LIMIT"]`` rows in a subquery, only those are ranked, and counts are never
exact beyond it ("1,000+"). On SQLite a ``LIKE`` fallback with the same API ranks title matches
above body matches. Snippets are built by escaping the text first and then adding ``<mark>``.
The visibility rules are the selectors' (``articles_visible_to``).
"""

import datetime as dt
import logging
import re
import string
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery
from django.db import OperationalError, connection, transaction
from django.db.models import Case, Count, F, FloatField, Max, Q, Value, When
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from core.conf import helpdesk_setting
from core.roles import is_agent
from core.types import Viewer
from knowledge.models import Article, SearchLog

MAX_QUERY_LENGTH = 200
logger = logging.getLogger(__name__)
_START, _STOP = "\x02", "\x03"  # highlight sentinels: never in stored text (the services strip control characters)


@dataclass(frozen=True)
class SearchHit:
    article: Article
    rank: float
    title_html: SafeString
    snippet: SafeString


@dataclass(frozen=True)
class SearchResults:
    query: str
    hits: list[SearchHit]
    count: int  # matches found within the bounded work
    more: bool  # the bound was reached: there may be more matches than ``count``

    @property
    def count_display(self) -> str:
        return f"{self.count:,}+" if self.more else f"{self.count:,}"


def search_query_normalize(query: str) -> str:
    return " ".join((query or "").split())[:MAX_QUERY_LENGTH]


def article_search(
    *,
    query: str,
    viewer: Viewer,
    limit: int = 10,
    prefix: bool = False,
    published_only: bool = False,
    snippets: bool = True,
) -> SearchResults:
    """Articles matching ``query`` (websearch syntax: ``"exact phrase"``, ``-exclude``, ``or``), best first.

    ``prefix`` matches the last word as a prefix (search as you type) and ranks a smaller set. Agents also
    find drafts and archived articles unless ``published_only``. Without ``snippets`` (drop-downs) each
    hit's snippet is empty.
    """
    text = search_query_normalize(query)
    cap = int(helpdesk_setting("SEARCH_SUGGEST_RANK_LIMIT" if prefix else "SEARCH_RANK_LIMIT"))
    statuses = (
        list(Article.Status.values) if is_agent(viewer) and not published_only else [Article.Status.PUBLISHED.value]
    )
    if not text or limit <= 0:
        return SearchResults(query=text, hits=[], count=0, more=False)
    if connection.vendor == "postgresql":
        hits, count, more = _search_postgres(
            text=text, statuses=statuses, limit=limit, prefix=prefix, cap=cap, snippets=snippets
        )
    else:
        hits, count, more = _search_fallback(text=text, statuses=statuses, limit=limit, cap=cap, snippets=snippets)
    return SearchResults(query=text, hits=hits, count=count, more=more)


def _prefix_tsquery(text: str) -> str:
    """``'reset' & 'passw':*`` from "reset passw"; words are ``\\w+`` only, so nothing can break the syntax."""
    words = re.findall(r"\w+", text.lower())[:10]
    if not words:
        return ""
    return " & ".join([*(f"'{word}'" for word in words[:-1]), f"'{words[-1]}':*"])


_NEEDS_CHECK = re.compile(r'"|(^|\s)-\S|\sor\s', re.IGNORECASE)


def _loose_tsquery(text: str) -> str:
    """The words of a websearch query without phrases and exclusions: ``('filter' & 'plan') | 'invoice'``."""
    groups = []
    for required, _ in _parse_websearch(text):
        words = [word for term in required for word in re.findall(r"\w+", term.lower())][:10]
        if words:
            groups.append("(" + " & ".join(f"'{word}'" for word in words) + ")")
    return " | ".join(groups)


def _search_postgres(
    *, text: str, statuses: list[str], limit: int, prefix: bool, cap: int, snippets: bool
) -> tuple[list[SearchHit], int, bool]:
    config = helpdesk_setting("SEARCH_CONFIG")
    if prefix:
        query_text, function, search_type = _prefix_tsquery(text), "to_tsquery", "raw"
        loose = ""
    else:
        query_text, function, search_type = text, "websearch_to_tsquery", "websearch"
        loose = ""
        if _NEEDS_CHECK.search(text):  # phrases, exclusions and "or" are checked on rows that have the words
            loose = _loose_tsquery(text)
            if not loose:  # only exclusions or stop words
                return [], 0, False
    if not query_text:
        return [], 0, False
    tsquery = f"{function}(%s::regconfig, %s)"
    if loose:
        # the GIN match on the words is cut at `cap` rows; only those are checked, ranked and counted
        sql = f"""
            WITH candidates AS MATERIALIZED (
                SELECT id, search_vector FROM knowledge_article
                WHERE search_vector @@ to_tsquery(%s::regconfig, %s) AND status = ANY(%s)
                LIMIT %s
            ), matches AS (
                SELECT id, ts_rank(search_vector, {tsquery}) AS rank FROM candidates
                WHERE search_vector @@ {tsquery}
            )
            SELECT id, rank, (SELECT count(*) FROM matches), (SELECT count(*) FROM candidates)
            FROM matches ORDER BY rank DESC, id LIMIT %s
        """  # noqa: S608  (only our own fixed fragments are formatted in; values are parameters)
        params = [config, loose, statuses, cap, config, query_text, config, query_text, limit]
    else:
        # the GIN match is cut at `cap` rows before anything is ranked or counted
        sql = f"""
            WITH candidates AS (
                SELECT id, search_vector FROM knowledge_article
                WHERE search_vector @@ {tsquery} AND status = ANY(%s)
                LIMIT %s
            )
            SELECT id, ts_rank(search_vector, {tsquery}) AS rank, (SELECT count(*) FROM candidates) AS total,
                (SELECT count(*) FROM candidates) AS examined
            FROM candidates ORDER BY rank DESC, id LIMIT %s
        """  # noqa: S608  (only our own fixed fragments are formatted in; values are parameters)
        params = [config, query_text, statuses, cap, config, query_text, limit]
    timeout = int(helpdesk_setting("SEARCH_TIMEOUT_MS"))
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {timeout:d}")
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            cursor.execute("SET LOCAL statement_timeout TO DEFAULT")  # a caller's transaction goes on unlimited
    except OperationalError:  # over the time limit: a pathological query finds nothing rather than hogging
        logger.warning("knowledge search over %s ms: %r", timeout, text)
        return [], 0, False
    if not rows:
        return [], 0, False
    search_query = SearchQuery(query_text, search_type=search_type, config=config)
    options = {"start_sel": _START, "stop_sel": _STOP, "config": config}
    headlines: dict[str, Any] = {"title_marked": SearchHeadline("title", search_query, highlight_all=True, **options)}
    if snippets:
        headlines["body_marked"] = SearchHeadline(
            "body", search_query, max_words=35, min_words=15, max_fragments=2, fragment_delimiter=" … ", **options
        )
    articles: dict[int, Any] = (  # annotated with the headlines
        Article.objects.filter(pk__in=[row[0] for row in rows])
        .defer("search_vector", "body_html")
        .select_related("category")
        .annotate(**headlines)
    ).in_bulk()
    hits = [
        SearchHit(
            article=articles[article_id],
            rank=float(rank),
            title_html=_marked(articles[article_id].title_marked),
            snippet=_marked(_plain(articles[article_id].body_marked) if snippets else ""),
        )
        for article_id, rank, _, _ in rows
        if article_id in articles
    ]
    return hits, int(rows[0][2]), int(rows[0][3]) >= cap


_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)
_TERMS = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')


def _parse_websearch(text: str) -> list[tuple[list[str], list[str]]]:
    """websearch syntax for the fallback: alternatives split by ``or``, each (required terms, excluded terms)."""
    alternatives: list[tuple[list[str], list[str]]] = [([], [])]
    for match in _TERMS.finditer(text):
        negative = bool(match.group(1) or match.group(3))
        if match.group(2) is not None:
            term = " ".join(match.group(2).split())
        else:
            term = match.group(4).strip(string.punctuation)
            if term.lower() == "or" and not negative:
                alternatives.append(([], []))
                continue
            if term.lower() in _STOPWORDS:
                continue
        if term:
            alternatives[-1][1 if negative else 0].append(term)
    return [alternative for alternative in alternatives if alternative[0]]


def _search_fallback(
    *, text: str, statuses: list[str], limit: int, cap: int, snippets: bool
) -> tuple[list[SearchHit], int, bool]:
    alternatives = _parse_websearch(text)
    if not alternatives:
        return [], 0, False
    condition = Q()
    for required, excluded in alternatives:
        branch = Q()
        for term in required:
            branch &= Q(title__icontains=term) | Q(body__icontains=term)
        for term in excluded:
            branch &= ~Q(title__icontains=term) & ~Q(body__icontains=term)
        condition |= branch
    terms = sorted({term for required, _ in alternatives for term in required}, key=len, reverse=True)
    rank: Any = Value(0.0)
    for term in terms:  # title (weight A, 1.0) above body (weight B, 0.4), as ts_rank weighs them
        rank += Case(When(title__icontains=term, then=Value(1.0)), default=Value(0.0), output_field=FloatField())
        rank += Case(When(body__icontains=term, then=Value(0.4)), default=Value(0.0), output_field=FloatField())
    matches = Article.objects.defer("search_vector", "body_html").filter(status__in=statuses).filter(condition)
    count = matches.values("pk")[:cap].count()
    ranked = matches.annotate(rank=rank).select_related("category").order_by("-rank", "pk")[:limit]
    hits = [
        SearchHit(
            article=article,
            rank=float(article.rank),
            title_html=_marked(_highlight(article.title, terms)),
            snippet=_marked(_highlight(_window(_plain(article.body), terms), terms) if snippets else ""),
        )
        for article in ranked
    ]
    return hits, count, count >= cap


_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_BLOCKS = re.compile(r"(^|\s)[#>]+\s|^\s*[-+]\s|\|", re.MULTILINE)
_MARKDOWN_INLINE = re.compile(r"[*`]")


def _plain(markdown: str) -> str:
    """Markdown to a readable line of text for snippets (links keep their text, markup characters go)."""
    text = _MARKDOWN_LINK.sub(r"\1", markdown or "")
    text = _MARKDOWN_INLINE.sub("", _MARKDOWN_BLOCKS.sub(" ", text))
    return " ".join(text.split())


def _window(text: str, terms: list[str], width: int = 240) -> str:
    lower = text.lower()
    positions = [found for found in (lower.find(term.lower()) for term in terms) if found >= 0]
    start = max(0, min(positions) - width // 3) if positions else 0
    if start:
        start = text.find(" ", start) + 1 or start
    end = start + width
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    return ("… " if start else "") + text[start:end] + (" …" if end < len(text) else "")


def _highlight(text: str, terms: list[str]) -> str:
    if not terms:
        return text
    # the fallback matches substrings: mark the whole word each match is in
    pattern = re.compile(r"\w*(?:" + "|".join(re.escape(term) for term in terms) + r")\w*", re.IGNORECASE)
    return pattern.sub(lambda match: f"{_START}{match.group(0)}{_STOP}", text)


def _marked(text: str | None) -> SafeString:
    """Escape everything, then turn the highlight sentinels into ``<mark>``: the only markup added."""
    escaped = escape(text or "")
    opened = escaped.count(_START)
    html = escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")
    if opened > html.count("</mark>"):
        html += "</mark>" * (opened - html.count("</mark>"))
    return mark_safe(html)  # noqa: S308  (escaped above; only <mark> added)


def search_gaps(*, days: int = 30, limit: int = 50, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The most frequent queries that found nothing or led to a ticket: what to write next.

    Search-as-you-type logs are left out: their half-typed words are not gaps.
    """
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return list(
        SearchLog.objects.filter(Q(results_count=0) | Q(ticket_id__isnull=False), created_at__gte=since)
        .exclude(source=SearchLog.Source.TYPEAHEAD)
        .exclude(normalized_query="")
        .values("normalized_query")
        .annotate(
            searches=Count("id"),
            no_results=Count("id", filter=Q(results_count=0)),
            tickets=Count("id", filter=Q(ticket_id__isnull=False)),
            last_searched_at=Max("created_at"),
        )
        .order_by("-searches", F("last_searched_at").desc(), "normalized_query")[:limit]
    )
