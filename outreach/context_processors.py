"""The help-center banner's data: active incidents, cached briefly and read only when a page renders it."""

from typing import Any

from django.core.cache import cache
from django.http import HttpRequest

from core.conf import helpdesk_setting


def _active() -> list[dict[str, Any]]:
    from outreach.selectors import incidents_active  # noqa: PLC0415
    from outreach.services.incidents import BANNER_CACHE_KEY  # noqa: PLC0415

    def load() -> list[dict[str, Any]]:
        return [
            {"id": i.pk, "title": i.title, "kind": i.kind, "severity": i.severity, "message": i.message}
            for i in incidents_active()
        ]

    return cache.get_or_set(BANNER_CACHE_KEY, load, helpdesk_setting("OUTREACH_BANNER_CACHE_SECONDS")) or []


def active_incidents(request: HttpRequest) -> dict[str, Any]:
    # a callable: the template calls it only where the banner is rendered
    return {"active_incidents": _active}
