"""``core.ratelimit`` as a DRF throttle, so the API counts with the pages' counters and settings."""

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.ratelimit import client_key, hit, parse_rate


class RateLimitThrottle(BaseThrottle):
    """``rate`` (a ``HELPDESK`` key or ``"10/m"``) per ``key`` (``"ip"``, ``"user"``) in ``group``; over it DRF
    answers 429 with ``Retry-After``. Subclasses narrow it with ``applies``."""

    rate = "30/m"
    group = ""
    key = "ip"

    def __init__(self) -> None:
        self.retry_after: int | None = None

    def applies(self, request: Request, view: Any) -> bool:
        return True

    def allow_request(self, request: Request, view: Any) -> bool:
        if not self.applies(request, view):
            return True
        group = self.group or f"{type(view).__module__}.{type(view).__qualname__}"
        decision = hit(group=group, client=client_key(request, self.key), rate=parse_rate(self.rate))
        self.retry_after = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return self.retry_after
