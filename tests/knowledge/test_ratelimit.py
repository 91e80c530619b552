"""core.ratelimit: the reusable limiter the public knowledge endpoints use (tested here, where it was built)."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from core.ratelimit import Rate, client_ip, hit, parse_rate, ratelimit


def test_rates_parse():
    assert parse_rate("30/m") == Rate(limit=30, period=60)
    assert parse_rate("10/5m") == Rate(limit=10, period=300)
    assert parse_rate("1/d") == Rate(limit=1, period=86400)
    with pytest.raises(ValueError, match="bad rate"):
        parse_rate("30 per minute")


def test_rates_can_name_a_helpdesk_setting(settings):
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_SEARCH": "5/h"}
    assert parse_rate("RATELIMIT_SEARCH") == Rate(limit=5, period=3600)


def test_a_window_allows_the_limit_then_says_when_to_retry():
    rate = Rate(limit=2, period=60)
    decisions = [hit(group="g", client="c", rate=rate, now=1_000_050.5) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[-1].retry_after == 30  # the window is 1_000_020 to 1_000_080
    assert hit(group="g", client="other", rate=rate, now=1_000_050.5).allowed
    assert hit(group="other", client="c", rate=rate, now=1_000_050.5).allowed
    assert hit(group="g", client="c", rate=rate, now=1_000_080).allowed  # the next window


def test_the_decorator_answers_429_with_retry_after_and_skips_the_view():
    calls = []

    @ratelimit(key="ip", rate="1/m")
    def view(request):
        calls.append(request)
        return HttpResponse("ok")

    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1")
    assert view(request).status_code == 200
    response = view(request)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert b"Too many requests" in response.content
    assert len(calls) == 1


def test_methods_limits_only_those_methods():
    @ratelimit(key="ip", rate="1/m", methods=("POST",))
    def view(request):
        return HttpResponse("ok")

    factory = RequestFactory()
    assert [view(factory.get("/")).status_code for _ in range(3)] == [200, 200, 200]
    assert [view(factory.post("/")).status_code for _ in range(2)] == [200, 429]


def test_the_client_address_comes_from_trusted_proxies_only(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "10.0.0.1"
    settings.HELPDESK = {**settings.HELPDESK, "RATELIMIT_TRUSTED_PROXIES": 1}
    assert client_ip(request) == "203.0.113.7"
