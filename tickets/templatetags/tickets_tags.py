"""The SLA badge of a ticket: time left to its next target, or how far over, or paused."""

import datetime as dt

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.templatetags.helpdesk import until
from tickets.models import Ticket

register = template.Library()

# constant markup, no user data in it
NONE = mark_safe('<span class="muted">—</span>')
PAUSED = mark_safe('<span class="sla paused">paused</span>')


@register.simple_tag
def sla_badge(ticket: Ticket, now: dt.datetime) -> str:
    due = ticket.next_sla_due_at
    if not ticket.is_unsolved:
        return NONE
    if ticket.sla_paused:
        return PAUSED
    if due is None:
        return NONE
    if due < now:
        return format_html('<span class="sla breached" title="due {}">{} over</span>', due.isoformat(), until(due, now))
    css = "sla soon" if (due - now).total_seconds() < 3600 else "sla"
    return format_html('<span class="{}" title="due {}">{} left</span>', css, due.isoformat(), until(due, now))
