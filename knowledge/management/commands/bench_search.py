"""Benchmark the help-center search at scale (PostgreSQL only; a benchmark, not a test).

    DATABASE_URL=postgres://.../knowledge_bench manage.py migrate
    DATABASE_URL=postgres://.../knowledge_bench manage.py bench_search --articles 100000

Loads generated published articles with COPY (skipped when they are already
there), computes the weighted search vectors in one SQL UPDATE, builds the GIN
index afterwards, then times the help-center search page and the
search-as-you-type endpoint through ``django.test.Client`` (in process: the
figures are server time) over ~100 queries of varied words, including the most
common one. Target: p95 under 30 ms.
"""

import random
import statistics
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.conf import helpdesk_setting

SLUG_PREFIX = "bench-"
# a support-flavoured vocabulary, most frequent first (Zipf-distributed), then a long tail of made-up words
COMMON = [
    "account",
    "password",
    "invoice",
    "export",
    "report",
    "billing",
    "team",
    "workspace",
    "user",
    "settings",
    "dashboard",
    "payment",
    "plan",
    "integration",
    "token",
    "webhook",
    "email",
    "notification",
    "sign",
    "error",
    "import",
    "data",
    "customer",
    "project",
    "permission",
    "role",
    "mobile",
    "app",
    "browser",
    "security",
    "login",
    "access",
    "subscription",
    "refund",
    "download",
    "upload",
    "file",
    "csv",
    "api",
    "limit",
    "schedule",
    "alert",
    "chart",
    "filter",
    "search",
    "share",
    "link",
    "member",
    "invite",
    "admin",
    "owner",
    "profile",
    "language",
    "timezone",
    "backup",
    "restore",
    "delete",
    "archive",
    "sync",
    "calendar",
    "slack",
    "domain",
    "certificate",
    "session",
    "device",
    "update",
    "version",
]
MOST_COMMON = COMMON[0]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pre", "dor", "lin", "gat", "fu", "zen", "qua", "bri"]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Command(BaseCommand):
    help = "Load N published articles into PostgreSQL and time the help-center search and search-as-you-type."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--articles", type=int, default=100_000)
        parser.add_argument("--queries", type=int, default=100)
        parser.add_argument("--reload", action="store_true", help="Delete and load the generated articles again.")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_search needs PostgreSQL: set DATABASE_URL=postgres://...")
        if settings.DEBUG:
            self.stderr.write("DEBUG is on: every query is kept in memory and timings are worse; prefer DEBUG off.")
        rng = random.Random(options["seed"])
        words = _vocabulary(rng, 5000)
        weights = [1 / (rank + 1) for rank in range(len(words))]
        from knowledge.models import Article  # noqa: PLC0415

        have = Article.objects.filter(slug__startswith=SLUG_PREFIX, status="published").count()
        if options["reload"] or have < options["articles"]:
            self._load(rng, words, weights, options["articles"])
        total = Article.objects.filter(status="published").count()
        self.stdout.write(f"articles: {total:,} published")
        self._measure(rng, words, options["queries"])

    # -------------------------------------------------------------------------------------------- load

    def _load(self, rng: random.Random, words: list[str], weights: list[float], count: int) -> None:
        cumulative: list[float] = []
        running = 0.0
        for weight in weights:
            running += weight
            cumulative.append(running)

        def text(n: int) -> str:
            return " ".join(rng.choices(words, cum_weights=cumulative, k=n))

        now = timezone.now()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE knowledge_searchlog SET opened_article_id = NULL WHERE opened_article_id IS NOT NULL"
            )
            cursor.execute("DELETE FROM knowledge_article WHERE slug LIKE %s", [SLUG_PREFIX + "%"])
            cursor.execute("DROP INDEX IF EXISTS knowledge_article_search_gin")
            columns = ("title, slug, body, body_html, status, created_at, updated_at, published_at, view_count, "
                       "helpful_yes_count, helpful_no_count")  # fmt: skip
            with cursor.cursor.copy(f"COPY knowledge_article ({columns}) FROM STDIN") as copy:
                for index in range(count):
                    title = text(rng.randint(3, 8)).capitalize()
                    body = ". ".join(text(rng.randint(8, 16)).capitalize() for _ in range(rng.randint(4, 10))) + "."
                    copy.write_row((title, f"{SLUG_PREFIX}{index}", body, f"<p>{body}</p>", "published", now, now,
                                    now, rng.randint(0, 5000), 0, 0))  # fmt: skip
            loaded = time.perf_counter()
            self.stdout.write(f"COPY {count:,} articles: {loaded - started:.1f} s")
            config = helpdesk_setting("SEARCH_CONFIG")
            # the same vector as knowledge.services._refresh_search_vector, for every row at once
            cursor.execute(
                "UPDATE knowledge_article SET search_vector = "
                "setweight(to_tsvector(%s::regconfig, coalesce(title, '')), 'A') || "
                "setweight(to_tsvector(%s::regconfig, coalesce(body, '')), 'B') WHERE slug LIKE %s",
                [config, config, SLUG_PREFIX + "%"],
            )
            vectors = time.perf_counter()
            self.stdout.write(f"search vectors: {vectors - loaded:.1f} s")
            cursor.execute("CREATE INDEX knowledge_article_search_gin ON knowledge_article USING gin (search_vector)")
            cursor.execute("VACUUM ANALYZE knowledge_article")
            self.stdout.write(f"GIN index and analyze: {time.perf_counter() - vectors:.1f} s")

    # -------------------------------------------------------------------------------------------- measure

    def _queries(self, rng: random.Random, words: list[str], n: int) -> list[str]:
        queries = [MOST_COMMON] * 10  # the worst case: (nearly) every article matches
        queries += rng.sample(COMMON[1:], 20)  # common words
        queries += [f"{a} {b}" for a, b in zip(rng.sample(COMMON, 15), rng.sample(COMMON, 15), strict=True)]
        queries += rng.sample(words[100:1000], 20)  # middling
        queries += rng.sample(words[3000:], 15)  # rare
        queries += [f'"{a} {b}"' for a, b in zip(rng.sample(COMMON, 5), rng.sample(COMMON, 5), strict=True)]
        queries += [f"{a} -{b}" for a, b in zip(rng.sample(COMMON, 5), rng.sample(COMMON, 5), strict=True)]
        queries += ["zzqxv", "kubernetes", "how do i", "sso saml okta", "refund policy"]  # nothing / stop words
        rng.shuffle(queries)
        return queries[:n]

    def _measure(self, rng: random.Random, words: list[str], n: int) -> None:
        client = Client()
        search_url, suggest_url = reverse("help-search"), reverse("help-search-suggest")
        queries = self._queries(rng, words, n)
        for query in queries[:10]:  # warm caches and connections
            client.get(search_url, {"q": query}, secure=True, REMOTE_ADDR="10.255.0.1")
        timings: dict[str, list[float]] = {"search": [], "suggest": [], "search-common": [], "suggest-common": []}
        for index, query in enumerate(queries):
            address = f"10.{index // 250}.{index % 250}.1"  # one client per query: the rate limit does not trip
            started = time.perf_counter()
            response = client.get(search_url, {"q": query}, secure=True, REMOTE_ADDR=address)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            timings["search"].append(elapsed)
            typed = query[: max(3, len(query) - 2)]  # mid-word, as when typing
            started = time.perf_counter()
            response = client.get(suggest_url, {"q": typed}, secure=True, REMOTE_ADDR=address,
                                  headers={"HX-Request": "true"})  # fmt: skip
            suggest_elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            timings["suggest"].append(suggest_elapsed)
            if query == MOST_COMMON:
                timings["search-common"].append(elapsed)
                timings["suggest-common"].append(suggest_elapsed)
        self.stdout.write(f"{len(queries)} queries; most common word {MOST_COMMON!r}; times in ms (server, in process)")
        for name, values in timings.items():
            if not values:
                continue
            ordered = sorted(values)
            p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
            self.stdout.write(
                f"  {name:15} n={len(values):3}  median {statistics.median(values):6.1f}  p95 {p95:6.1f}  "
                f"max {ordered[-1]:6.1f}"
            )
        slowest = sorted(zip(timings["search"], queries, strict=True), reverse=True)[:5]
        self.stdout.write("  slowest searches: " + ", ".join(f"{query!r} {ms:.0f}" for ms, query in slowest))
        ordered = sorted(timings["search"] + timings["suggest"])
        p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
        verdict = "meets" if p95 < 30 else "MISSES"
        self.stdout.write(self.style.SUCCESS(f"p95 over both endpoints {p95:.1f} ms: {verdict} the 30 ms target"))
