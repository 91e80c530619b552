"""Crafted input is a 400 naming the field, never a 500 (core.params, core.api.parsers).

Three layers: every input the security issue listed, one by one; every URL of the site walked with every
parameter any view reads by hand (found in the source, so a new one is covered) set to crafted values; and a
rule that views parse ids, numbers and dates only through core.params.
"""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from core.api.parsers import MAX_DEPTH, json_depth
from core.params import MAX_ID
from customers.models import Customer
from tests.factories import CustomerFactory, CustomerUserFactory, ManagerFactory
from tests.knowledge.factories import ArticleFactory
from tests.outreach.factories import SegmentFactory, TemplateFactory
from tests.tickets.factories import MacroFactory, QueueFactory, SavedViewFactory, make_ticket
from tickets.filters import KEYS as FILTER_KEYS

pytestmark = pytest.mark.django_db

BIG = "99999999999999999999"  # past the 64-bit range of every id column
SUPERSCRIPT_TWO = "²"  # "²".isdigit() is True, int("²") raises ValueError
IMPOSSIBLE_DATE = "2020-13-45T00:00:00"


@pytest.fixture
def manager_client():
    client = Client(raise_request_exception=False)
    client.force_login(ManagerFactory())
    return client


@pytest.fixture
def ticket():
    return make_ticket(queue=QueueFactory())


def _field_named(response) -> str | None:
    """The parameter a 400 names: the API's field error, or the page's ``<code class="invalid-parameter">``."""
    if response.get("Content-Type", "").startswith("application/json"):
        fields = response.json().get("extra", {}).get("fields", {})
        return next(iter(fields), None)
    match = re.search(r'<code class="invalid-parameter">([\w-]+)</code>', response.content.decode())
    return match.group(1) if match else None


LISTED = [
    # non-ASCII digits
    ("get", "/agent/", {"saved": SUPERSCRIPT_TWO}, "saved"),
    ("post", "/agent/tickets/bulk/", {"ticket": SUPERSCRIPT_TWO, "action": "status", "value": "open"}, "ticket"),
    ("post", "/agent/tickets/{ticket}/reply/", {"body": "Hi", "expected_version": "1", "macro_id": "²"}, "macro_id"),
    ("post", "/agent/tickets/{ticket}/presence/", {"version": SUPERSCRIPT_TWO}, "version"),
    ("get", "/api/v1/tickets/", {"queue": SUPERSCRIPT_TWO}, "queue"),
    ("get", "/api/v1/tickets/", {"assignee": SUPERSCRIPT_TWO}, "assignee"),
    # beyond the database's range
    ("get", "/agent/", {"organization": BIG}, "organization"),
    ("get", "/api/v1/tickets/", {"queue": BIG}, "queue"),
    ("get", "/api/v1/tickets/", {"organization": BIG}, "organization"),
    ("get", "/api/v1/tickets/", {"assignee": BIG}, "assignee"),
    ("get", "/api/v1/deliveries/", {"customer": BIG}, "customer"),
    ("post", "/agent/tickets/bulk/", {"ticket": BIG, "action": "status", "value": "open"}, "ticket"),
    # impossible dates
    ("get", "/agent/", {"changed_since": IMPOSSIBLE_DATE}, "changed_since"),
    # and a few found on the way
    ("get", "/agent/", {"saved": str(MAX_ID + 1)}, "saved"),
    ("post", "/agent/tickets/{ticket}/macro/", {"macro": SUPERSCRIPT_TWO}, "macro"),
    ("post", "/agent/tickets/{ticket}/reply/", {"body": "", "expected_version": SUPERSCRIPT_TWO}, "expected_version"),
    ("get", "/agent/knowledge/gaps/", {"days": SUPERSCRIPT_TWO}, "days"),
    ("get", "/api/v1/deliveries/", {"customer": SUPERSCRIPT_TWO}, "customer"),
    ("get", "/api/v1/deliveries/", {"status": "nonsense"}, "status"),
    ("get", "/api/v1/incidents/", {"status": "nonsense"}, "status"),
    ("get", "/api/v1/campaigns/", {"status": "nonsense"}, "status"),
    ("get", "/api/v1/tickets/", {"queue": "-1"}, "queue"),
]


@pytest.mark.parametrize(("method", "url", "data", "field"), LISTED, ids=[f"{m} {u} {d}" for m, u, d, _ in LISTED])
def test_each_listed_crafted_input_is_a_400_naming_its_field(manager_client, ticket, method, url, data, field):
    url = url.format(ticket=ticket.pk)
    response = getattr(manager_client, method)(url, data)
    assert response.status_code == 400
    assert _field_named(response) == field


