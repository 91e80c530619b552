"""A small fixed-window rate limiter on Django's cache, for public endpoints.

    @ratelimit(key="ip", rate="30/m")
    def help_search_view(request): ...

``rate`` is ``"<count>/<period>"`` with the period ``s``, ``m``, ``h`` or ``d``
(optionally with a multiplier, ``"10/5m"``), or the name of a key in
``settings.HELPDESK`` holding such a string (``"RATELIMIT_SEARCH"``), read on
every request so that deployments and tests can change it.

``key`` says who is counted: ``"ip"`` (the client address, see
``HELPDESK["RATELIMIT_TRUSTED_PROXIES"]``), ``"user"`` (the signed-in user,
else the address) or a callable ``(request) -> str``. Each view counts on its
own unless views share a ``group``.

Over the limit the view is not called: the answer is ``429`` rendered from
``429.html`` with a ``Retry-After`` header (seconds until the window ends).
With Redis the counter is atomic; the file and local-memory caches may let a
few extra requests through under heavy concurrency, which is fine for abuse
control.
"""

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window resets


def parse_rate(rate: str) -> Rate:
    text = settings.HELPDESK.get(rate, rate) if "/" not in rate else rate
    match = _RATE.match(str(text))
    if match is None:
        raise ValueError(f"bad rate {text!r}: use '<count>/<s|m|h|d>', e.g. '30/m'")
    count, multiplier, unit = match.groups()
    return Rate(limit=int(count), period=int(multiplier or 1) * _UNITS[unit])


def client_ip(request: HttpRequest) -> str:
    """The client address: ``REMOTE_ADDR``, or the entry our trusted proxies appended to X-Forwarded-For."""
    proxies = int(settings.HELPDESK.get("RATELIMIT_TRUSTED_PROXIES", 0))
    if proxies > 0:
        hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _client_key(request: HttpRequest, key: str | Callable[[HttpRequest], str]) -> str:
    if callable(key):
        return key(request)
    if key == "user":
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"ip:{client_ip(request)}"
    if key == "ip":
        return f"ip:{client_ip(request)}"
    raise ValueError(f"unknown rate-limit key {key!r}: use 'ip', 'user' or a callable")


def hit(*, group: str, client: str, rate: Rate, now: float | None = None) -> Decision:
    """Count one request of ``client`` in ``group`` and say whether it is within ``rate``."""
    now = time.time() if now is None else now
    window = int(now // rate.period)
    digest = hashlib.blake2b(f"{group}|{client}".encode(), digest_size=12).hexdigest()
    cache_key = f"rl:{digest}:{rate.period}:{window}"
    count = 1
    if not cache.add(cache_key, 1, timeout=rate.period + 1):  # the first request of a window writes once
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=rate.period + 1)
    retry_after = max(1, math.ceil((window + 1) * rate.period - now))
    return Decision(allowed=count <= rate.limit, count=count, limit=rate.limit, retry_after=retry_after)


def too_many_requests(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    body = render_to_string("429.html", {"retry_after": retry_after}, request=request)
    response = HttpResponse(body, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def ratelimit(
    *,
    key: str | Callable[[HttpRequest], str] = "ip",
    rate: str = "30/m",
    group: str | None = None,
    methods: tuple[str, ...] | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Limit a view to ``rate`` requests per client (see the module docstring); ``methods`` limits only those."""
    if "/" in rate:
        parse_rate(rate)  # a literal rate is checked at import time

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        name = group or f"{view.__module__}.{view.__qualname__}"

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if methods is None or request.method in methods:
                decision = hit(group=name, client=_client_key(request, key), rate=parse_rate(rate))
                if not decision.allowed:
                    return too_many_requests(request, retry_after=decision.retry_after)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
