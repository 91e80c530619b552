"""Who may do what: the one place that answers "may this user do X".

A capability is a name (``incident.declare``) mapped onto one Django permission. The groups hold the
permissions (each app's ``migrations/*_permissions.py`` and ``*_capabilities.py``), so an admin can grant
one capability to one person or group without a code change: an on-call agent gets
``outreach.declare_incident`` (or joins the "On call" group) and may declare outages.

Pages use ``capability_required`` (or ``can`` in the view), the API ``core.api.permissions.Can``, the admin
``CapabilityAdminMixin``, and templates ``{% if can.incident_declare %}`` (``core.context_processors``).
Permissions are strings here, so core imports no app above it.

What one person may do on one ticket (see, reply, solve, rate, download: requester, CC, colleague, agent)
is ``tickets.policies``: an agent's rights there come from their queues, not from a capability here.

=====================  ==========================================================  =====  =======
capability             what it allows                                              Agent  Manager
=====================  ==========================================================  =====  =======
incident.declare       declare an outage, announce maintenance, post updates,      no*    yes
                       resolve, mark started, solve linked tickets, link and
                       answer the tickets opened before the declaration (each
                       notifies every affected customer)
campaign.draft         create a draft campaign from a template and a segment       yes    yes
campaign.send          schedule, send and cancel a campaign                        no     yes
template.edit          create and change outreach templates                        no     yes
segment.edit           create and change segments (who a campaign reaches)         no     yes
customer.edit          change a customer record (name, e-mail, organization)       no     yes
organization.edit      change organizations and their e-mail domains (who shares   no     yes
                       tickets with whom)
agent.invite           invite agents and managers, set their queues and role       no     yes
mailbox.edit           add and change mailboxes (support addresses, IMAP log-ins)  no     yes
mail.inbound           hand raw e-mail to the help desk (``POST /api/v1/inbound/``) no     yes
                       and retry failed or quarantined messages
=====================  ==========================================================  =====  =======

\\* granted to the agents of the "On call" group, or to anyone given ``outreach.declare_incident``.
Agents read everything here (templates, segments, campaigns, incidents) and link tickets to incidents.
Playbooks have no models yet; ``playbook.edit`` joins this table with them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.roles import is_agent


@dataclass(frozen=True)
class Capability:
    permission: str
    #: "Only ... may <denied>." is what someone without it is told
    denied: str


CAPABILITIES: dict[str, Capability] = {
    "incident.declare": Capability("outreach.declare_incident", "declare incidents and post updates to customers"),
    "campaign.draft": Capability("outreach.add_campaign", "draft campaigns"),
    "campaign.send": Capability("outreach.send_campaign", "send, schedule or cancel campaigns"),
    "template.edit": Capability("outreach.change_template", "edit templates"),
    "segment.edit": Capability("outreach.change_segment", "edit segments"),
    "customer.edit": Capability("customers.change_customer", "edit customer records"),
    "organization.edit": Capability("customers.change_organization", "edit organizations and their domains"),
    "agent.invite": Capability("core.invite_agent", "invite agents and change their queues or role"),
    "mailbox.edit": Capability("tickets.change_mailbox", "add or change mailboxes"),
    "mail.inbound": Capability("tickets.add_inboundemail", "hand e-mail to the help desk or retry it"),
}


def can(user: Any, capability: str) -> bool:
    """True when ``user`` holds ``capability``. An unknown name is a KeyError: a typo fails loudly."""
    permission = CAPABILITIES[capability].permission
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.has_perm(permission))


def denied_message(capability: str) -> str:
    return f"Only managers may {CAPABILITIES[capability].denied}. Ask a manager if you need this."


def capability_required(capability: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A page for those who hold ``capability``.

    Anonymous users sign in; signed-in non-agents get a 404 (the page does not exist for them); an agent
    without the capability gets a 403 page saying who may do this.
    """
    if capability not in CAPABILITIES:  # a typo fails at import, not at the first request
        raise KeyError(capability)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            if not is_agent(request.user):
                raise Http404
            if not can(request.user, capability):
                return render(request, "agent/forbidden.html", {"message": denied_message(capability)}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class Capabilities:
    """``can.incident_declare`` in a template: a lazy lookup with underscores for dots."""

    def __init__(self, user: Any) -> None:
        self._user = user

    def __getitem__(self, name: str) -> bool:
        key = name.replace("_", ".", 1)
        if key not in CAPABILITIES:
            raise KeyError(name)
        return can(self._user, key)


class CapabilityAdminMixin:
    """The admin asks the same question: adding and changing need ``capability`` (viewing stays a view_ perm)."""

    capability: str = ""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return can(request.user, self.capability) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, self.capability) and super().has_change_permission(request, obj)  # type: ignore[misc]