def test_the_page_says_which_parameter_in_words(manager_client):
    response = manager_client.get("/agent/", {"changed_since": IMPOSSIBLE_DATE})
    page = response.content.decode()
    assert response.status_code == 400
    assert "changed_since" in page
    assert "Must be a date and time such as 2026-03-02T09:00:00Z." in page


def test_the_api_answers_a_field_error_like_a_serializers(manager_client):
    response = manager_client.get("/api/v1/tickets/", {"queue": SUPERSCRIPT_TWO})
    assert response.json() == {
        "message": "Validation error",
        "extra": {"fields": {"queue": ["Must be an id: a whole number written with the digits 0-9."]}},
    }


def test_valid_values_still_filter(manager_client, ticket):
    response = manager_client.get("/api/v1/tickets/", {"queue": str(ticket.queue_id), "organization": ""})
    assert [row["id"] for row in response.json()["results"]] == [ticket.pk]
    since = manager_client.get("/agent/", {"changed_since": "2000-01-01T00:00:00Z", "view": "all_open"})
    assert since.status_code == 200


def test_a_saved_view_with_a_crafted_stored_filter_is_a_400_not_a_500(manager_client):
    manager = ManagerFactory()
    saved = SavedViewFactory(owner=manager, filters={"queue": [SUPERSCRIPT_TWO]})
    client = Client(raise_request_exception=False)
    client.force_login(manager)
    response = client.get("/agent/", {"saved": saved.pk})
    assert response.status_code == 400
    assert _field_named(response) == "queue"


# --- JSON bodies --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/tickets/", "/api/v1/customers/", "/api/v1/events/", "/api/v1/auth/token/"])
def test_json_nested_50000_deep_is_a_400(manager_client, url):
    for body in ("[" * 50_000 + "]" * 50_000, '{"a":' * 50_000 + "1" + "}" * 50_000, "[" * 50_000):
        response = manager_client.post(url, body, content_type="application/json")
        assert response.status_code == 400
        assert "nested deeper than 32 levels" in response.json()["message"]


def test_json_at_the_depth_limit_is_parsed(manager_client):
    body = {"subject": "Deep", "body": "x", "requester_email": "deep@client.example", "tags": []}
    nested: object = "leaf"
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    body["extra"] = nested  # an ignored key: the body is 32 levels deep in all
    QueueFactory()
    response = manager_client.post("/api/v1/tickets/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[[[["', 0),
        ('{"a": "]]]", "b": [1, {"c": "\\"[["}]}', 3),
        ("[[],[[]]]", 3),
        ("[" * 40, 40),
        ('"unterminated [[[', 3),
        # escapes: an escaped backslash ends before the quote that closes the string
        ('["\\\\", [[]]]', 3),
        ('{"a": "\\\\\\"[["}', 1),
        ('["é[", {"ü": ["\\u005b"]}]', 3),
    ],
)
def test_json_depth_counts_structure_not_brackets_in_strings(text, depth):
    assert json_depth(text) == depth


# --- duplicate external id ----------------------------------------------------------------------------------


