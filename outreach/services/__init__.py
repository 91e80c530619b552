"""Writes of the outreach app. Other modules import from here, never from the submodules."""

from outreach.services.campaigns import campaign_cancel, campaign_create, campaign_schedule, campaigns_run
from outreach.services.fanout import fanout_plan_slice, fanout_start, fanouts_resume
from outreach.services.followups import followups_run, survey_answer
from outreach.services.holds import held_deliveries_release
from outreach.services.incidents import (
    incident_declare,
    incident_resolve,
    incident_update_post,
    maintenance_reminders_run,
    maintenance_schedule,
    maintenance_start,
)
from outreach.services.reminders import reminder_rule_run, reminders_run
from outreach.services.templates import segment_save, template_preview, template_save
from outreach.services.ticket_links import (
    incident_link_earlier_tickets,
    incident_link_ticket,
    incident_solve_linked_tickets,
    incidents_link_new_tickets,
)
from outreach.services.unsubscribe import unsubscribe_apply, unsubscribe_target

__all__ = [
    "campaign_cancel",
    "campaign_create",
    "campaign_schedule",
    "campaigns_run",
    "fanout_plan_slice",
    "fanout_start",
    "fanouts_resume",
    "followups_run",
    "held_deliveries_release",
    "incident_declare",
    "incident_link_earlier_tickets",
    "incident_link_ticket",
    "incident_resolve",
    "incident_solve_linked_tickets",
    "incident_update_post",
    "incidents_link_new_tickets",
    "maintenance_reminders_run",
    "maintenance_schedule",
    "maintenance_start",
    "reminder_rule_run",
    "reminders_run",
    "segment_save",
    "survey_answer",
    "template_preview",
    "template_save",
    "unsubscribe_apply",
    "unsubscribe_target",
]
