"""A plain registry through which apps above tickets add sections to the agent's ticket page.

tickets cannot import the apps above it (outreach, playbooks). Such an app registers a provider at
start-up (``AppConfig.ready``); the ticket page calls each provider with the ticket and the viewer
and renders what it returns: ``{"template": "...html", "context": {...}, "place": "side"|"top"}``.
A provider runs a few bounded queries, never one per row.
"""

from collections.abc import Callable
from typing import Any

from core.types import Viewer

Provider = Callable[[Any, Any], dict[str, Any] | None]

_providers: list[Provider] = []


def register_ticket_panel(provider: Provider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def ticket_panels(*, ticket: Any, viewer: Viewer) -> dict[str, list[dict[str, Any]]]:
    """The registered sections for one ticket page, grouped by where they go."""
    placed: dict[str, list[dict[str, Any]]] = {"top": [], "side": []}
    for provider in _providers:
        section = provider(ticket, viewer)
        if section:
            placed[section.get("place", "side")].append(section)
    return placed