def test_a_duplicate_external_id_is_a_400_on_that_field(manager_client):
    CustomerFactory(email="first@client.example", external_id="acct-1")
    response = manager_client.post(
        "/api/v1/customers/",
        {"email": "second@client.example", "external_id": "acct-1"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"external_id": ["Another customer has this external id."]}
    assert not Customer.objects.filter(email="second@client.example").exists()


def test_the_race_on_the_external_id_is_caught_by_the_unique_constraint(manager_client, monkeypatch):
    # another request inserts the same external id between our check and our insert
    from customers.services import customers as service

    CustomerFactory(email="first@client.example", external_id="acct-2")
    real_filter = Customer.objects.filter

    class _Missed:
        def exists(self) -> bool:
            return False

    def filter_missing_the_check(*args, **kwargs):
        return _Missed() if kwargs == {"external_id": "acct-2"} else real_filter(*args, **kwargs)

    monkeypatch.setattr(service.Customer.objects, "filter", filter_missing_the_check)
    response = manager_client.post(
        "/api/v1/customers/",
        {"email": "second@client.example", "external_id": "acct-2"},
        content_type="application/json",
    )
    monkeypatch.undo()
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["external_id"]
    assert not Customer.objects.filter(email="second@client.example").exists()


def test_the_same_email_with_its_own_external_id_is_the_existing_customer(manager_client):
    existing = CustomerFactory(email="first@client.example", external_id="acct-3")
    response = manager_client.post(
        "/api/v1/customers/",
        {"email": "first@client.example", "external_id": "acct-3"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["id"] == existing.pk


# --- every URL, every parameter read by hand ----------------------------------------------------------------

SOURCES = [
    path
    for app in ("core", "customers", "knowledge", "tickets", "outreach", "playbooks")
    for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py"))
    if "migrations" not in path.parts and ("views" in path.name or path.parent.name == "api")
]
FORMS = sorted(
    path
    for app in ("core", "customers", "knowledge", "tickets", "outreach", "playbooks")
    for path in (Path(settings.BASE_DIR) / app).glob("*forms.py")
)
_PARAMS = r"(?:request\.(?:GET|POST|query_params|data)|params|data)"
# params.get("x"), request.GET.getlist("x"), parse_id(params, "x"), _version(request.POST, "x"), for key in ("x", "y")
_READ = re.compile(rf"""{_PARAMS}\.get(?:list)?\(\s*["']([\w-]+)["']|\(\s*{_PARAMS},\s*["']([\w-]+)["']""")
_LOOPED = re.compile(r"""for \w+ in \(((?:\s*["'][\w-]+["'],?)+)\)""")
_FORM_FIELD = re.compile(r"^    (\w+) = (?:forms\.|MultipleFileField)", re.MULTILINE)


def _parameters_read_by_hand() -> list[str]:
    """Every name a view reads from a query string or body itself, and every form field (forms read them too)."""
    names: set[str] = set()
    for path in SOURCES:
        text = path.read_text()
        names |= {a or b for a, b in _READ.findall(text)}
        for group in _LOOPED.findall(text):
            names |= set(re.findall(r"[\w-]+", group))
    for path in FORMS:
        names |= set(_FORM_FIELD.findall(path.read_text()))
    names |= FILTER_KEYS  # the queue's filters, read for the page and the API by tickets.filters
    return sorted(names)


def _patterns(patterns=None, prefix: str = ""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


#: not ours to parse, or not a page: Django's admin, the generated OpenAPI documents, the sign-out
SKIPPED = ("admin/", "api/schema/", "api/docs/", "api/redoc/", "accounts/logout/")
CRAFTED = [SUPERSCRIPT_TWO, BIG, IMPOSSIBLE_DATE]


def test_the_walk_knows_the_parameters_the_issue_named():
    assert {"saved", "ticket", "macro_id", "version", "queue", "assignee", "organization", "customer",
            "changed_since"} <= set(_parameters_read_by_hand())  # fmt: skip


def _urls(ids: dict[str, int]) -> list[str]:
    """Every URL of the site but ``SKIPPED``, its int parts filled from ``ids`` (else out of range)."""
    urls = []
    for route in _patterns():
        if route.startswith(SKIPPED):
            continue

        def fill(match: re.Match) -> str:
            converter, name = match.group(1) or "str", match.group(2)
            if converter == "int":
                return str(ids.get(name, MAX_ID + 1))
            return "article-1" if converter == "slug" else "not-a-token"

        urls.append("/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route))
    return sorted(set(urls))


def _walk(client: Client, url: str, parameters: list[str], failures: list[str]) -> None:
    for value in CRAFTED:
        for method in ("get", "post"):
            # every parameter at once; a 400 naming one drops it, so the next reader is reached too
            data = dict.fromkeys(parameters, value)
            for _ in range(len(parameters) + 1):
                response = getattr(client, method)(url, data)
                if response.status_code >= 500:
                    failures.append(f"{method.upper()} {url} {value!r}: {response.status_code}")
                    break
                named = _field_named(response) if response.status_code == 400 else None
                if named not in data:
                    break
                del data[named]


def test_every_url_answers_crafted_parameters_without_a_500():
    # given one of everything an id in a URL can name
    manager = ManagerFactory()
    customer_user = CustomerUserFactory()
    ticket = make_ticket(queue=QueueFactory(), requester=customer_user.customer)
    article = ArticleFactory(slug="article-1")
    ids = {
        "ticket_id": ticket.pk,
        "message_id": ticket.messages.first().pk,
        "customer_id": ticket.requester_id,
        "article_id": article.pk,
        "template_id": TemplateFactory().pk,
        "segment_id": SegmentFactory().pk,
    }
    MacroFactory()
    parameters = _parameters_read_by_hand()
    failures: list[str] = []
    for user in (manager, customer_user):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        for url in _urls(ids):
            _walk(client, url, parameters, failures)
        for url in _urls({}):  # ids past the 64-bit range in the path: a 404, never an overflow
            for method in ("get", "post"):
                if getattr(client, method)(url).status_code >= 500:
                    failures.append(f"{method.upper()} {url}")
    assert failures == []


# --- the rule -----------------------------------------------------------------------------------------------

_HAND_PARSING = re.compile(
    r"\.isdigit\(\)|\bint\((?:request|params|value|pk|macro_id|customer)\b|dateparse|fromisoformat"
)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(settings.BASE_DIR)) for p in SOURCES])
def test_views_parse_ids_numbers_and_dates_only_through_core_params(path):
    offending = [
        f"{path.name}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if _HAND_PARSING.search(line)
    ]
    assert offending == [], "use core.params (parse_id, parse_int, parse_datetime, ...)"
