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

Sign-in failures (every password check: the sign-in page, the API token
endpoint, the admin's sign-in) are counted by the same counters, as
django-axes does in its "combination" mode, from ``core.auth.EmailBackend``:

- per (address, account), tightly (``RATELIMIT_SIGN_IN_ACCOUNT``, 5 per 15
  minutes): past it that account is locked *from that address*, even with
  the right password, until the window ends; a success clears the count;
- per address, loosely (``RATELIMIT_SIGN_IN_IP``, 50 per 15 minutes): past
  it every *wrong* password from that address answers 429. A right password
  for an account that is not itself locked still signs in: one person's
  mistakes (or an attacker's guesses) behind an office's shared address never
  lock a colleague out. The price is that the loose limit slows nobody who
  guesses right; the tight one is what bounds guessing per account.

``sign_in_limited(view)`` wraps a view that checks passwords and turns a
lock-out noted by the backend into the 429 (JSON for the API).
"""

import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.conf import helpdesk_setting

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


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
    # a setting's name (upper case) is looked up, so a misspelt one says so instead of "bad rate"
    text = helpdesk_setting(rate) if _SETTING_NAME.match(rate) else rate
    match = _RATE.match(str(text))
    if match is None:
        raise ValueError(f"bad rate {text!r}: use '<count>/<s|m|h|d>', e.g. '30/m'")
    count, multiplier, unit = match.groups()
    return Rate(limit=int(count), period=int(multiplier or 1) * _UNITS[unit])


def client_ip(request: HttpRequest) -> str:
    """The client address: ``REMOTE_ADDR``, or the entry our trusted proxies appended to X-Forwarded-For."""
    proxies = int(helpdesk_setting("RATELIMIT_TRUSTED_PROXIES"))
    if proxies > 0:
        hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def client_key(request: HttpRequest, key: str | Callable[[HttpRequest], str]) -> str:
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


def _cache_key(group: str, client: str, rate: Rate, window: int) -> str:
    digest = hashlib.blake2b(f"{group}|{client}".encode(), digest_size=12).hexdigest()
    return f"rl:{digest}:{rate.period}:{window}"


def hit(*, group: str, client: str, rate: Rate, now: float | None = None) -> Decision:
    """Count one request of ``client`` in ``group`` and say whether it is within ``rate``."""
    now = time.time() if now is None else now
    window = int(now // rate.period)
    cache_key = _cache_key(group, client, rate, window)
    count = 1
    if not cache.add(cache_key, 1, timeout=rate.period + 1):  # the first request of a window writes once
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=rate.period + 1)
    retry_after = max(1, math.ceil((window + 1) * rate.period - now))
    return Decision(allowed=count <= rate.limit, count=count, limit=rate.limit, retry_after=retry_after)


def peek(*, group: str, client: str, rate: Rate, now: float | None = None) -> Decision:
    """Like ``hit`` without counting: would one more request of ``client`` in ``group`` be within ``rate``?"""
    now = time.time() if now is None else now
    window = int(now // rate.period)
    count = int(cache.get(_cache_key(group, client, rate, window)) or 0)
    retry_after = max(1, math.ceil((window + 1) * rate.period - now))
    return Decision(allowed=count < rate.limit, count=count, limit=rate.limit, retry_after=retry_after)


def reset(*, group: str, client: str, rate: Rate, now: float | None = None) -> None:
    """Forget ``client``'s count in ``group`` for the current window."""
    now = time.time() if now is None else now
    cache.delete(_cache_key(group, client, rate, int(now // rate.period)))


def too_many_requests(request: HttpRequest, *, retry_after: int, reason: str = "") -> HttpResponse:
    body = render_to_string("429.html", {"retry_after": retry_after, "reason": reason}, request=request)
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
                decision = hit(group=name, client=client_key(request, key), rate=parse_rate(rate))
                if not decision.allowed:
                    return too_many_requests(request, retry_after=decision.retry_after)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# --- sign-in failures ------------------------------------------------------------------------------------

SIGN_IN_ACCOUNT = "sign-in-account"
SIGN_IN_IP = "sign-in-ip"
_LOCKED_ATTR = "sign_in_retry_after"


def _sign_in_clients(request: HttpRequest, username: str) -> tuple[str, str]:
    ip = client_ip(request)
    return f"ip:{ip}|account:{username.strip().lower()}", f"ip:{ip}"


def _django_request(request: Any) -> HttpRequest | None:
    """The HttpRequest under a DRF Request (``authenticate`` gets either)."""
    return getattr(request, "_request", request) if request is not None else None


def _note_locked(request: Any, retry_after: int) -> None:
    target = _django_request(request)
    if target is not None:
        setattr(target, _LOCKED_ATTR, max(retry_after, getattr(target, _LOCKED_ATTR, 0)))


def sign_in_locked(request: Any, username: str) -> bool:
    """Is this account locked from this address? Noted on the request for ``sign_in_limited``'s 429."""
    target = _django_request(request)
    if target is None:
        return False
    pair, _ = _sign_in_clients(target, username)
    decision = peek(group=SIGN_IN_ACCOUNT, client=pair, rate=parse_rate("RATELIMIT_SIGN_IN_ACCOUNT"))
    if not decision.allowed:
        _note_locked(target, decision.retry_after)
    return not decision.allowed


def sign_in_failed(request: Any, username: str) -> None:
    """Count a wrong password; past either limit the answer becomes a 429 (see the module docstring)."""
    target = _django_request(request)
    if target is None:
        return
    pair, ip = _sign_in_clients(target, username)
    account = hit(group=SIGN_IN_ACCOUNT, client=pair, rate=parse_rate("RATELIMIT_SIGN_IN_ACCOUNT"))
    address = hit(group=SIGN_IN_IP, client=ip, rate=parse_rate("RATELIMIT_SIGN_IN_IP"))
    if not address.allowed:
        _note_locked(target, address.retry_after)
    if account.count >= account.limit:
        _note_locked(target, account.retry_after)


def sign_in_succeeded(request: Any, username: str) -> None:
    """A right password clears the account's count from this address (not the address's)."""
    target = _django_request(request)
    if target is not None:
        pair, _ = _sign_in_clients(target, username)
        reset(group=SIGN_IN_ACCOUNT, client=pair, rate=parse_rate("RATELIMIT_SIGN_IN_ACCOUNT"))


SIGN_IN_LOCKED_MESSAGE = "Too many failed sign-ins from your address. Try again later."


def sign_in_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer 429 with ``Retry-After`` when the password check in ``view`` hit a sign-in limit.

    The page gets ``429.html``; the API (a path under ``/api/``) gets ``{"message", "extra"}`` as JSON.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        retry_after = getattr(request, _LOCKED_ATTR, 0)
        if not retry_after:
            return response
        if request.path.startswith("/api/"):
            body = {"message": SIGN_IN_LOCKED_MESSAGE, "extra": {"retry_after": retry_after}}
            locked = JsonResponse(body, status=429)
            locked["Retry-After"] = str(retry_after)
            return locked
        return too_many_requests(request, retry_after=retry_after, reason=SIGN_IN_LOCKED_MESSAGE)

    return wrapper
